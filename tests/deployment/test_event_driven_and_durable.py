"""Issue 16 on a real Airflow 3.3 (API server, scheduler, DAG processor, triggerer):

* an asset watcher turns a run started directly on the emulator (not through Airflow) into exactly one DAG
  run, within two poll intervals, and fires again neither later nor after a triggerer restart;
* a task SIGKILLed during a blocking wait is retried, and the retry follows the same remote run (the run id
  is in the task state store): one remote run, and the retry succeeds with that run's result.
"""

from __future__ import annotations

import os
import re
import signal
import time
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.deployment.harness import EMULATOR_MIN_RUN_SECONDS, AirflowDeployment, wait_for

pytestmark = pytest.mark.deployment

WATCHER_DAG = "example_cdata_sync_asset_watcher"
WATCHED_JOB = "DemoScheduledReplication"
POLL_SECONDS = 1.0  # CDATA_SYNC_EXAMPLE_POLL_SECONDS in the deployment
DURABLE_DAG = "deployment_cdata_sync_durable"


def job_id(airflow: AirflowDeployment, name: str) -> str:
    return next(item["id"] for item in airflow.emulator.state()["jobs"] if item["name"] == name)


def dag_runs(airflow: AirflowDeployment, dag_id: str) -> list[dict[str, Any]]:
    runs = airflow.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100}).json()
    return list(runs["dag_runs"])


def asset_events(airflow: AirflowDeployment) -> list[dict[str, Any]]:
    events = airflow.api("GET", "/api/v2/assets/events", params={"limit": 100}).json()["asset_events"]
    return [e for e in events if e.get("uri", "").endswith(f"/jobs/{WATCHED_JOB}")]


def start_on_emulator(airflow: AirflowDeployment, target_id: str) -> dict[str, Any]:
    """Start a run as Sync's scheduler or a person in the console would: straight on the server."""
    emulator = airflow.emulator
    response = httpx.post(f"{emulator.api_url}/v2/jobs/{target_id}/execute", headers=emulator.headers)
    assert response.status_code in (200, 202), response.text
    return dict(response.json())


def history_calls(airflow: AirflowDeployment, target_id: str) -> int:
    return sum(n for key, n in airflow.emulator.stats()["calls"].items() if target_id in key and "GET" in key)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_a_run_started_outside_airflow_creates_one_dag_run_even_across_a_triggerer_restart(
    airflow: AirflowDeployment,
) -> None:
    target = job_id(airflow, WATCHED_JOB)
    # The watcher polls once the DAG processor registered the asset's trigger and the triggerer runs it.
    wait_for("the watcher to poll", lambda: history_calls(airflow, target) >= 3, timeout=120)
    before = len(dag_runs(airflow, WATCHER_DAG))

    first = start_on_emulator(airflow, target)
    finished = airflow.emulator.wait_run(first["id"])
    created = wait_for(
        "the DAG run of the watched run",
        lambda: [r for r in dag_runs(airflow, WATCHER_DAG)][before:] or None,
        timeout=60,
    )
    # Airflow 3.3.2's /assets/events answers 500 while a DAG run it created has no start date yet.
    assert airflow.wait_run(WATCHER_DAG, created[0]["dag_run_id"]) == "success"
    (event,) = [
        e for e in asset_events(airflow) if e["extra"].get("payload", {}).get("run_id") == first["id"]
    ]
    delay = (parse_time(event["timestamp"]) - parse_time(finished["end_time"])).total_seconds()
    print(f"run {first['id']} ended {finished['end_time']}; asset event after {delay:.2f} s")
    assert delay <= 2 * POLL_SECONDS + 1.0  # within two poll intervals (+ 1 s for the two clocks' rounding)
    assert len(created) == 1

    # No second event for the same run: neither later, nor after the triggerer is restarted.
    time.sleep(5 * POLL_SECONDS)
    airflow.stop_component("triggerer")
    airflow.start_component("triggerer")
    calls = history_calls(airflow, target)
    wait_for(
        "the restarted watcher to poll", lambda: history_calls(airflow, target) >= calls + 3, timeout=120
    )
    time.sleep(3 * POLL_SECONDS)
    assert len(dag_runs(airflow, WATCHER_DAG)) == before + 1

    # The restarted watcher still fires for the next run, once.
    second = start_on_emulator(airflow, target)
    airflow.emulator.wait_run(second["id"])
    wait_for("the second DAG run", lambda: len(dag_runs(airflow, WATCHER_DAG)) >= before + 2, timeout=60)
    time.sleep(3 * POLL_SECONDS)
    runs = dag_runs(airflow, WATCHER_DAG)
    assert len(runs) == before + 2
    newest = max(runs, key=lambda r: r["run_after"])
    assert airflow.wait_run(WATCHER_DAG, newest["dag_run_id"]) == "success"
    # Each run of the job once (other tests' runs of it since the watcher started count too), ours included.
    fired_for = [e["extra"]["payload"]["run_id"] for e in asset_events(airflow)]
    assert len(fired_for) == len(set(fired_for)), fired_for
    assert {first["id"], second["id"]} <= set(fired_for)
    assert set(fired_for) <= {str(run["id"]) for run in airflow.emulator.runs(target)}

    log = airflow.task_log(WATCHER_DAG, newest["dag_run_id"], "use_the_new_rows")
    assert f"run {second['id']} of {WATCHED_JOB}" in log


def test_a_task_killed_in_a_blocking_wait_is_retried_onto_the_same_remote_run(
    airflow: AirflowDeployment,
) -> None:
    emulator = airflow.emulator
    target = job_id(airflow, "DemoReplication")
    emulator.set_speed(rows_per_second=None, min_run_seconds=25, target_id=target)
    try:
        runs_before = len(emulator.runs(target))
        run_id = airflow.trigger(DURABLE_DAG)

        def polling() -> dict[str, Any] | None:
            ti = airflow.task_instances(DURABLE_DAG, run_id).get("run_blocking")
            if not ti or ti["state"] != "running" or ti["try_number"] != 1 or not ti.get("pid"):
                return None
            log = airflow.task_log(DURABLE_DAG, run_id, "run_blocking", try_number=1)
            return ti if re.search(r"run \d+: Running", log) else None

        ti = wait_for("try 1 to poll the remote run", polling, timeout=120, interval=0.5)
        remote = emulator.runs(target)[-1]
        assert remote["status"] in ("Queued", "Running")
        os.kill(int(ti["pid"]), signal.SIGKILL)
        print(
            f"SIGKILLed the task process {ti['pid']} while remote run {remote['id']} was {remote['status']}"
        )

        assert airflow.wait_run(DURABLE_DAG, run_id, timeout=180) == "success"
        final = airflow.task_instances(DURABLE_DAG, run_id)["run_blocking"]
        assert final["try_number"] == 2
        assert len(emulator.runs(target)) == runs_before + 1  # exactly one remote run for both tries
        retry_log = airflow.task_log(DURABLE_DAG, run_id, "run_blocking", try_number=2)
        assert f"Reattaching to CData Sync job 'DemoReplication' run {remote['id']}" in retry_log
        assert emulator.runs(target)[-1]["status"] == "Success"
        xcom = airflow.api(
            "GET",
            f"/api/v2/dags/{DURABLE_DAG}/dagRuns/{run_id}/taskInstances/run_blocking/xcomEntries/return_value",
        ).json()
        assert str(remote["id"]) in str(xcom["value"])  # the retry returns that run's result
    finally:
        emulator.set_speed(rows_per_second=None, min_run_seconds=EMULATOR_MIN_RUN_SECONDS, target_id=target)
        emulator.wait_idle(60)
