"""Triggers: serialisation, and real polling of the emulator (success, failure, deadline, faults, auth,
unknown statuses, restart from the serialised form, on_kill)."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cdata_sync_emulator import CDataSyncEmulator

from airflow_provider_cdata_sync.client.control import CLOCK_SKEW, Target
from airflow_provider_cdata_sync.triggers.cdata_sync import (
    CDataSyncJobHistoryTrigger,
    CDataSyncJobTrigger,
    CDataSyncPipelineTrigger,
    CDataSyncTransformationTrigger,
)
from tests.helpers import (
    calls_matching,
    first_event,
    parse_time,
    run_status,
    start_run,
    use_connection,
    wait_for,
)
from tests.integration.conftest import Jobs

HISTORY_PATH = r"/v2/jobs/[^/]+/history/\d+$"
STATUS_PATH = r"/v2/jobs/[^/]+/status$"
TARGET = {"kind": "job", "id": "j-1", "name": "Nightly", "workspace": "default", "connection_ids": ["c1"]}


def job_trigger(target: Target, **kwargs: Any) -> CDataSyncJobTrigger:
    kwargs.setdefault("poll_interval", 0.05)
    return CDataSyncJobTrigger(conn_id="cdata_sync_default", target=target.to_dict(), **kwargs)


# ------------------------------------------------------------------------------- serialisation
@pytest.mark.parametrize(
    ("cls", "extra"),
    [
        (CDataSyncJobTrigger, {"run_id": "42", "cancel_on_kill": False}),
        (CDataSyncTransformationTrigger, {"run_id": None}),
        (CDataSyncPipelineTrigger, {"run_id": "7", "cancel_on_kill": True}),
        (CDataSyncJobHistoryTrigger, {"since": "2026-01-02T03:04:05+00:00", "fail_on_failure": True}),
    ],
)
def test_serialize_round_trip(cls: type, extra: dict[str, Any]) -> None:
    trigger = cls(
        conn_id="my_sync",
        target=TARGET,
        poll_interval=12,
        end_time=1_900_000_000.5,
        max_consecutive_errors=3,
        max_unknown_polls=4,
        **extra,
    )

    classpath, kwargs = trigger.serialize()

    module, _, name = classpath.rpartition(".")
    assert getattr(importlib.import_module(module), name) is cls
    rebuilt = cls(**json.loads(json.dumps(kwargs)))  # what the triggerer does, through the DB
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs["target"] == TARGET and kwargs["conn_id"] == "my_sync"
    assert kwargs["end_time"] == 1_900_000_000.5 and kwargs["poll_interval"] == 12.0
    assert kwargs["max_consecutive_errors"] == 3 and kwargs["max_unknown_polls"] == 4
    for key, value in extra.items():
        assert kwargs[key] == value


def test_run_triggers_cancel_on_kill_by_default() -> None:
    _, kwargs = CDataSyncJobTrigger(conn_id="c", target=TARGET).serialize()
    assert kwargs["cancel_on_kill"] is True
    assert kwargs["run_id"] is None and kwargs["end_time"] is None


# ------------------------------------------------------------------------------- outcomes
async def test_finished_run_yields_success_with_the_run(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target
) -> None:
    server.set_speed(min_run_seconds=0.4)
    run_id = start_run(server, jobs.good.job_id)["id"]

    event = await first_event(job_trigger(good_target, run_id=run_id))

    assert event["status"] == "success"
    assert event["run_id"] == run_id and event["run"]["id"] == run_id
    assert event["run"]["status"] == "Success"
    assert {task["table"]: task["records_affected"] for task in event["run"]["tasks"]} == {
        "accounts": 20,
        "contacts": 20,
    }
    assert event["target"] == good_target.to_dict()
    json.dumps(event)  # events cross process boundaries


async def test_trigger_without_run_id_follows_the_current_run(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target
) -> None:
    server.set_speed(min_run_seconds=0.4)
    run_id = start_run(server, jobs.good.job_id)["id"]

    event = await first_event(job_trigger(good_target))

    assert event["status"] == "success" and event["run_id"] == run_id


async def test_failed_run_yields_failed(server: CDataSyncEmulator, jobs: Jobs, broken_target: Target) -> None:
    run_id = start_run(server, jobs.broken.job_id)["id"]

    event = await first_event(job_trigger(broken_target, run_id=run_id))

    assert event["status"] == "failed"
    assert event["run_id"] == run_id
    assert "no such table: missing_table" in event["run"]["error"]
    assert event["message"] == f"Run {run_id} of CData Sync job 'UnitBroken' ended: Failed"


async def test_deadline_in_the_past_yields_timeout(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target
) -> None:
    server.set_speed(min_run_seconds=30)
    run_id = start_run(server, jobs.good.job_id)["id"]

    event = await first_event(job_trigger(good_target, run_id=run_id, end_time=time.time() - 1), timeout=5)

    assert event["status"] == "timeout"
    assert event["run_id"] == run_id and event["run"] is None
    assert "Timed out waiting for CData Sync job 'UnitJob'" in event["message"]
    assert run_status(server, run_id) == "Running"  # the trigger reports; the operator cancels


async def test_near_deadline_yields_timeout_at_the_deadline_not_the_poll_interval(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target
) -> None:
    server.set_speed(min_run_seconds=30)
    run_id = start_run(server, jobs.good.job_id)["id"]
    started = time.monotonic()

    event = await first_event(
        job_trigger(good_target, run_id=run_id, poll_interval=60, end_time=time.time() + 0.5), timeout=10
    )

    assert event["status"] == "timeout"
    assert time.monotonic() - started < 5  # not the 60 s poll interval


# ------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(("path", "with_run_id"), [(HISTORY_PATH, True), (STATUS_PATH, False)])
async def test_transient_faults_are_polled_through(
    server: CDataSyncEmulator,
    jobs: Jobs,
    good_target: Target,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    with_run_id: bool,
) -> None:
    use_connection(monkeypatch, server, max_retries=0)  # each 503 is one failed poll
    server.set_speed(min_run_seconds=0.3)
    run_id = start_run(server, jobs.good.job_id)["id"]
    server.inject_fault(path, "status", method="GET", count=3, status=503)

    event = await first_event(
        job_trigger(good_target, run_id=run_id if with_run_id else None, max_consecutive_errors=3)
    )

    assert event["status"] == "success" and event["run_id"] == run_id
    assert server.faults() == []  # all three failures were met


async def test_too_many_consecutive_failures_yield_error(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, server, max_retries=0)
    run_id = start_run(server, jobs.good.job_id)["id"]
    server.wait_run(run_id)
    server.inject_fault(HISTORY_PATH, "status", method="GET", count=10, status=503)

    event = await first_event(job_trigger(good_target, run_id=run_id, max_consecutive_errors=2))

    assert event["status"] == "error"
    assert event["run_id"] == run_id
    assert "Gave up after 3 consecutive failed polls of CData Sync" in event["message"]
    assert "503" in event["message"]
    assert server.faults()[0]["remaining"] == 7  # exactly 3 polls, then it stopped


async def test_wrong_token_yields_error_at_once(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, server, token="not-the-token")
    run_id = start_run(server, jobs.good.job_id)["id"]
    polls_before = calls_matching(server, HISTORY_PATH)

    event = await first_event(job_trigger(good_target, run_id=run_id, max_consecutive_errors=5), timeout=10)

    assert event["status"] == "error"
    assert "401" in event["message"]
    assert "not-the-token" not in event["message"]
    assert calls_matching(server, HISTORY_PATH) == polls_before + 1  # no retry, no second poll


async def test_unknown_status_is_never_success_and_ends_in_error(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target
) -> None:
    run_id = start_run(server, jobs.good.job_id)["id"]
    server.wait_run(run_id)  # the run really succeeded, but the server says a word nobody knows
    body = {"id": run_id, "status": "Frobnicating", "records_affected": 40}
    server.inject_fault(HISTORY_PATH, "status", method="GET", count=50, status=200, body=body)

    event = await first_event(job_trigger(good_target, run_id=run_id, max_unknown_polls=3))

    assert event["status"] == "error"
    assert "unknown status 'Frobnicating'" in event["message"]
    assert "not treated as success" in event["message"]
    assert server.faults()[0]["remaining"] == 47  # gave up after max_unknown_polls polls


async def test_unknown_status_for_a_while_then_known_completes(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target
) -> None:
    run_id = start_run(server, jobs.good.job_id)["id"]
    server.wait_run(run_id)
    body = {"id": run_id, "status": "Frobnicating"}
    server.inject_fault(HISTORY_PATH, "status", method="GET", count=2, status=200, body=body)

    event = await first_event(job_trigger(good_target, run_id=run_id, max_unknown_polls=3))

    assert event["status"] == "success" and event["run"]["status"] == "Success"


# ------------------------------------------------------------------------------- restart
async def test_trigger_rebuilt_from_its_serialised_form_resumes_its_run(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target
) -> None:
    server.set_speed(min_run_seconds=1.0)
    first_run = start_run(server, jobs.good.job_id)["id"]
    trigger = job_trigger(good_target)  # no run id: it follows the current run
    with pytest.raises(TimeoutError):
        await first_event(trigger, timeout=0.4)  # the triggerer stops while the run goes on
    classpath, kwargs = trigger.serialize()
    assert kwargs["run_id"] == first_run

    # Meanwhile the run ends and someone starts another one.
    server.wait_run(first_run)
    server.set_speed(min_run_seconds=30)
    second_run = start_run(server, jobs.good.job_id)["id"]

    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))
    event = await first_event(rebuilt, timeout=10)

    assert event["status"] == "success"
    assert event["run_id"] == first_run != second_run
    assert run_status(server, second_run) == "Running"


# ------------------------------------------------------------------------------- on_kill
async def test_on_kill_cancels_the_run_it_waits_for(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target
) -> None:
    server.set_speed(min_run_seconds=30)
    run_id = start_run(server, jobs.good.job_id)["id"]

    await job_trigger(good_target, run_id=run_id).on_kill()

    assert server.wait_run(run_id, timeout=5)["status"] == "Cancelled"


async def test_on_kill_does_nothing_when_cancel_on_kill_is_false(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target
) -> None:
    server.set_speed(min_run_seconds=30)
    run_id = start_run(server, jobs.good.job_id)["id"]

    await job_trigger(good_target, run_id=run_id, cancel_on_kill=False).on_kill()
    await asyncio.sleep(0.2)

    assert run_status(server, run_id) == "Running"


async def test_on_kill_leaves_another_run_alone(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target
) -> None:
    old_run = start_run(server, jobs.good.job_id)["id"]
    server.wait_run(old_run)
    server.set_speed(min_run_seconds=30)
    new_run = start_run(server, jobs.good.job_id)["id"]

    await job_trigger(good_target, run_id=old_run).on_kill()  # its run is over; this one is not its
    await asyncio.sleep(0.2)

    assert run_status(server, new_run) == "Running"


# ------------------------------------------------------------------------------- history trigger
async def test_history_trigger_succeeds_on_a_run_after_the_cut_off(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target
) -> None:
    # The cut-off is just far enough after the last run for the clock-skew allowance to exclude it.
    last_start = max(parse_time(run["start_time"]) for run in server.runs(jobs.good.job_id))
    since = last_start + CLOCK_SKEW + timedelta(seconds=0.05)
    wait_for(lambda: datetime.now(UTC) > since - CLOCK_SKEW, what="the skew window to open")
    server.set_speed(min_run_seconds=0.3)
    trigger = CDataSyncJobHistoryTrigger(
        conn_id="cdata_sync_default",
        target=good_target.to_dict(),
        since=since.isoformat(),
        poll_interval=0.05,
    )
    task = asyncio.ensure_future(first_event(trigger))
    await asyncio.sleep(0.2)
    assert not task.done()  # nothing since the cut-off yet: it waits
    run_id = start_run(server, jobs.good.job_id)["id"]

    event = await task

    assert event["status"] == "success" and event["run_id"] == run_id


async def test_history_trigger_fail_on_failure(
    server: CDataSyncEmulator, jobs: Jobs, broken_target: Target
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    run_id = start_run(server, jobs.broken.job_id)["id"]
    trigger = CDataSyncJobHistoryTrigger(
        conn_id="cdata_sync_default",
        target=broken_target.to_dict(),
        since=since.isoformat(),
        fail_on_failure=True,
        poll_interval=0.05,
    )

    event = await first_event(trigger)

    assert event["status"] == "failed" and event["run_id"] == run_id
