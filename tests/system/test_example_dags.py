"""End-to-end: the example DAGs and timeout DAGs run with dag.test() against the emulator over loopback."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cdata_sync_emulator import CDataSyncEmulator
from cdata_sync_emulator.dialects import V1_HISTORY_BASE, V1Ids

from airflow_provider_cdata_sync.reporting import LOG_GROUP_END, LOG_GROUP_START
from tests.system.conftest import destination_rows

pytestmark = pytest.mark.e2e


def job_id(server: CDataSyncEmulator, name: str) -> str:
    return next(job["id"] for job in server.state()["jobs"] if job["name"] == name)


def last_run(server: CDataSyncEmulator, name: str) -> dict:
    return server.runs(job_id(server, name))[-1]


def start_on_server(server: CDataSyncEmulator, name: str) -> str:
    """Start a job's run on the server itself (as Sync's scheduler or a console user would): every dialect
    starts it the same way, whatever its execute answer names. Returns the emulator's run id."""
    assert server.core is not None
    return str(server.core.engine.start("job", job_id(server, name), trigger="console")["id"])


def public_run_id(server: CDataSyncEmulator, api_version: str, run_id: str) -> str:
    """The id a client sees for an emulator run: ``v1-real`` numbers v1 history records beyond 2**56."""
    if api_version == "v1" and server.dialect.v1_numeric_ids:
        return str(int(run_id) + V1_HISTORY_BASE)
    return str(run_id)


def public_job_id(server: CDataSyncEmulator, api_version: str, name: str) -> str:
    """The id a client sees for a job: ``v1-real`` gives v1 jobs 17-digit numbers."""
    if api_version == "v1" and server.dialect.v1_numeric_ids:
        assert server.core is not None
        return str(V1Ids(server.dialect, server.core.store).target(job_id(server, name)))
    return job_id(server, name)


def test_dag_folder_has_no_import_errors(airflow_db: None) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert not bag.import_errors
    assert {
        "example_cdata_sync_quickstart",
        "example_cdata_sync_deferrable_pipeline",
        "example_cdata_sync_history_sensor",
        "example_cdata_sync_dynamic_mapping",
        "example_cdata_sync_params",
    } <= set(bag.dag_ids)


def test_quickstart_replicates_then_transforms(emulator: CDataSyncEmulator, run_dag, api_version) -> None:
    result = run_dag("example_cdata_sync_quickstart")

    assert result.states == {"replicate_shop": "success", "build_customer_revenue": "success"}
    assert destination_rows(emulator, "customers") == 2000
    assert destination_rows(emulator, "order_items") == 20000
    assert destination_rows(emulator, "customer_revenue") == 2000
    summary = result.xcom("replicate_shop")
    assert summary["status"] == "success"
    assert summary["records_affected"] == 32200
    assert {task["table"]: task["records_affected"] for task in summary["tasks"]} == {
        "customers": 2000,
        "products": 200,
        "orders": 10000,
        "order_items": 20000,
    }
    run = last_run(emulator, "DemoReplication")
    assert summary["run_id"] == public_run_id(emulator, api_version, run["id"])
    # The remote log is in the task log, inside a folded group, then the per-task table.
    assert LOG_GROUP_START in result.output and LOG_GROUP_END in result.output
    assert "Replicating table [order_items]" in result.output
    assert "order_items  success" in result.output
    # Run id and console link were pushed, and the link resolves on the emulator's console.
    url = result.xcom("replicate_shop", "cdata_sync_console_url")
    public_job, public_run = public_job_id(emulator, api_version, "DemoReplication"), summary["run_id"]
    assert url == f"{emulator.base_url}/console/jobs/{public_job}/history/{public_run}"
    assert result.xcom("replicate_shop", "_link_CDataSyncJobLink") == url
    page = httpx.get(url)
    assert page.status_code == 200 and "DemoReplication" in page.text


def test_deferrable_pipeline_runs_in_trigger_and_reports(
    emulator: CDataSyncEmulator, run_dag, api_version
) -> None:
    result = run_dag("example_cdata_sync_deferrable_pipeline")

    if api_version == "v1":  # pipelines do not exist before API v2: a clear error, nothing started
        assert result.states == {"run_pipeline": "failed", "report": "upstream_failed"}
        assert "Pipelines: this needs the CData Sync API v2 (Sync 26.x)" in result.output
        return
    assert result.states == {"run_pipeline": "success", "report": "success"}
    summary = result.xcom("run_pipeline")
    assert summary["kind"] == "pipeline" and summary["status"] == "success"
    assert "Deferring until run" in result.output
    assert "DemoPipeline: success" in result.output
    assert destination_rows(emulator, "customer_revenue") == 2000
    assert result.xcom("run_pipeline", "_link_CDataSyncPipelineLink").startswith(
        f"{emulator.base_url}/console/pipelines/"
    )


def test_params_dag_runs_only_chosen_tables(emulator: CDataSyncEmulator, run_dag) -> None:
    result = run_dag("example_cdata_sync_params", {"job": "demoreplication", "tasks": ["products"]})

    assert result.states == {"run_chosen_job": "success"}
    run = last_run(emulator, "DemoReplication")
    assert [task["table"] for task in run["tasks"]] == ["products"]
    assert result.xcom("run_chosen_job")["records_affected"] == 200


def test_failing_job_fails_the_task_with_the_remote_error(emulator: CDataSyncEmulator, run_dag) -> None:
    result = run_dag("example_cdata_sync_params", {"job": "DemoBrokenReplication", "tasks": []})

    assert result.states == {"run_chosen_job": "failed"}
    run = last_run(emulator, "DemoBrokenReplication")
    failed = [task for task in run["tasks"] if task["status"] == "Failed"]
    assert failed, run
    assert f"failed tasks: [{failed[0]['table']}]" in result.output
    assert failed[0]["error"] in result.output


def test_unknown_job_fails_with_the_names_that_exist(emulator: CDataSyncEmulator, run_dag) -> None:
    result = run_dag("example_cdata_sync_params", {"job": "NoSuchJob", "tasks": []})

    assert result.states == {"run_chosen_job": "failed"}
    assert "No job with id or name 'NoSuchJob'" in result.output
    assert "'DemoReplication'" in result.output


def test_dynamic_mapping_runs_each_job(emulator: CDataSyncEmulator, run_dag) -> None:
    result = run_dag("example_cdata_sync_dynamic_mapping")

    assert result.states == {"run_job[0]": "success", "run_job[1]": "success", "total_records": "success"}
    assert result.xcom("total_records") == 32200 + 200


def test_history_sensor_waits_for_a_run_scheduled_in_sync(
    emulator: CDataSyncEmulator, run_dag, api_version
) -> None:
    # The DAG's downstream transformation reads the warehouse: fill it first, whatever ran before.
    emulator.wait_run(start_on_server(emulator, "DemoReplication"))
    since = datetime.now(UTC) - timedelta(seconds=1)
    # Stand in for Sync's own scheduler: start the scheduled job directly on the server.
    start_on_server(emulator, "DemoScheduledReplication")

    result = run_dag("example_cdata_sync_history_sensor", {"since": since.isoformat()})

    assert result.states == {"wait_for_scheduled_sync": "success", "refresh_revenue": "success"}
    assert result.xcom("wait_for_scheduled_sync")["run_id"] == public_run_id(
        emulator, api_version, last_run(emulator, "DemoScheduledReplication")["id"]
    )


@pytest.mark.parametrize(
    "dag_id", ["e2e_blocking_timeout", "e2e_deferred_timeout", "e2e_deferred_execution_timeout"]
)
def test_timeout_cancels_the_remote_run(emulator: CDataSyncEmulator, run_dag, dag_id: str) -> None:
    emulator.set_speed(min_run_seconds=60, target_id=job_id(emulator, "DemoReplication"))
    started = time.monotonic()

    result = run_dag(dag_id)

    assert result.states == {"run": "failed"}
    assert time.monotonic() - started < 45
    run = last_run(emulator, "DemoReplication")
    assert run["status"] == "Cancelled", run
    assert "the run was cancelled" in result.output


def test_job_sensor_waits_for_the_current_run(emulator: CDataSyncEmulator, run_dag, api_version) -> None:
    emulator.set_speed(min_run_seconds=3, target_id=job_id(emulator, "DemoReplication"))
    run_id = public_run_id(emulator, api_version, start_on_server(emulator, "DemoReplication"))

    result = run_dag("e2e_job_sensor")

    assert result.states == {"wait_poke": "success", "wait_deferred": "success"}
    assert result.xcom("wait_poke")["run_id"] == run_id
    assert result.xcom("wait_deferred")["run_id"] == run_id


def test_assets_producer_emits_one_event_per_table(emulator: CDataSyncEmulator, run_dag) -> None:
    pytest.importorskip("airflow.sdk")
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    result = run_dag("example_cdata_sync_assets_producer")

    assert result.states == {"replicate_shop": "success"}
    run = last_run(emulator, "DemoReplication")
    with create_session() as session:
        events = session.scalars(
            select(AssetEvent).where(AssetEvent.source_run_id == result.dag_run.run_id)
        ).all()
        written = {event.asset.uri.rsplit("/", 1)[-1]: event.extra["records"] for event in events}
    assert written == {task["table"]: task["records_affected"] for task in run["tasks"]}


async def test_asset_watcher_fires_once_for_a_run_sync_started(
    emulator: CDataSyncEmulator, api_version
) -> None:
    """The example watcher's trigger, as the triggerer runs it: one event for the run Sync itself started."""
    pytest.importorskip("airflow.sdk")
    import asyncio
    import importlib.util

    from tests.conftest import DAGS_FOLDER

    spec = importlib.util.spec_from_file_location(
        "example_watcher", DAGS_FOLDER / "example_cdata_sync_asset_watcher.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    trigger = module.scheduled_replication.watchers[0].trigger
    _, kwargs = trigger.serialize()  # as the triggerer rebuilds it
    watcher = type(trigger)(**kwargs)

    events = watcher.run()
    first = asyncio.ensure_future(anext(events))
    await asyncio.sleep(1.5)  # the watcher has taken its first look: only later runs fire
    assert not first.done()
    run_id = public_run_id(emulator, api_version, start_on_server(emulator, "DemoScheduledReplication"))
    event = await asyncio.wait_for(first, 30)
    assert event.payload["run_id"] == run_id and event.payload["status"] == "success"
    await events.aclose()
