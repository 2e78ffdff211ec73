"""Cancel: a timeout, a deferred execution_timeout, Airflow failing the deferral, on_kill in blocking mode and
marking a deferred task failed all cancel the remote run and wait briefly until the cancel took effect
(checked in the emulator's own state right after the operator or trigger returns)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, TaskDeferred
from cdata_sync_emulator import CDataSyncEmulator

from airflow_provider_cdata_sync.operators.cdata_sync import CDataSyncRunJobOperator
from airflow_provider_cdata_sync.triggers.cdata_sync import CDataSyncJobTrigger
from tests.helpers import (
    FakeTI,
    calls,
    first_event,
    make_context,
    run_record,
    slow_cancel,
    start_run,
    wait_for,
)
from tests.integration.faults.conftest import JOB, V2_CANCEL, Jobs

#: What the triggerer passes to ``Task.cancel`` when a user marks a deferred task failed (Airflow 3.3).
USER_ACTION_CANCEL_MSG = "__airflow_user_action__"


@pytest.fixture(autouse=True)
def slow_runs(server: CDataSyncEmulator, jobs: Jobs) -> Iterator[None]:
    """Runs last long enough to be cancelled, and take a second to stop once cancelled."""
    server.set_speed(min_run_seconds=30, target_id=jobs.main.job_id)
    with slow_cancel(server, 1.0):
        yield


def job_operator(**kwargs: Any) -> CDataSyncRunJobOperator:
    kwargs.setdefault("deferrable", False)
    return CDataSyncRunJobOperator(task_id="run", job=JOB, check_interval=0.2, **kwargs)


def last_run(server: CDataSyncEmulator, jobs: Jobs) -> dict[str, Any]:
    return server.runs(jobs.main.job_id)[-1]


def test_blocking_timeout_cancels_the_run_and_waits_for_it(server: CDataSyncEmulator, jobs: Jobs) -> None:
    started = time.monotonic()

    with pytest.raises(AirflowException, match="timed out; the run was cancelled"):
        job_operator(timeout=1).execute(make_context())

    assert last_run(server, jobs)["status"] == "Cancelled"  # already, not some time later
    assert calls(server, "POST " + V2_CANCEL.strip("^$")) == 1
    assert time.monotonic() - started < 15


def test_deferred_execution_timeout_cancels_the_run(server: CDataSyncEmulator, jobs: Jobs) -> None:
    ti = FakeTI(start_date=datetime.now(UTC))
    operator = job_operator(deferrable=True, execution_timeout=timedelta(seconds=3))
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(make_context(ti))
    trigger = deferred.value.trigger
    # The trigger's own deadline comes before Airflow's execution_timeout, so the operator gets to cancel.
    assert trigger.end_time is not None and trigger.end_time < ti.start_date.timestamp() + 3
    event = asyncio.run(first_event(trigger, timeout=10))
    assert event["status"] == "timeout"

    with pytest.raises(AirflowException, match="the run was cancelled"):
        operator.execute_complete(make_context(ti), event)

    assert last_run(server, jobs)["status"] == "Cancelled"


def test_airflow_failing_the_deferral_cancels_the_run(server: CDataSyncEmulator, jobs: Jobs) -> None:
    """Airflow's own deferral timeout (or a crashed trigger) resumes the task with ``__fail__``."""
    ti = FakeTI()
    operator = job_operator(deferrable=True, timeout=60)
    with pytest.raises(TaskDeferred):
        operator.execute(make_context(ti))
    assert last_run(server, jobs)["status"] in ("Queued", "Running")

    with pytest.raises(Exception):  # noqa: B017 - whatever Airflow raises for __fail__
        operator.resume_execution("__fail__", {"error": "Trigger timeout"}, make_context(ti))

    assert last_run(server, jobs)["status"] == "Cancelled"


def test_on_kill_in_blocking_mode_cancels_the_run_and_waits(server: CDataSyncEmulator, jobs: Jobs) -> None:
    """What Airflow does when the task is marked failed or killed while it blocks: on_kill from another
    thread (the task runner's signal handler) while execute polls."""
    operator = job_operator()
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            operator.execute(make_context())
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    wait_for(lambda: server.runs(jobs.main.job_id) and last_run(server, jobs)["status"] == "Running")

    operator.on_kill()

    assert last_run(server, jobs)["status"] == "Cancelled"  # on_kill returned after the cancel took effect
    worker.join(15)
    assert not worker.is_alive()
    assert isinstance(outcome.get("error"), AirflowException)  # the blocked execute fails, not succeeds


def test_on_kill_before_the_start_answer_still_cancels(server: CDataSyncEmulator, jobs: Jobs) -> None:
    """Killed while the answer to execute is still on its way: the run that started is cancelled too."""
    # The answer to execute is lost after the run started, and the status look-up that would find the run
    # is slow: the kill comes while the operator does not know the run's id yet.
    server.inject_fault(r"/status$", "delay", method="GET", delay=1.0, count=10)
    server.inject_fault(r"/execute$", "reset_after", method="POST")
    operator = job_operator()

    def run() -> None:
        with contextlib.suppress(Exception):
            operator.execute(make_context())

    worker = threading.Thread(target=run)
    worker.start()
    wait_for(lambda: server.runs(jobs.main.job_id) and last_run(server, jobs)["status"] == "Running", 10)
    assert operator._active is not None and operator._active[1] is None  # the kill comes in that window
    operator.on_kill()

    assert last_run(server, jobs)["status"] == "Cancelled"
    worker.join(15)


def _target(server: CDataSyncEmulator, jobs: Jobs) -> dict[str, Any]:
    from airflow_provider_cdata_sync.client import CDataSyncClient, ClientConfig

    with CDataSyncClient(ClientConfig(base_url=server.base_url, token=server.token)) as client:
        return client.resolve_target("job", JOB).to_dict()


async def _mark_failed_while_deferred(trigger: CDataSyncJobTrigger) -> None:
    """What the triggerer does when a user marks the deferred task failed: cancel the trigger's task with
    the user-action message, then await ``on_kill()``."""
    task = asyncio.create_task(first_event(trigger, timeout=60))
    await asyncio.sleep(0.5)
    task.cancel(USER_ACTION_CANCEL_MSG)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await asyncio.wait_for(trigger.on_kill(), 30)


def test_marking_a_deferred_task_failed_cancels_the_run(server: CDataSyncEmulator, jobs: Jobs) -> None:
    run_id = start_run(server, jobs.main.job_id)["id"]
    trigger = CDataSyncJobTrigger(conn_id="cdata_sync_default", target=_target(server, jobs), run_id=run_id)

    asyncio.run(_mark_failed_while_deferred(trigger))

    wait_for(lambda: run_record(server, run_id)["status"] == "Cancelled", 5, "the cancel")
    assert calls(server, "POST " + V2_CANCEL.strip("^$")) == 1


def test_marking_a_deferred_task_failed_waits_for_the_cancel(server: CDataSyncEmulator, jobs: Jobs) -> None:
    run_id = start_run(server, jobs.main.job_id)["id"]
    trigger = CDataSyncJobTrigger(conn_id="cdata_sync_default", target=_target(server, jobs), run_id=run_id)
    asyncio.run(_mark_failed_while_deferred(trigger))

    status = run_record(server, run_id)["status"]  # right when on_kill returned
    assert status == "Cancelled"


def test_a_run_that_ends_between_the_look_and_the_cancel_is_reported_not_running(
    server: CDataSyncEmulator, jobs: Jobs
) -> None:
    """The status said Running, the cancel came a moment too late (409 "not running"): no error, and the
    outcome says the run had already ended."""
    from airflow_provider_cdata_sync.client import CDataSyncClient, ClientConfig

    server.set_speed(rows_per_second=None, min_run_seconds=0.0)
    run_id = start_run(server, jobs.main.job_id)["id"]
    server.wait_run(run_id)
    status_path = rf"^/api\.rsc/v2/jobs/{jobs.main.job_id}/status$"
    stale = {"status": "Running", "history_id": run_id}
    server.inject_fault(status_path, "status", method="GET", count=1, status=200, body=stale)

    with CDataSyncClient(ClientConfig(base_url=server.base_url, token=server.token)) as client:
        target = client.resolve_target("job", JOB)
        outcome = client.cancel_and_watch(target, run_id, pause=0.05)

    assert outcome.outcome == "not_running" and outcome.run is not None
    assert outcome.run.status == "Success"
    assert calls(server, r"^POST /api\.rsc/v2/jobs/[^/]+/cancel$") >= 1  # sent; its 409 did not escape
