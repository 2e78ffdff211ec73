"""End-to-end fixtures: a migrated Airflow DB, the seeded emulator, and a DAG runner via dag.test()."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cdata_sync_emulator import CDataSyncEmulator

TOKEN = "e2e-secret-token-5f1c"


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Create the Airflow metadata DB once."""
    from airflow.utils import db

    db.initdb()


#: The matrix: each CData Sync dialect with the API versions a connection can meet it on. ``pascal`` is a v2
#: shape and ``v1-real`` a v1 shape; the other pairs would only repeat the default dialect's answers.
DIALECT_VERSIONS: dict[str, tuple[str, ...]] = {
    "default": ("v2", "v1", "auto"),
    "pascal": ("v2", "auto"),
    "v1-real": ("v1",),
}


@pytest.fixture(scope="session", params=list(DIALECT_VERSIONS))
def demo_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CDataSyncEmulator]:
    """The seeded demo emulator, once per dialect (scheduler off: tests start runs themselves)."""
    dialect = str(request.param)
    data_dir = tmp_path_factory.mktemp(f"emulator-{dialect}")
    with CDataSyncEmulator(data_dir, TOKEN, seed_demo=True, scheduler=False, dialect=dialect) as server:
        yield server


@pytest.fixture(params=["v2", "v1", "auto"])
def api_version(request: pytest.FixtureRequest) -> str:
    """The API version the connection asks for: each end-to-end test runs with every one its dialect has."""
    return str(request.param)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the dialect x API version pairs that are not a real server's shape (see DIALECT_VERSIONS)."""
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        dialect, version = params.get("demo_server"), params.get("api_version")
        if dialect in DIALECT_VERSIONS and version is not None and version not in DIALECT_VERSIONS[dialect]:
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture
def emulator(
    demo_server: CDataSyncEmulator, api_version: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CDataSyncEmulator]:
    """The demo emulator, wired to the connection ``cdata_sync_default``; faults and speed reset after."""
    conn = {
        "conn_type": "cdata_sync",
        "host": demo_server.base_url,
        "password": demo_server.token,
        "extra": {"api_version": api_version},
    }
    monkeypatch.setenv("AIRFLOW_CONN_CDATA_SYNC_DEFAULT", json.dumps(conn))
    yield demo_server
    demo_server.clear_faults()
    demo_server.set_speed(rows_per_second=None, min_run_seconds=0.0)
    demo_server.wait_idle(30)


@dataclass
class DagResult:
    """What a dag.test() run left behind."""

    dag_run: Any
    states: dict[str, str]
    output: str

    def xcom(self, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        """An XCom value of a task of this run."""
        from airflow.utils.session import create_session

        try:
            from airflow.models.xcom import XComModel
        except ImportError:  # Airflow 2.11: the ORM class deserialises through XCom.get_one
            from airflow.models.xcom import XCom

            return XCom.get_one(
                dag_id=self.dag_run.dag_id,
                run_id=self.dag_run.run_id,
                task_id=task_id,
                key=key,
                map_index=map_index,
            )

        with create_session() as session:
            row = (
                session.query(XComModel)
                .filter_by(dag_id=self.dag_run.dag_id, run_id=self.dag_run.run_id, task_id=task_id, key=key)
                .filter_by(map_index=map_index)
                .one_or_none()
            )
            if row is None:
                return None
            return row.value


def repoint_closed_log_streams() -> None:
    """Airflow 2 binds its log handlers to the stderr of the test that logged first; pytest closes that
    stream when the test ends, and later task output would be lost ("--- Logging error ---")."""
    loggers = [logging.getLogger()] + [
        item for item in logging.Logger.manager.loggerDict.values() if isinstance(item, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and getattr(stream, "closed", False):
                handler.stream = sys.stderr  # not setStream: it would flush the closed one


@pytest.fixture
def run_dag(airflow_db: None, capfd: pytest.CaptureFixture[str]) -> Any:
    """Run a DAG of the DAG folder with dag.test() and return its states, XComs and captured log."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert not bag.import_errors, bag.import_errors

    def run(dag_id: str, conf: dict[str, Any] | None = None) -> DagResult:
        dag = bag.get_dag(dag_id)
        repoint_closed_log_streams()
        capfd.readouterr()
        dag_run = dag.test(run_conf=conf)
        captured = capfd.readouterr()
        output = captured.out + captured.err  # Airflow 3 logs tasks to stdout, 2.11 to stderr
        states = {
            (ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"): str(ti.state)
            for ti in dag_run.get_task_instances()
        }
        return DagResult(dag_run, states, output)

    return run


def destination_rows(server: CDataSyncEmulator, table: str) -> int:
    """Rows in a table of the demo warehouse."""
    from cdata_sync_emulator.testing import count_rows

    return count_rows(Path(server.data_dir) / "demo" / "warehouse.db", table)
