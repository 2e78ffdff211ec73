"""Transient faults during execute, status polls, history and log fetches: 429 with Retry-After, 5xx,
resets, garbled and slow answers. Waits survive a configurable number of consecutive failures, then fail
with a clear error; a log that cannot be fetched never fails a successful run and the task log says so."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, TaskDeferred
from cdata_sync_emulator import CDataSyncEmulator

from airflow_provider_cdata_sync.operators.cdata_sync import CDataSyncRunJobOperator
from tests.helpers import calls, first_event, make_context, use_connection
from tests.integration.faults.conftest import JOB, V2_EXECUTE, V2_HISTORY, V2_LOG, V2_RUN, V2_STATUS, Jobs

#: One of each transient fault a poll can meet.
POLL_FAULTS: list[dict[str, Any]] = [
    {"action": "status", "status": 500},
    {"action": "status", "status": 502},
    {"action": "status", "status": 503},
    {"action": "status", "status": 504},
    {"action": "status", "status": 429, "retry_after": 0.2},
    {"action": "reset"},
    {"action": "malformed"},
    {"action": "delay", "delay": 1.0},  # slower than the read timeout below
]


def job_operator(**kwargs: Any) -> CDataSyncRunJobOperator:
    kwargs.setdefault("deferrable", False)
    return CDataSyncRunJobOperator(task_id="run", job=JOB, check_interval=0.1, **kwargs)


def inject_all(
    server: CDataSyncEmulator, path: str, faults: list[dict[str, Any]], method: str = "GET"
) -> None:
    for fault in faults:
        server.inject_fault(path, method=method, **fault)


@pytest.mark.parametrize(
    "fault",
    [
        {"action": "status", "status": 429, "retry_after": 1},
        {"action": "status", "status": 503},
        {"action": "reset_after"},
        {"action": "delay", "delay": 1.0},
    ],
    ids=["429-retry-after", "503", "reset", "slow"],
)
def test_execute_survives_a_transient_fault_and_starts_one_run(
    server: CDataSyncEmulator, jobs: Jobs, monkeypatch: pytest.MonkeyPatch, fault: dict[str, Any]
) -> None:
    use_connection(monkeypatch, server, timeout=0.5, max_retries=2)
    before = len(server.runs(jobs.main.job_id))
    server.inject_fault(V2_EXECUTE, method="POST", **fault)
    started = time.monotonic()

    summary = job_operator().execute(make_context())

    assert summary["status"] == "success"
    assert len(server.runs(jobs.main.job_id)) == before + 1
    assert summary["run_id"] == server.runs(jobs.main.job_id)[-1]["id"]
    if fault.get("retry_after"):
        assert time.monotonic() - started >= 1.0  # Retry-After was honoured
        assert calls(server, r"^POST .*/execute$") == 2  # refused, then accepted: still one run
    else:
        assert calls(server, r"^POST .*/execute$") <= 2


def test_lost_execute_answer_found_through_a_faulty_history(
    server: CDataSyncEmulator, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run finished before the client looked for it: it is found in the history, through 429/5xx."""
    use_connection(monkeypatch, server, max_retries=3)
    before = len(server.runs(jobs.main.job_id))
    server.inject_fault(V2_EXECUTE, "reset_after", method="POST")
    server.inject_fault(V2_STATUS, "delay", method="GET", delay=0.3, count=10)  # the run ends meanwhile
    server.inject_fault(V2_HISTORY, method="GET", status=429, retry_after=0.2)
    server.inject_fault(V2_HISTORY, method="GET", status=502)
    server.inject_fault(V2_HISTORY, "reset", method="GET")

    summary = job_operator().execute(make_context())

    runs = server.runs(jobs.main.job_id)
    assert len(runs) == before + 1 and summary["run_id"] == runs[-1]["id"]
    assert calls(server, "GET " + V2_HISTORY.strip("^$")) >= 4


def test_blocking_polls_survive_each_kind_of_fault(
    server: CDataSyncEmulator, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No client retries: each fault is one failed poll; 8 in a row.
    use_connection(monkeypatch, server, max_retries=0, timeout=0.5)
    server.set_speed(min_run_seconds=2.5, target_id=jobs.main.job_id)
    inject_all(server, V2_RUN, POLL_FAULTS)

    summary = job_operator(max_consecutive_poll_errors=8).execute(make_context())

    assert summary["status"] == "success"
    assert not [f for f in server.faults() if f["path"] == V2_RUN], "every poll fault was met"


def test_blocking_polls_give_up_after_the_configured_number_of_failures(
    server: CDataSyncEmulator, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, server, max_retries=0)
    server.set_speed(min_run_seconds=30, target_id=jobs.main.job_id)
    server.inject_fault(V2_RUN, method="GET", status=503, count=100)

    with pytest.raises(AirflowException, match=r"Polling CData Sync failed \(4 in a row\).*503"):
        job_operator(max_consecutive_poll_errors=3).execute(make_context())

    assert 100 - server.faults()[0]["remaining"] == 4


def _deferred_trigger(server: CDataSyncEmulator, **kwargs: Any) -> Any:
    with pytest.raises(TaskDeferred) as deferred:
        job_operator(deferrable=True, **kwargs).execute(make_context())
    trigger = deferred.value.trigger
    trigger.poll_interval = 0.1
    return trigger


def test_deferred_wait_survives_faults(
    server: CDataSyncEmulator, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, server, max_retries=0, timeout=0.5)
    server.set_speed(min_run_seconds=1.0, target_id=jobs.main.job_id)
    trigger = _deferred_trigger(server, max_consecutive_poll_errors=10)
    # Five in a row (the trigger backs off exponentially between failed polls: more would be slow here).
    inject_all(server, V2_RUN, [POLL_FAULTS[i] for i in (0, 4, 5, 6, 7)])

    event = asyncio.run(first_event(trigger, timeout=30))

    assert event["status"] == "success", event
    assert event["run"]["records_affected"] == 40


def test_deferred_wait_gives_up_with_a_clear_error(
    server: CDataSyncEmulator, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, server, max_retries=0)
    server.set_speed(min_run_seconds=30, target_id=jobs.main.job_id)
    trigger = _deferred_trigger(server, max_consecutive_poll_errors=2)
    server.inject_fault(V2_RUN, method="GET", status=502, count=100)
    server.inject_fault(V2_STATUS, method="GET", status=502, count=100)

    event = asyncio.run(first_event(trigger, timeout=30))

    assert event["status"] == "error"
    assert "Gave up after 3 consecutive failed polls" in event["message"] and "502" in event["message"]


@pytest.mark.parametrize(
    "fault",
    [
        {"action": "status", "status": 500},
        {"action": "status", "status": 503},
        {"action": "reset"},
        {"action": "delay", "delay": 1.0},
        {"action": "status", "status": 429, "retry_after": 0.1},
    ],
    ids=["500", "503", "reset", "slow", "429"],
)
def test_failed_log_fetch_never_fails_a_successful_run(
    server: CDataSyncEmulator,
    jobs: Jobs,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    fault: dict[str, Any],
) -> None:
    use_connection(monkeypatch, server, max_retries=1, timeout=0.5)
    server.inject_fault(V2_LOG, method="POST", count=100, **fault)

    summary = job_operator().execute(make_context())

    assert summary["status"] == "success" and summary["records_affected"] == 40
    output = capfd.readouterr().out
    assert "Could not fetch the CData Sync log of run" in output
    assert "the run is not affected" in output
