"""Secrets: the token never appears in a task log, an exception, an XCom or a rendered template field.

A DAG runs with dag.test() against the emulator with a distinctive token: a templated blocking task, a
deferred task, and a task whose server answer echoes the token back in its error message. Everything
captured (stdout, stderr, every XCom, every rendered template field) is grepped for the token.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from cdata_sync_emulator import CDataSyncEmulator

from tests.integration.faults.conftest import JOB, OTHER_JOB, TOKEN, Jobs
from tests.system.conftest import airflow_db  # noqa: F401 - the fixture, for dag.test()

ECHO = {
    "error": {"code": "Boom", "message": f"internal error for token {TOKEN} (x-cdata-authtoken: {TOKEN})"}
}

DAG_FILE = f'''
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_cdata_sync.operators.cdata_sync import (
    CDataSyncRunJobOperator,
    CDataSyncRunTransformationOperator,
)

with DAG("faults_secrets", start_date=datetime(2026, 1, 1), schedule=None, params={{"job": "{JOB}"}}):
    templated = CDataSyncRunJobOperator(
        task_id="templated_ok", job="{{{{ params.job }}}}", check_interval=0.2, deferrable=False
    )
    deferred = CDataSyncRunJobOperator(
        task_id="deferred_ok", job="{OTHER_JOB}", check_interval=0.2, deferrable=True
    )
    echoed = CDataSyncRunTransformationOperator(
        task_id="server_echoes_token", transformation="DemoCustomerRevenue", deferrable=False
    )
    templated >> deferred >> echoed
'''


def _rows(dag_run: Any) -> tuple[list[Any], list[Any]]:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        xcoms = [
            (row.task_id, row.key, row.value)
            for row in session.query(XComModel).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id)
        ]
        fields = session.query(RenderedTaskInstanceFields).filter_by(
            dag_id=dag_run.dag_id, run_id=dag_run.run_id
        )
        rendered = [(row.task_id, row.rendered_fields) for row in fields]
    return xcoms, rendered


def test_dag_run_never_shows_the_token(
    server: CDataSyncEmulator,
    jobs: Jobs,
    airflow_db: None,  # noqa: F811
    capfd: pytest.CaptureFixture[str],
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    folder = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    (folder / "faults_secrets_dag.py").write_text(DAG_FILE)
    server.inject_fault(r"/transformations/[^/]+/execute$", method="POST", status=500, body=ECHO)
    dag = DagBag(str(folder)).get_dag("faults_secrets")
    capfd.readouterr()

    dag_run = dag.test()
    out, err = capfd.readouterr()

    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert states == {"templated_ok": "success", "deferred_ok": "success", "server_echoes_token": "failed"}
    assert "internal error for token ***" in out  # the server's message is shown, scrubbed
    xcoms, rendered = _rows(dag_run)
    assert {"templated_ok", "deferred_ok"} <= {task for task, _key, _value in xcoms}
    assert ("templated_ok", JOB) in [(task, fields.get("job")) for task, fields in rendered]
    captured = {
        "stdout": out,
        "stderr": err,
        "xcom": json.dumps(xcoms, default=str),
        "rendered": json.dumps(rendered, default=str),
    }
    for name, text in captured.items():
        assert TOKEN not in text, f"the token leaked into {name}"
