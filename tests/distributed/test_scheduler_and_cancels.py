"""The scheduler crashes and comes back mid-run; a user marks 100 deferred tasks failed at once."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from tests.deployment.harness import wait_for
from tests.distributed.fleet import (
    FLEET_DAG,
    FLEET_TASK,
    POLL_INTERVAL,
    Fleet,
    api_task_instances,
    calls,
    pace,
    start_fleet,
    wait_all_deferred,
)
from tests.distributed.harness import DistributedDeployment
from tests.distributed.test_triggerer_failover import fleet_runs, record

pytestmark = pytest.mark.distributed

#: Airflow's ``[triggerer] on_kill_timeout`` (default): the longest a trigger's on_kill may take.
ON_KILL_TIMEOUT = 30


def trigger_logs(airflow: DistributedDeployment, fleet: Fleet) -> list[str]:
    """The triggerers' log files of the fleet's tasks (one per task and triggerer that ran its trigger)."""
    run_dir = (
        airflow.home / "logs" / f"dag_id={FLEET_DAG}" / f"run_id={fleet.run_id}" / f"task_id={FLEET_TASK}"
    )
    return [
        path.read_text(errors="replace") for path in run_dir.glob("map_index=*/attempt=1.log.trigger.*.log")
    ]


def triggers_started(airflow: DistributedDeployment, fleet: Fleet) -> int:
    """Fleet tasks whose trigger has started in a triggerer (its trigger log says so)."""
    return sum(1 for log in trigger_logs(airflow, fleet) if " starting" in log)


def cancels_per_job(airflow: DistributedDeployment, fleet: Fleet) -> Counter[str]:
    found = calls(airflow)
    return Counter(
        {job_id: found.get(f"POST /api.rsc/v2/jobs/{job_id}/cancel", 0) for job_id in fleet.jobs.values()}
    )


@pytest.mark.timeout(1800)
def test_a_dag_run_completes_across_a_scheduler_crash_and_restart(
    airflow: DistributedDeployment, artifacts: Path
) -> None:
    fleet = start_fleet(airflow, 10, "Restart")
    blocking = Fleet(airflow.job_ids(airflow.seed_fleet(1, rows=100, prefix="RestartBlocking")))
    pace(airflow, blocking, 1 / 15)
    ((blocking_name, blocking_id),) = blocking.jobs.items()
    blocking_run = airflow.trigger("distributed_blocking", {"job": blocking_name})
    wait_all_deferred(airflow, fleet, timeout=900)
    wait_for(
        "the blocking task to run in a worker",
        lambda: (
            airflow.task_instances("distributed_blocking", blocking_run)["run_blocking"]["state"] == "running"
        ),
        timeout=120,
    )

    airflow.kill("scheduler")
    down_at = time.monotonic()
    # While no scheduler runs, every remote run finishes: the triggers fire, the blocking task ends.
    pace(airflow, fleet, None)
    pace(airflow, blocking, None)
    wait_for(
        "the remote runs to finish",
        lambda: all(
            run["status"] == "Success"
            for run in fleet_runs(airflow, fleet) + airflow.emulator.runs(blocking_id)
        ),
        timeout=120,
    )
    time.sleep(2 * POLL_INTERVAL)
    airflow.start_component("scheduler")
    figures = {"seconds_without_scheduler": round(time.monotonic() - down_at, 1)}

    assert airflow.wait_run(FLEET_DAG, fleet.run_id, timeout=300) == "success"
    assert airflow.wait_run("distributed_blocking", blocking_run, timeout=300) == "success"
    figures["seconds_until_both_dag_runs_succeeded"] = round(time.monotonic() - down_at, 1)
    tis = api_task_instances(airflow, FLEET_DAG, fleet.run_id, FLEET_TASK)
    assert [ti["state"] for ti in tis] == ["success"] * 10
    runs = fleet_runs(airflow, fleet) + airflow.emulator.runs(blocking_id)
    assert len(runs) == 11, runs  # one remote run per task: nothing started twice
    assert "10 of 10 job runs succeeded" in airflow.task_log(FLEET_DAG, fleet.run_id, "count_successes")
    record(artifacts, "scheduler_restart", figures)


@pytest.mark.timeout(1800)
def test_marking_100_deferred_tasks_failed_cancels_each_run_exactly_once(
    airflow: DistributedDeployment, artifacts: Path
) -> None:
    size = 100
    fleet = start_fleet(airflow, size, "Doomed")
    try:
        wait_all_deferred(airflow, fleet, timeout=900)
        # Airflow calls on_kill only for a trigger running in a triggerer (one merely assigned is dropped).
        wait_for(
            "every trigger to start",
            lambda: triggers_started(airflow, fleet) == size,
            timeout=180,
            interval=2,
        )
        spread = airflow.triggers_per_triggerer()
        assert all(run["status"] == "Running" for run in fleet_runs(airflow, fleet))

        marked_at = time.monotonic()
        answer = airflow.api(
            "PATCH",
            f"/api/v2/dags/{FLEET_DAG}/dagRuns/{fleet.run_id}/taskInstances/{FLEET_TASK}",
            json={"new_state": "failed"},
        ).json()
        assert answer["total_entries"] == size  # one call marks every mapped task instance
        assert airflow.wait_run(FLEET_DAG, fleet.run_id, timeout=120) == "failed"

        # Airflow gives each on_kill ON_KILL_TIMEOUT s (after it noticed, within a few s): wait for that, or
        # for every run to be cancelled; then three poll intervals, in which a late second cancel would show.
        deadline = marked_at + ON_KILL_TIMEOUT + 6 * POLL_INTERVAL
        while time.monotonic() < deadline:
            if all(run["status"] == "Cancelled" for run in fleet_runs(airflow, fleet)):
                break
            time.sleep(1)
        seconds = time.monotonic() - marked_at
        time.sleep(3 * POLL_INTERVAL)
        runs = fleet_runs(airflow, fleet)
        cancels = cancels_per_job(airflow, fleet)
        statuses = Counter(run["status"] for run in runs)
        figures = {
            "tasks_marked_failed": size,
            "triggers_per_triggerer": spread,
            "seconds_until_all_cancelled_or_on_kill_timeout": round(seconds, 1),
            "remote_runs": len(runs),
            "remote_run_statuses": dict(statuses),
            "cancel_calls": sum(cancels.values()),
            "runs_by_cancel_calls": dict(Counter(cancels.values())),
        }
        record(artifacts, "mass_mark_failed", figures)
        tis = api_task_instances(airflow, FLEET_DAG, fleet.run_id, FLEET_TASK)
        assert {ti["state"] for ti in tis} == {"failed"}
        assert len(runs) == size, figures
        assert statuses == Counter({"Cancelled": size}), figures
        assert set(cancels.values()) == {1}, figures
    finally:
        pace(airflow, fleet, None)  # no run of this test outlives it
