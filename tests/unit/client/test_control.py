"""The run-control engine's pure parts: the wait state machine and the trigger event payloads.

No server and no Airflow: the clock is a variable the test moves, so every decision (poll interval
counted from the start of a look, deadline, error budget with backoff, unknown-status budget, history
judging) is checked exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_cdata_sync.client import (
    CDataSyncAuthenticationError,
    CDataSyncServerError,
    CDataSyncTransportError,
    Run,
    RunEvent,
    Target,
    WaitMachine,
    WaitSettings,
)
from airflow_provider_cdata_sync.client.control import Finished, Poll

TARGET = Target("job", "42", "NightlyLoad", "default", ("c1",), "v2")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def machine(clock: Clock, **settings: float | int | None) -> WaitMachine:
    options = {"poll_interval": 10.0, **settings}
    return WaitMachine("CData Sync", TARGET, "7", WaitSettings(**options), clock=clock)  # type: ignore[arg-type]


def test_intervals_are_counted_from_the_start_of_each_look() -> None:
    clock = Clock()
    wait = machine(clock)
    assert wait.begin() == Poll(0.0)
    wait.looking()
    clock.now += 3.0  # the look itself took 3 s (a shared poller's tick, a slow server)
    assert wait.observed(Run(id="7", status="Running")) == Poll(7.0)
    wait.looking()
    clock.now += 12.0  # a look longer than the interval: look again at once
    assert wait.observed(Run(id="7", status="Queued")) == Poll(0.0)


def test_a_finished_run_ends_the_wait_with_its_final_status() -> None:
    wait = machine(Clock())
    for status, expected in (("Success", "success"), ("Failed", "failed"), ("Cancelled", "cancelled")):
        decision = wait.observed(Run(id="7", status=status))
        assert isinstance(decision, Finished)
        assert decision.event.status == expected and decision.event.run_id == "7"
        assert decision.event.run is not None and decision.event.run.status == status


def test_the_deadline_bounds_every_pause_and_then_times_out() -> None:
    clock = Clock()
    wait = machine(clock, end_time=clock.now + 4.0)
    wait.looking()
    assert wait.observed(Run(id="7", status="Running")) == Poll(4.0)
    clock.now += 4.0
    decision = wait.observed(Run(id="7", status="Running"))
    assert isinstance(decision, Finished) and decision.event.status == "timeout"
    assert "Timed out waiting for CData Sync job 'NightlyLoad'" in decision.event.message


def test_transient_errors_back_off_within_the_budget_then_give_up() -> None:
    wait = machine(Clock(), max_consecutive_errors=3)
    error = CDataSyncServerError(503, "busy", method="GET", path="/api.rsc/v2/jobs/42/history/7")
    assert [wait.failed(error) for _ in range(3)] == [Poll(10.0), Poll(20.0), Poll(40.0)]
    assert len(wait.take_warnings()) == 3
    decision = wait.failed(error)
    assert isinstance(decision, Finished) and decision.event.status == "error"
    assert "Gave up after 4 consecutive failed polls of CData Sync" in decision.event.message


def test_a_good_look_resets_the_error_budget() -> None:
    wait = machine(Clock(), max_consecutive_errors=1)
    error = CDataSyncTransportError("Could not reach CData Sync")
    assert isinstance(wait.failed(error), Poll)
    wait.observed(Run(id="7", status="Running"))
    assert isinstance(wait.failed(error), Poll)


def test_an_error_that_polling_cannot_cure_ends_the_wait_at_once() -> None:
    wait = machine(Clock())
    decision = wait.failed(CDataSyncAuthenticationError(401, "Unauthorized", hint="check the token"))
    assert isinstance(decision, Finished) and decision.event.status == "error"
    assert "401" in decision.event.message and "check the token" in decision.event.message


def test_unknown_statuses_are_never_success_and_are_limited() -> None:
    wait = machine(Clock(), max_unknown_polls=3)
    assert isinstance(wait.observed(Run(id="7", status="Frobnicating")), Poll)
    assert isinstance(wait.observed(Run(id="7", status="Frobnicating")), Poll)
    decision = wait.observed(Run(id="7", status="Frobnicating"))
    assert isinstance(decision, Finished) and decision.event.status == "error"
    assert "unknown status 'Frobnicating'" in decision.event.message
    assert "not treated as success" in decision.event.message
    assert wait.take_warnings(), "each unknown status is warned about"


def test_a_wait_without_a_run_id_follows_the_first_active_run_it_sees() -> None:
    wait = WaitMachine("CData Sync", TARGET, None, WaitSettings(5.0), clock=Clock())
    assert isinstance(wait.observed(None), Poll), "no run yet: wait on"
    wait.observed(Run(id="9", status="Running"))
    assert wait.run_id == "9"


def test_history_waits_end_on_a_good_run_or_on_failure_when_asked() -> None:
    since = datetime(2026, 12, 1, tzinfo=UTC)
    good = Run(id="3", status="Successful", start_time=since + timedelta(minutes=1))
    failed = Run(id="4", status="7 of 13 Tasks Failed", start_time=since + timedelta(minutes=2))
    patient = WaitMachine("CData Sync", TARGET, None, WaitSettings(5.0), since, clock=Clock())
    assert isinstance(patient.observed_history([failed]), Poll), "a failure alone does not end it"
    decision = patient.observed_history([good, failed])
    assert isinstance(decision, Finished) and decision.event.run_id == "3"
    strict = WaitMachine("CData Sync", TARGET, None, WaitSettings(5.0), since, True, clock=Clock())
    decision = strict.observed_history([failed])
    assert isinstance(decision, Finished) and decision.event.status == "failed"


def test_events_round_trip_through_their_json_payload() -> None:
    run = Run(id="7", status="Failed", details="1 of 2 tasks failed")
    event = RunEvent("failed", TARGET, "7", run, "Run 7 ended: Failed")
    payload = event.to_payload()
    import json

    again = RunEvent.from_payload(json.loads(json.dumps(payload)), kinds=("job",))
    assert again == event


@pytest.mark.parametrize(
    ("payload", "complaint"),
    [
        (None, "Unexpected event from the CData Sync trigger"),
        ({"status": "maybe", "target": TARGET.to_dict()}, "Unexpected event"),
        ({"status": "success", "target": TARGET.to_dict(), "run": None}, "carries no run"),
        ({"status": "error", "target": {**TARGET.to_dict(), "kind": "pipeline"}}, "reported a pipeline"),
    ],
)
def test_a_malformed_event_is_refused_saying_why(payload: object, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        RunEvent.from_payload(payload, kinds=("job",), service="CData Sync")
