"""Sensors against the emulator: the job sensor (poke, run_id, soft_fail, deferral) and the history sensor
(cut-off parsing, clock-skew allowance, fail_on_failure, deferral)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    PokeReturnValue,
    TaskDeferred,
)
from cdata_sync_emulator import CDataSyncEmulator

from airflow_provider_cdata_sync.client.control import CLOCK_SKEW, Target
from airflow_provider_cdata_sync.links.cdata_sync import CONSOLE_URL_XCOM_KEY, RUN_ID_XCOM_KEY
from airflow_provider_cdata_sync.sensors.cdata_sync import (
    CDataSyncJobHistorySensor,
    CDataSyncJobSensor,
    CDataSyncPipelineSensor,
    CDataSyncTransformationSensor,
)
from airflow_provider_cdata_sync.triggers.cdata_sync import CDataSyncJobHistoryTrigger, CDataSyncJobTrigger
from tests.helpers import FakeTI, make_context, parse_time, start_run, use_connection
from tests.integration.conftest import Jobs


def job_sensor(**kwargs: Any) -> CDataSyncJobSensor:
    kwargs.setdefault("task_id", "wait")
    kwargs.setdefault("job", "UnitJob")
    kwargs.setdefault("poke_interval", 0.05)
    kwargs.setdefault("timeout", 30)
    kwargs.setdefault("deferrable", False)
    return CDataSyncJobSensor(**kwargs)


def history_sensor(**kwargs: Any) -> CDataSyncJobHistorySensor:
    kwargs.setdefault("task_id", "wait_history")
    kwargs.setdefault("job", "UnitJob")
    kwargs.setdefault("poke_interval", 0.05)
    kwargs.setdefault("timeout", 30)
    kwargs.setdefault("deferrable", False)
    return CDataSyncJobHistorySensor(**kwargs)


# ------------------------------------------------------------------------------- job sensor
def test_poke_is_false_while_the_run_is_going(server: CDataSyncEmulator, jobs: Jobs) -> None:
    server.set_speed(min_run_seconds=30)
    start_run(server, jobs.good.job_id)
    ti = FakeTI()

    assert job_sensor().poke(make_context(ti)) is False
    assert ti.pushes == []


def test_poke_is_done_with_the_summary_when_the_run_succeeded(server: CDataSyncEmulator, jobs: Jobs) -> None:
    run_id = start_run(server, jobs.good.job_id)["id"]
    server.wait_run(run_id)
    ti = FakeTI()

    result = job_sensor().poke(make_context(ti))

    assert isinstance(result, PokeReturnValue) and result.is_done
    assert result.xcom_value["run_id"] == run_id and result.xcom_value["status"] == "success"
    assert result.xcom_value["records_affected"] == 40
    url = f"{server.base_url}/console/jobs/{jobs.good.job_id}/history/{run_id}"
    assert ti.xcoms == {RUN_ID_XCOM_KEY: run_id, CONSOLE_URL_XCOM_KEY: url}


def test_poke_fails_on_a_failed_run(server: CDataSyncEmulator, jobs: Jobs) -> None:
    server.wait_run(start_run(server, jobs.broken.job_id)["id"])

    with pytest.raises(AirflowFailException, match=r"failed tasks: \[missing_table\] no such table"):
        job_sensor(job="UnitBroken").poke(make_context())


def test_poke_skips_a_failed_run_with_soft_fail(server: CDataSyncEmulator, jobs: Jobs) -> None:
    server.wait_run(start_run(server, jobs.broken.job_id)["id"])

    with pytest.raises(AirflowSkipException, match=r"missing_table.*soft_fail is set"):
        job_sensor(job="UnitBroken", soft_fail=True).poke(make_context())


def test_poke_waits_for_the_given_run_id(server: CDataSyncEmulator, jobs: Jobs) -> None:
    server.set_speed(min_run_seconds=0.5)
    first = start_run(server, jobs.good.job_id)["id"]
    sensor = job_sensor(run_id=first)
    assert sensor.poke(make_context()) is False
    server.wait_run(first)
    server.set_speed(min_run_seconds=30)
    start_run(server, jobs.good.job_id)  # a newer run is going: not the one asked for

    result = sensor.poke(make_context())

    assert result.is_done and result.xcom_value["run_id"] == first


def test_poke_polls_through_a_server_error(
    server: CDataSyncEmulator, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, server, max_retries=0)
    sensor = job_sensor()
    server.inject_fault(r"/v2/jobs/[^/]+/status$", "status", method="GET", count=1, status=503)

    assert sensor.poke(make_context()) is False
    assert server.faults() == []


def test_blocking_execute_returns_the_summary(server: CDataSyncEmulator, jobs: Jobs) -> None:
    server.set_speed(min_run_seconds=0.3)
    run_id = start_run(server, jobs.good.job_id)["id"]

    summary = job_sensor().execute(make_context())

    assert summary["run_id"] == run_id and summary["status"] == "success"


def test_deferrable_sensor_defers_with_a_watching_trigger(server: CDataSyncEmulator, jobs: Jobs) -> None:
    server.set_speed(min_run_seconds=30)
    run_id = start_run(server, jobs.good.job_id)["id"]
    before = time.time()

    with pytest.raises(TaskDeferred) as deferred:
        job_sensor(deferrable=True, timeout=120, poke_interval=3).execute(make_context())

    trigger = deferred.value.trigger
    assert isinstance(trigger, CDataSyncJobTrigger)
    assert trigger.run_id == run_id and trigger.target["id"] == jobs.good.job_id
    assert trigger.poll_interval == 3
    assert before + 120 <= trigger.end_time <= time.time() + 120
    assert trigger.serialize()[1]["cancel_on_kill"] is False  # a sensor never cancels what it watches


def test_deferrable_sensor_with_a_finished_run_does_not_defer(server: CDataSyncEmulator, jobs: Jobs) -> None:
    run_id = start_run(server, jobs.good.job_id)["id"]
    server.wait_run(run_id)

    summary = job_sensor(deferrable=True).execute(make_context())

    assert summary["run_id"] == run_id


@pytest.mark.parametrize(
    ("soft_fail", "error"), [(False, AirflowSensorTimeout), (True, AirflowSkipException)]
)
def test_sensor_timeout_event(
    server: CDataSyncEmulator, good_target: Target, soft_fail: bool, error: type
) -> None:
    event = {"status": "timeout", "target": good_target.to_dict(), "run_id": "1", "message": "late"}

    with pytest.raises(error, match="Sensor timed out waiting for CData Sync job 'UnitJob'"):
        job_sensor(soft_fail=soft_fail).execute_complete(make_context(), event)


def test_sensor_error_and_bad_events(server: CDataSyncEmulator, good_target: Target) -> None:
    with pytest.raises(AirflowException, match="failed: HTTP 401"):
        job_sensor().execute_complete(
            make_context(), {"status": "error", "target": good_target.to_dict(), "message": "HTTP 401"}
        )
    with pytest.raises(AirflowException, match="Unexpected event"):
        job_sensor().execute_complete(make_context(), {"status": "nope"})


def test_templated_fields_of_the_sensors() -> None:
    assert set(CDataSyncJobSensor.template_fields) == {"job", "run_id", "workspace"}
    assert set(CDataSyncTransformationSensor.template_fields) == {"transformation", "run_id", "workspace"}
    assert set(CDataSyncPipelineSensor.template_fields) == {"pipeline", "run_id", "workspace"}
    assert set(CDataSyncJobHistorySensor.template_fields) == {"job", "started_after", "workspace"}


# ------------------------------------------------------------------------------- history: cut-off
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02T05:04:05+02:00", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02T03:04:05", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),  # naive means UTC
        (datetime(2026, 1, 2, 3, 4, 5), datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ],
)
def test_started_after_parsing(value: Any, expected: datetime) -> None:
    since = history_sensor(started_after=value)._since(make_context())
    assert since == expected and since.tzinfo is not None


@pytest.mark.parametrize("rendered", [None, "None", "", "  ", "null"])
def test_started_after_empty_falls_back_to_the_data_interval_end(rendered: Any) -> None:
    end = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    context = make_context(data_interval_end=end, logical_date=end - timedelta(days=1))

    assert history_sensor(started_after=rendered)._since(context) == end


def test_started_after_falls_back_to_the_logical_date() -> None:
    logical = datetime(2026, 3, 4, tzinfo=UTC)
    assert history_sensor()._since(make_context(data_interval_end=None, logical_date=logical)) == logical


def test_started_after_garbage_or_missing_fails_clearly() -> None:
    with pytest.raises(AirflowFailException, match="not an ISO 8601 time"):
        history_sensor(started_after="yesterday-ish")._since(make_context())
    with pytest.raises(AirflowFailException, match="started_after is not set"):
        history_sensor()._since(make_context())


# ------------------------------------------------------------------------------- history: poke
def test_history_success_after_the_cut_off(server: CDataSyncEmulator, jobs: Jobs) -> None:
    since = datetime.now(UTC)
    run_id = start_run(server, jobs.good.job_id)["id"]
    server.wait_run(run_id)

    result = history_sensor(started_after=since.isoformat()).poke(make_context())

    assert result.is_done and result.xcom_value["run_id"] == run_id
    assert result.xcom_value["status"] == "success"


def test_history_runs_before_the_cut_off_are_ignored_beyond_the_clock_skew(
    server: CDataSyncEmulator, jobs: Jobs
) -> None:
    run = server.wait_run(start_run(server, jobs.good.job_id)["id"])
    started = parse_time(run["start_time"])

    just_too_late = started + CLOCK_SKEW + timedelta(seconds=0.5)
    within_skew = started + CLOCK_SKEW - timedelta(seconds=0.5)

    assert history_sensor(started_after=just_too_late.isoformat()).poke(make_context()) is False
    result = history_sensor(started_after=within_skew.isoformat()).poke(make_context())
    assert result.is_done and result.xcom_value["run_id"] == run["id"]


def test_history_failed_run_fails_fast_only_with_fail_on_failure(
    server: CDataSyncEmulator, jobs: Jobs
) -> None:
    since = datetime.now(UTC).isoformat()
    run_id = start_run(server, jobs.broken.job_id)["id"]
    server.wait_run(run_id)

    assert history_sensor(job="UnitBroken", started_after=since).poke(make_context()) is False
    with pytest.raises(AirflowFailException, match=rf"run {run_id} failed.*missing_table"):
        history_sensor(job="UnitBroken", started_after=since, fail_on_failure=True).poke(make_context())


def test_history_sensor_uses_the_data_interval_end_by_default(server: CDataSyncEmulator, jobs: Jobs) -> None:
    run = server.wait_run(start_run(server, jobs.good.job_id)["id"])
    started = parse_time(run["start_time"])
    sensor = history_sensor()

    assert sensor.poke(make_context(data_interval_end=started + timedelta(minutes=5))) is False
    assert sensor.poke(make_context(data_interval_end=started - timedelta(seconds=1))).is_done


def test_deferrable_history_sensor_defers_with_the_cut_off(server: CDataSyncEmulator) -> None:
    # In the future: the sensor looks once before deferring, and no run of the session can be after it.
    since = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)

    with pytest.raises(TaskDeferred) as deferred:
        history_sensor(deferrable=True, fail_on_failure=True, timeout=60).execute(
            make_context(data_interval_end=since)
        )

    trigger = deferred.value.trigger
    assert isinstance(trigger, CDataSyncJobHistoryTrigger)
    kwargs = trigger.serialize()[1]
    assert kwargs["since"] == since.isoformat() and kwargs["fail_on_failure"] is True
    assert kwargs["end_time"] == pytest.approx(time.time() + 60, abs=5)
