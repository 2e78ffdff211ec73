"""Celery worker faults during a blocking wait (``deferrable=False``: the task polls in its worker):

* Redis redelivers the task after a ``visibility_timeout`` shorter than the run: no second remote run.
* The worker is SIGKILLed: Airflow fails the silent task and retries it on the other worker, and the retry
  follows the same remote run (``reuse_existing_run=True``): no second remote run either.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.deployment.harness import wait_for
from tests.distributed.fleet import Fleet, calls, pace
from tests.distributed.harness import TASK_HEARTBEAT_TIMEOUT, DistributedDeployment
from tests.distributed.test_triggerer_failover import record

pytestmark = pytest.mark.distributed

DAG = "distributed_blocking"
TASK = "run_blocking"
WORKERS = ["worker-1", "worker-2"]
#: Shorter than the blocking runs below (Redis hands an unacknowledged task out again after this long).
VISIBILITY_TIMEOUT = 10


@pytest.fixture
def workers_restored(airflow: DistributedDeployment):
    """Both workers run again, with the deployment's own settings, after the test."""
    yield
    for worker in WORKERS:
        if worker in airflow.stopped:
            airflow.start_component(worker)
    if any(airflow.overrides.get(worker) for worker in WORKERS):
        airflow.restart_with(WORKERS, None)


def blocking_job(airflow: DistributedDeployment, prefix: str) -> Fleet:
    """One emulator job, paced so that its run lasts until the test lifts the pace."""
    fleet = Fleet(airflow.job_ids(airflow.seed_fleet(1, rows=100, prefix=prefix)))
    pace(airflow, fleet, 1 / 15)
    return fleet


def task_instance(airflow: DistributedDeployment, run_id: str) -> dict[str, Any]:
    return airflow.task_instances(DAG, run_id)[TASK]


def wait_polling(airflow: DistributedDeployment, run_id: str, try_number: int, text: str) -> dict[str, Any]:
    """Wait until the given try runs in a worker and its log shows ``text`` and a status poll."""

    def polling() -> dict[str, Any] | None:
        ti = task_instance(airflow, run_id)
        if ti["state"] != "running" or ti["try_number"] != try_number or not ti.get("pid"):
            return None
        log = airflow.task_log(DAG, run_id, TASK, try_number=try_number)
        return ti if text in log and re.search(r"run \d+: Running", log) else None

    timeout = 180 * airflow.timeout_scale
    return dict(wait_for(f"try {try_number} to poll in a worker", polling, timeout=timeout, interval=1))


def executes(airflow: DistributedDeployment, job_id: str) -> int:
    return sum(n for path, n in calls(airflow).items() if path == f"POST /api.rsc/v2/jobs/{job_id}/execute")


def workload_lines(airflow: DistributedDeployment, ti_id: str) -> list[str]:
    """Celery's "Executing workload" lines for one task instance, in both workers' logs."""
    return [
        line
        for worker in WORKERS
        for line in airflow.process_log(worker).splitlines()
        if "Executing workload in Celery" in line and ti_id in line
    ]


@pytest.mark.timeout(1800)
def test_a_redelivered_task_never_starts_a_second_run(
    airflow: DistributedDeployment, artifacts: Path, workers_restored
) -> None:
    env = {"AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT)}
    airflow.restart_with(WORKERS, env)
    fleet = blocking_job(airflow, "Redelivered")
    ((name, job_id),) = fleet.jobs.items()
    run_id = airflow.trigger(DAG, {"job": name})
    ti = wait_polling(airflow, run_id, 1, "Started CData Sync job")

    # Redis hands the unacknowledged task out again; Airflow refuses to run the same try twice.
    def redelivered() -> list[str]:
        celery_ids = [re.search(r"\[([0-9a-f-]{36})\]", line) for line in workload_lines(airflow, ti["id"])]
        ignored = [
            line
            for worker in WORKERS
            for line in airflow.process_log(worker).splitlines()
            if "Task already running elsewhere, ignoring redelivered message" in line
            and any(match and match.group(1) in line for match in celery_ids)
        ]
        return ignored

    started = time.monotonic()
    ignored = wait_for("Redis to redeliver the running task", redelivered, timeout=300, interval=2)
    figures = {"seconds_until_redelivery": round(time.monotonic() - started, 1)}
    pace(airflow, fleet, None)

    assert airflow.wait_run(DAG, run_id, timeout=180) == "success"
    final = task_instance(airflow, run_id)
    assert final["try_number"] == 1, final
    runs = airflow.emulator.runs(job_id)
    figures.update(
        deliveries=len(workload_lines(airflow, ti["id"])),
        redeliveries_ignored=len(ignored),
        remote_runs=len(runs),
        execute_calls=executes(airflow, job_id),
    )
    record(artifacts, "celery_redelivery", figures)
    assert figures["deliveries"] >= 2, figures
    assert len(runs) == 1 and runs[0]["status"] == "Success", runs
    assert figures["execute_calls"] == 1, figures


@pytest.mark.timeout(1800)
def test_a_killed_worker_s_retry_follows_the_same_remote_run(
    airflow: DistributedDeployment, artifacts: Path, workers_restored
) -> None:
    fleet = blocking_job(airflow, "Orphaned")
    ((name, job_id),) = fleet.jobs.items()
    run_id = airflow.trigger(DAG, {"job": name})
    first = wait_polling(airflow, run_id, 1, "Started CData Sync job")
    remote = airflow.emulator.runs(job_id)
    assert len(remote) == 1 and remote[0]["status"] == "Running", remote

    victim = airflow.worker_of(int(first["pid"]))
    killed_at = time.monotonic()
    airflow.kill(victim)  # the worker, its pool, the task's supervisor and the task process itself

    # After TASK_HEARTBEAT_TIMEOUT s without a heartbeat Airflow fails the try and retries it on the
    # worker left; the retry reads the run id try 1 kept in the task state store and follows that run.
    second = wait_polling(airflow, run_id, 2, "Reattaching to CData Sync job")
    figures: dict[str, Any] = {
        "killed_worker": victim,
        "heartbeat_timeout_seconds": TASK_HEARTBEAT_TIMEOUT,
        "seconds_until_retry_followed_the_run": round(time.monotonic() - killed_at, 1),
    }
    survivor = airflow.worker_of(int(second["pid"]))
    assert survivor != victim
    pace(airflow, fleet, None)

    assert airflow.wait_run(DAG, run_id, timeout=180) == "success"
    runs = airflow.emulator.runs(job_id)
    figures.update(remote_runs=len(runs), execute_calls=executes(airflow, job_id), retried_on=survivor)
    record(artifacts, "celery_worker_killed", figures)
    assert len(runs) == 1, runs
    assert runs[0]["id"] == remote[0]["id"] and runs[0]["status"] == "Success", runs
    assert figures["execute_calls"] == 1, figures
    log = airflow.task_log(DAG, run_id, TASK, try_number=2)
    assert f"run {remote[0]['id']}, started by try 1 of this task" in log, log[-3000:]
    assert f"run {remote[0]['id']} finished: Success" in log, log[-3000:]
