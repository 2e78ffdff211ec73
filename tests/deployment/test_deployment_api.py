"""A real Airflow 3 (API server, scheduler, DAG processor, triggerer) runs the example DAGs against the
emulator; everything is triggered and checked through Airflow's REST API, as an operator of Airflow would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.deployment.harness import EMULATOR_MIN_RUN_SECONDS, AirflowDeployment, wait_for

pytestmark = pytest.mark.deployment


def job_id(airflow: AirflowDeployment, name: str, kind: str = "jobs") -> str:
    return next(item["id"] for item in airflow.emulator.state()[kind] if item["name"] == name)


def last_run(airflow: AirflowDeployment, target_id: str) -> dict[str, Any]:
    return airflow.emulator.runs(target_id)[-1]


@pytest.fixture
def emulator_reset(airflow: AirflowDeployment) -> Iterator[None]:
    """Speed knobs back to normal, and no run left behind, after each test."""
    yield
    emulator = airflow.emulator
    emulator.set_speed(rows_per_second=None, min_run_seconds=EMULATOR_MIN_RUN_SECONDS)
    for name in ("DemoReplication", "DemoScheduledReplication", "DemoBrokenReplication"):
        job = job_id(airflow, name)
        emulator.set_speed(rows_per_second=None, min_run_seconds=EMULATOR_MIN_RUN_SECONDS, target_id=job)
        if any(run["status"] in ("Queued", "Running") for run in emulator.runs(job)):
            httpx.post(f"{emulator.api_url}/v2/jobs/{job}/cancel", headers=emulator.headers)
    emulator.wait_idle(30)


def watch_states(airflow: AirflowDeployment, dag_id: str, run_id: str, task_id: str, timeout: float = 90):
    """Poll a task instance until its DAG run ends; return the states seen and the TI seen while deferred."""
    seen: list[str] = []
    deferred_ti: dict[str, Any] | None = None
    deadline = time.monotonic() + timeout * airflow.timeout_scale
    while time.monotonic() < deadline:
        ti = airflow.task_instances(dag_id, run_id).get(task_id)
        state = ti and ti["state"]
        if state and (not seen or seen[-1] != state):
            seen.append(state)
        if state == "deferred" and (deferred_ti is None or not deferred_ti.get("triggerer_job")):
            deferred_ti = ti  # the triggerer's job shows once a triggerer has picked the trigger up
        if airflow.dag_run(dag_id, run_id)["state"] in ("success", "failed"):
            return seen, deferred_ti
        time.sleep(0.25)
    raise TimeoutError(f"{dag_id}/{run_id} did not finish; states seen {seen}")


def test_components_are_separate_processes_and_healthy(airflow: AirflowDeployment) -> None:
    components = airflow.topology.components
    assert {"api-server", "scheduler", "dag-processor"} <= set(components)
    assert set(airflow.processes) == set(components)
    assert len({proc.pid for proc in airflow.processes.values()}) == len(components)
    assert all(proc.poll() is None for proc in airflow.processes.values())
    health = airflow.api("GET", "/api/v2/monitor/health").json()
    for part in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
        assert health[part]["status"] == "healthy", health
    providers = airflow.api("GET", "/api/v2/providers", params={"limit": 1000}).json()["providers"]
    assert any(p["package_name"] == "airflow-provider-cdata-sync" for p in providers)


def test_quickstart_runs_with_remote_log_and_console_links(
    airflow: AirflowDeployment, emulator_reset
) -> None:
    dag_id = "example_cdata_sync_quickstart"
    run_id = airflow.trigger(dag_id)

    assert airflow.wait_run(dag_id, run_id) == "success"

    tis = airflow.task_instances(dag_id, run_id)
    assert {task: ti["state"] for task, ti in tis.items()} == {
        "replicate_shop": "success",
        "build_customer_revenue": "success",
    }
    # The remote CData Sync log, read back through Airflow's log API.
    log = airflow.task_log(dag_id, run_id, "replicate_shop")
    assert "Replicating table [order_items]" in log, log[-3000:]
    assert "order_items  success" in log
    # The extra link resolves to the emulator's console page of that very run.
    job = job_id(airflow, "DemoReplication")
    remote = last_run(airflow, job)
    links = airflow.task_links(dag_id, run_id, "replicate_shop")
    url = f"{airflow.emulator.base_url}/console/jobs/{job}/history/{remote['id']}"
    assert links == {"CData Sync Job": url}
    page = httpx.get(url)
    assert page.status_code == 200 and "DemoReplication" in page.text
    transformation_links = airflow.task_links(dag_id, run_id, "build_customer_revenue")
    assert transformation_links["CData Sync Transformation"].startswith(
        f"{airflow.emulator.base_url}/console/transformations/"
    )


def test_deferred_pipeline_goes_through_the_triggerer(airflow: AirflowDeployment, emulator_reset) -> None:
    dag_id = "example_cdata_sync_deferrable_pipeline"
    airflow.emulator.set_speed(min_run_seconds=5)  # long enough to see the task deferred
    run_id = airflow.trigger(dag_id)

    seen, deferred_ti = watch_states(airflow, dag_id, run_id, "run_pipeline")

    assert airflow.dag_run(dag_id, run_id)["state"] == "success"
    assert "deferred" in seen, seen
    assert seen[-1] == "success", seen
    # While deferred, the task instance pointed at our trigger, run by the triggerer job.
    assert deferred_ti is not None
    assert deferred_ti["trigger"]["classpath"] == (
        "airflow_provider_cdata_sync.triggers.cdata_sync.CDataSyncRunTrigger"  # one trigger class per service
    ), deferred_ti
    assert deferred_ti["triggerer_job"]["job_type"] == "TriggererJob", deferred_ti
    log = airflow.task_log(dag_id, run_id, "run_pipeline", try_number=1)
    assert "Deferring until run" in log, log[-3000:]
    # The triggerer's part of the task log (its own log file, served back by the API): it ran the trigger.
    assert ".log.trigger." in log
    trigger_lines = [line for line in log.splitlines() if '"triggerer_job_runner.py"' in line]
    assert any(
        line.startswith("Trigger fired event") and "'status': 'success'" in line for line in trigger_lines
    )
    # After resuming, the task log holds the remote run's log and the report task saw the summary.
    assert "[Pipeline DemoPipeline] Step job DemoReplication started" in log, log[-3000:]
    assert "Pipeline run 1 finished with status Success" in log or "finished with status Success" in log
    assert "DemoPipeline: success" in airflow.task_log(dag_id, run_id, "report")
    pipeline = job_id(airflow, "DemoPipeline", "pipelines")
    assert airflow.task_links(dag_id, run_id, "run_pipeline") == {
        "CData Sync Pipeline": f"{airflow.emulator.base_url}/console/pipelines/{pipeline}/history/"
        f"{last_run(airflow, pipeline)['id']}"
    }


def test_dynamic_mapping_defers_each_mapped_task(airflow: AirflowDeployment, emulator_reset) -> None:
    dag_id = "example_cdata_sync_dynamic_mapping"
    run_id = airflow.trigger(dag_id)

    assert airflow.wait_run(dag_id, run_id) == "success"

    tis = airflow.task_instances(dag_id, run_id)
    assert {task: ti["state"] for task, ti in tis.items()} == {
        "run_job[0]": "success",
        "run_job[1]": "success",
        "total_records": "success",
    }
    assert "2 job runs moved 32400 records" in airflow.task_log(dag_id, run_id, "total_records")
    for index, name in enumerate(["DemoReplication", "DemoScheduledReplication"]):
        job = job_id(airflow, name)
        links = airflow.task_links(dag_id, run_id, "run_job", map_index=index)
        assert links["CData Sync Job"] == (
            f"{airflow.emulator.base_url}/console/jobs/{job}/history/{last_run(airflow, job)['id']}"
        )


def test_failing_job_fails_the_run_with_the_remote_error(airflow: AirflowDeployment, emulator_reset) -> None:
    dag_id = "example_cdata_sync_params"
    run_id = airflow.trigger(dag_id, {"job": "DemoBrokenReplication", "tasks": []})

    assert airflow.wait_run(dag_id, run_id) == "failed"

    assert airflow.task_instances(dag_id, run_id)["run_chosen_job"]["state"] == "failed"
    remote = last_run(airflow, job_id(airflow, "DemoBrokenReplication"))
    failed = [task for task in remote["tasks"] if task["status"] == "Failed"]
    assert failed, remote
    log = airflow.task_log(dag_id, run_id, "run_chosen_job")
    assert f"failed tasks: [{failed[0]['table']}]" in log, log[-3000:]
    assert failed[0]["error"] in log


def test_marking_a_deferred_task_failed_cancels_the_remote_run(
    airflow: AirflowDeployment, emulator_reset
) -> None:
    dag_id = "example_cdata_sync_params"
    job = job_id(airflow, "DemoReplication")
    airflow.emulator.set_speed(min_run_seconds=120, target_id=job)
    run_id = airflow.trigger(dag_id, {"job": "DemoReplication", "tasks": []})

    def trigger_running() -> bool:
        # Deferred, and the triggerer has picked the trigger up and started it (Airflow calls on_kill
        # only for a trigger that runs in a triggerer; one still waiting for a triggerer is just dropped).
        ti = airflow.task_instances(dag_id, run_id)["run_chosen_job"]
        if ti["state"] != "deferred" or not ti.get("triggerer_job"):
            return False
        return "(ID " in airflow.task_log(dag_id, run_id, "run_chosen_job") and " starting" in (
            airflow.task_log(dag_id, run_id, "run_chosen_job")
        )

    wait_for(
        "the deferred task's trigger to run in the triggerer",
        trigger_running,
        timeout=60 * airflow.timeout_scale,
        interval=0.5,
    )
    remote = last_run(airflow, job)
    assert remote["status"] in ("Queued", "Running"), remote

    airflow.api(
        "PATCH",
        f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/run_chosen_job",
        json={"new_state": "failed"},
    )

    assert airflow.task_instances(dag_id, run_id)["run_chosen_job"]["state"] == "failed"
    cancelled = airflow.emulator.wait_run(remote["id"], 30)
    assert cancelled["status"] == "Cancelled", cancelled
    log = airflow.task_log(dag_id, run_id, "run_chosen_job")
    assert "Trigger cancelled by user action, invoking on_kill" in log, log[-3000:]
    assert f"Cancelling CData Sync job 'DemoReplication' run {remote['id']}" in log, log[-3000:]


def test_execution_timeout_of_a_deferred_task_cancels_the_remote_run(
    airflow: AirflowDeployment, emulator_reset
) -> None:
    dag_id = "e2e_deferred_execution_timeout"
    job = job_id(airflow, "DemoReplication")
    airflow.emulator.set_speed(min_run_seconds=120, target_id=job)
    run_id = airflow.trigger(dag_id)

    seen, _ = watch_states(airflow, dag_id, run_id, "run", timeout=90)

    assert airflow.dag_run(dag_id, run_id)["state"] == "failed"
    assert "deferred" in seen and seen[-1] == "failed", seen
    remote = last_run(airflow, job)
    assert remote["status"] == "Cancelled", remote
    log = airflow.task_log(dag_id, run_id, "run")
    assert "the run was cancelled" in log, log[-3000:]
