"""OpenLineage from real dag.test() runs against the emulators: the OpenLineage provider's listener calls
the operators' ``get_openlineage_facets_on_complete``/``_on_failure`` and writes the events with its file
transport; the events are parsed back with the OpenLineage client's own model, and their datasets, row
counts and run facets are checked against what the emulator replicated (its run records and the
destination SQLite files)."""

from __future__ import annotations

import os
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import pytest
from ol_helpers import events_of, outputs_by_name, parse, round_trip

from tests.helpers import demo_sync_definition

pytest.importorskip("airflow.providers.openlineage")
pytest.importorskip("airflow.sdk")

DAGS = textwrap.dedent(
    """
    from datetime import datetime

    from airflow.sdk import DAG, task

    from airflow_provider_cdata_sync.hooks.cdata_sync import CDataSyncHook
    from airflow_provider_cdata_sync.operators.aisquared import AISquaredRunSyncOperator
    from airflow_provider_cdata_sync.operators.cdata_sync import (
        CDataSyncRunJobOperator,
        CDataSyncRunPipelineOperator,
        CDataSyncRunTransformationOperator,
    )

    def dag(name):
        return DAG(name, start_date=datetime(2026, 1, 1), schedule=None)

    with dag("lineage_job"):
        CDataSyncRunJobOperator(task_id="replicate", job="DemoReplication", check_interval=0.3)

    with dag("lineage_prefixed_job"):
        CDataSyncRunJobOperator(task_id="replicate", job="LineagePrefixed", check_interval=0.3)

    with dag("lineage_broken_job"):
        CDataSyncRunJobOperator(task_id="replicate", job="DemoBrokenReplication", check_interval=0.3)

    with dag("lineage_transformation"):
        CDataSyncRunTransformationOperator(
            task_id="revenue", transformation="DemoCustomerRevenue", check_interval=0.3
        )

    with dag("lineage_pipeline"):
        CDataSyncRunPipelineOperator(task_id="pipeline", pipeline="DemoPipeline", check_interval=0.3)

    with dag("lineage_deferred_job"):
        CDataSyncRunJobOperator(
            task_id="replicate", job="DemoReplication", check_interval=0.3, deferrable=True
        )

    with dag("lineage_aisquared"):
        AISquaredRunSyncOperator(
            task_id="sync", sync_id="{{ dag_run.conf['sync_id'] }}", check_interval=0.3
        )

    with dag("lineage_hook"):
        @task
        def replicate_with_the_hook():
            run = CDataSyncHook().run_and_wait("job", "LineageCsv", poll_interval=0.3, timeout=60)
            return run.status

        replicate_with_the_hook()
    """
)


@pytest.fixture(scope="module")
def bag() -> Any:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    db.initdb()
    folder = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    (folder / "lineage_test_dags.py").write_text(DAGS)
    dagbag = DagBag(str(folder))
    assert not dagbag.import_errors, dagbag.import_errors
    return dagbag


@pytest.fixture
def run_dag(bag: Any, cdata_sync_connection: Any) -> Any:
    def run(dag_id: str, conf: dict[str, Any] | None = None) -> str:
        dag_run = bag.get_dag(dag_id).test(run_conf=conf)
        (ti, *_) = dag_run.get_task_instances()
        return str(ti.state)

    return run


def _job_id(server: Any, name: str) -> str:
    return next(job["id"] for job in server.state()["jobs"] if job["name"] == name)


def _last_run(server: Any, job_name: str) -> dict[str, Any]:
    return server.runs(job_id=_job_id(server, job_name))[-1]


def _event(job: str, kind: str) -> tuple[dict[str, Any], Any]:
    found = events_of(job, kind)
    assert found, f"no {kind} event for {job}"
    raw = found[-1]
    return raw, parse(raw)


def _table_columns(db: Path, table: str) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db)
    try:
        return [(row[1], row[2]) for row in conn.execute(f'PRAGMA table_info("{table}")')]
    finally:
        conn.close()


def _count(db: Path, table: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
    finally:
        conn.close()


def _host(server: Any) -> str:
    return server.base_url.split("://", 1)[1].rstrip("/")


def test_a_job_run_emits_one_input_and_one_output_per_task_with_rows_schema_and_run_facets(
    run_dag: Any, cdata_sync_emulator: Any
) -> None:
    assert run_dag("lineage_job") == "success"
    run = _last_run(cdata_sync_emulator, "DemoReplication")
    raw, event = _event("lineage_job.replicate", "COMPLETE")
    assert round_trip(raw)["outputs"] == raw["outputs"]  # the client's model parses and serialises it
    assert round_trip(raw)["run"]["facets"]["cdataSync"] == raw["run"]["facets"]["cdataSync"]
    host = _host(cdata_sync_emulator)
    warehouse = f"sqlite://{host}/demo/warehouse.db"
    source = f"sqlite://{host}/demo/source.db"
    tables = ["customers", "products", "orders", "order_items"]
    assert sorted((d.namespace, d.name) for d in event.inputs) == sorted((source, t) for t in tables)
    outputs = outputs_by_name(event)
    assert sorted(outputs) == sorted(tables)
    db = cdata_sync_emulator.data_dir / "demo" / "warehouse.db"
    for task in run["tasks"]:
        out = outputs[task["table"]]
        assert out.namespace == warehouse
        assert out.outputFacets["outputStatistics"].rowCount == task["records_affected"]
        assert task["records_affected"] == _count(db, task["table"]) > 0
        columns = [(f.name, f.type) for f in out.facets["schema"].fields]
        assert columns == _table_columns(db, task["table"])
        assert out.facets["dataSource"].name == "DemoWarehouse"
        lineage = out.facets["columnLineage"].fields
        assert sorted(lineage) == sorted(name for name, _ in columns)
        (field,) = lineage["customer_id" if task["table"] == "customers" else columns[0][0]].inputFields
        assert (field.namespace, field.name) == (source, task["table"])
    facet = event.run.facets["cdataSync"]
    assert (facet.kind, facet.targetName, facet.runId, facet.status) == (
        "job",
        "DemoReplication",
        run["id"],
        "Success",
    )
    assert facet.recordsAffected == run["records_affected"]
    assert {t["table"]: t["records"] for t in facet.tasks} == {
        t["table"]: t["records_affected"] for t in run["tasks"]
    }
    assert event.run.facets["externalQuery"].externalQueryId == run["id"]
    assert event.run.facets["externalQuery"].source == f"cdata-sync://{host}"


def test_the_destination_names_honour_the_table_prefix_and_the_destination_schema(
    run_dag: Any, cdata_sync_emulator: Any
) -> None:
    from cdata_sync_emulator.testing import seed_small_job

    if not any(j["name"] == "LineagePrefixed" for j in cdata_sync_emulator.state()["jobs"]):
        seed_small_job(
            cdata_sync_emulator,
            rows=9,
            name="LineagePrefixed",
            job_settings={"table_name_prefix": "stg_", "destination_schema": "raw"},
        )
    assert run_dag("lineage_prefixed_job") == "success"
    _, event = _event("lineage_prefixed_job.replicate", "COMPLETE")
    outputs = outputs_by_name(event)
    assert sorted(outputs) == ["raw_stg_accounts", "raw_stg_contacts"]
    db = cdata_sync_emulator.data_dir / "lineageprefixed-dest.db"
    for name, out in outputs.items():
        assert out.namespace == f"sqlite://{_host(cdata_sync_emulator)}{db}"
        assert out.outputFacets["outputStatistics"].rowCount == _count(db, name) == 9
        assert [f.name for f in out.facets["schema"].fields] == ["id", "name", "amount"]


def test_a_failed_job_emits_a_fail_event_with_the_error_and_the_failed_task(
    run_dag: Any, cdata_sync_emulator: Any
) -> None:
    assert run_dag("lineage_broken_job") == "failed"
    run = _last_run(cdata_sync_emulator, "DemoBrokenReplication")
    raw, event = _event("lineage_broken_job.replicate", "FAIL")
    assert round_trip(raw)["run"]["facets"]["cdataSync"] == raw["run"]["facets"]["cdataSync"]
    facet = event.run.facets["cdataSync"]
    assert facet.runId == run["id"] and facet.state == "failed"
    failed = [t for t in facet.tasks if t["status"] == "Failed"]
    assert [t["table"] for t in failed] == ["invoices"]
    assert failed[0]["error"]
    assert "errorMessage" in event.run.facets
    outputs = outputs_by_name(event)
    assert outputs["customers"].outputFacets["outputStatistics"].rowCount == 2000
    assert "products" not in outputs  # skipped after the failure: nothing written


def test_a_transformation_run_outputs_the_tables_its_sql_creates(
    run_dag: Any, cdata_sync_emulator: Any
) -> None:
    assert run_dag("lineage_transformation") == "success"
    _, event = _event("lineage_transformation.revenue", "COMPLETE")
    warehouse = f"sqlite://{_host(cdata_sync_emulator)}/demo/warehouse.db"
    (out,) = event.outputs
    db = cdata_sync_emulator.data_dir / "demo" / "warehouse.db"
    assert (out.namespace, out.name) == (warehouse, "customer_revenue")
    assert out.outputFacets["outputStatistics"].rowCount == _count(db, "customer_revenue")
    assert [f.name for f in out.facets["schema"].fields] == [
        name for name, _ in _table_columns(db, "customer_revenue")
    ]
    assert sorted(d.name for d in event.inputs) == ["customers", "orders"]


def test_a_pipeline_run_is_the_union_of_its_steps_runs(run_dag: Any, cdata_sync_emulator: Any) -> None:
    assert run_dag("lineage_pipeline") == "success"
    _, event = _event("lineage_pipeline.pipeline", "COMPLETE")
    outputs = outputs_by_name(event)
    assert sorted(outputs) == ["customer_revenue", "customers", "order_items", "orders", "products"]
    facet = event.run.facets["cdataSync"]
    assert facet.kind == "pipeline"
    steps = {t["kind"]: t for t in facet.tasks}
    job_run = cdata_sync_emulator._core().store.get("run", steps["job"]["runId"])
    assert outputs["orders"].outputFacets["outputStatistics"].rowCount == next(
        t["records_affected"] for t in job_run["tasks"] if t["table"] == "orders"
    )
    assert steps["job"]["records"] == job_run["records_affected"]


def test_a_deferred_run_emits_the_same_lineage(run_dag: Any, cdata_sync_emulator: Any) -> None:
    assert run_dag("lineage_deferred_job") == "success"
    run = _last_run(cdata_sync_emulator, "DemoReplication")
    _, event = _event("lineage_deferred_job.replicate", "COMPLETE")
    assert event.run.facets["cdataSync"].runId == run["id"]
    rows = {name: d.outputFacets["outputStatistics"].rowCount for name, d in outputs_by_name(event).items()}
    assert rows == {t["table"]: t["records_affected"] for t in run["tasks"]}


def test_an_aisquared_sync_run_goes_from_the_models_source_to_the_destination_stream(
    bag: Any, aisquared_connection: Any
) -> None:
    from cdata_sync_emulator.aisquared.seed import seed_demo

    server = aisquared_connection
    demo = seed_demo(server)
    from airflow_provider_cdata_sync.hooks.aisquared import AISquaredHook

    client = AISquaredHook().get_client()
    sync = client.syncs.create(demo_sync_definition(demo))
    dag_run = bag.get_dag("lineage_aisquared").test(run_conf={"sync_id": str(sync.id)})
    assert str(dag_run.get_task_instances()[0].state) == "success"
    raw, event = _event("lineage_aisquared.sync", "COMPLETE")
    assert round_trip(raw)["outputs"] == raw["outputs"]
    run = server.runs(sync.id)[-1]
    host = server.api_url.split("://", 1)[1].split("/", 1)[0]
    (source,) = event.inputs
    assert (source.namespace, source.name) == (f"sqlite://{host}{demo.source_db}", "customers")
    (out,) = event.outputs
    assert (out.namespace, out.name) == (f"sqlite://{host}{demo.destination_db}", "crm_contacts")
    assert (
        out.outputFacets["outputStatistics"].rowCount
        == run["successful_rows"]
        == _count(demo.destination_db, "crm_contacts")
    )
    facet = event.run.facets["cdataSync"]
    assert (facet.service, facet.kind, facet.runId) == ("AI Squared", "sync", str(run["id"]))
    assert facet.extra["failed_rows"] == run["failed_rows"] == demo.invalid_emails


def test_a_job_run_through_the_hook_reaches_the_hook_lineage_collector(
    run_dag: Any, cdata_sync_emulator: Any
) -> None:
    """A CSV destination is named with the file naming (``file://<sync host>/<folder>/<table>.csv``),
    which the common-io provider converts: the hook's outputs reach the OpenLineage event of the task."""
    from cdata_sync_emulator.testing import make_source_db

    core = cdata_sync_emulator._core()
    if not any(j["name"] == "LineageCsv" for j in cdata_sync_emulator.state()["jobs"]):
        make_source_db(core.data_dir / "lineage-csv-source.db", {"leads": 6})
        src = core.service.create_connection(
            "default",
            {
                "name": "LineageCsvSource",
                "connector": "SQLite",
                "properties": {"Database": "lineage-csv-source.db"},
            },
        )
        dst = core.service.create_connection(
            "default", {"name": "LineageCsvFolder", "connector": "CSV", "properties": {"Folder": "csv-out"}}
        )
        core.service.create_job(
            "default",
            {
                "name": "LineageCsv",
                "source_connection_id": src["id"],
                "destination_connection_id": dst["id"],
                "queries": ["REPLICATE [leads]"],
            },
        )
    assert run_dag("lineage_hook") == "success"
    _, event = _event("lineage_hook.replicate_with_the_hook", "COMPLETE")
    host = _host(cdata_sync_emulator)
    assert (f"file://{host}", "/csv-out/leads.csv") in {(d.namespace, d.name) for d in event.outputs}
