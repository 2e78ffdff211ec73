"""Run operators called directly against the emulator: start, follow, wait, report, fail, cancel, defer."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, TaskDeferred
from cdata_sync_emulator import CDataSyncEmulator
from cdata_sync_emulator.testing import count_rows

from airflow_provider_cdata_sync.client import CDataSyncConflictError
from airflow_provider_cdata_sync.client.control import Target
from airflow_provider_cdata_sync.links.cdata_sync import CONSOLE_URL_XCOM_KEY, RUN_ID_XCOM_KEY
from airflow_provider_cdata_sync.operators.cdata_sync import (
    TARGET_XCOM_KEY,
    CDataSyncCancelJobOperator,
    CDataSyncRunJobOperator,
    CDataSyncRunPipelineOperator,
    CDataSyncRunTransformationOperator,
)
from airflow_provider_cdata_sync.reporting import LOG_GROUP_END, LOG_GROUP_START
from airflow_provider_cdata_sync.triggers.cdata_sync import CDataSyncJobTrigger
from tests.helpers import (
    FakeTI,
    calls_matching,
    first_event,
    make_context,
    run_status,
    start_run,
    wait_for,
)
from tests.integration.conftest import Jobs

HISTORY_PATH = r"/v2/jobs/[^/]+/history/\d+$"


def job_op(**kwargs: Any) -> CDataSyncRunJobOperator:
    kwargs.setdefault("task_id", "run")
    kwargs.setdefault("check_interval", 0.05)
    kwargs.setdefault("deferrable", False)
    return CDataSyncRunJobOperator(**kwargs)


def trigger_for(target: Target, run_id: str) -> CDataSyncJobTrigger:
    return CDataSyncJobTrigger(
        conn_id="cdata_sync_default", target=target.to_dict(), run_id=run_id, poll_interval=0.05
    )


def console(server: CDataSyncEmulator, job_id: str, run_id: str) -> str:
    return f"{server.base_url}/console/jobs/{job_id}/history/{run_id}"


# ------------------------------------------------------------------------------- success
@pytest.mark.parametrize("by", ["name", "id"])
def test_runs_a_job_by_name_or_id_and_returns_its_summary(
    server: CDataSyncEmulator, jobs: Jobs, by: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ti = FakeTI()
    before = len(server.runs(jobs.good.job_id))

    summary = job_op(job="UnitJob" if by == "name" else jobs.good.job_id).execute(make_context(ti))

    runs = server.runs(jobs.good.job_id)
    assert len(runs) == before + 1
    run = runs[-1]
    assert run["status"] == "Success"
    assert summary["run_id"] == run["id"]
    assert summary["kind"] == "job" and summary["id"] == jobs.good.job_id and summary["name"] == "UnitJob"
    assert summary["status"] == "success" and summary["records_affected"] == 40
    assert summary["console_url"] == console(server, jobs.good.job_id, run["id"])
    assert count_rows(jobs.good.destination_db, "accounts") == 20
    # the task log shows the remote log in a folded group and the per-task table
    log = capsys.readouterr().out  # the task log
    assert log.index(LOG_GROUP_START) < log.index("Replicating table [contacts]") < log.index(LOG_GROUP_END)
    assert "contacts  success  20" in log


def test_tasks_by_table_name_run_only_those_tasks(server: CDataSyncEmulator, jobs: Jobs) -> None:
    summary = job_op(job="UnitJob", tasks=["contacts"]).execute(make_context())

    run = server.runs(jobs.good.job_id)[-1]
    assert [task["table"] for task in run["tasks"]] == ["contacts"]
    assert [task["table"] for task in summary["tasks"]] == ["contacts"]
    assert summary["records_affected"] == 20


def test_tasks_as_a_comma_separated_string(server: CDataSyncEmulator, jobs: Jobs) -> None:
    job_op(job="UnitJob", tasks=" contacts , accounts ").execute(make_context())

    run = server.runs(jobs.good.job_id)[-1]
    assert sorted(task["table"] for task in run["tasks"]) == ["accounts", "contacts"]


def test_unknown_task_fails_without_starting_anything(server: CDataSyncEmulator, jobs: Jobs) -> None:
    before = len(server.runs(jobs.good.job_id))

    with pytest.raises(AirflowFailException, match="nosuchtable"):
        job_op(job="UnitJob", tasks=["nosuchtable"]).execute(make_context())

    assert len(server.runs(jobs.good.job_id)) == before


def test_unknown_job_fails_without_retry_naming_the_job(server: CDataSyncEmulator) -> None:
    with pytest.raises(AirflowFailException, match="NoSuchJob"):
        job_op(job="NoSuchJob").execute(make_context())


def test_run_id_and_console_url_are_pushed_before_the_first_poll(
    server: CDataSyncEmulator, jobs: Jobs
) -> None:
    server.set_speed(min_run_seconds=0.5)
    polls = lambda: calls_matching(server, rf"^GET .*{HISTORY_PATH}")  # noqa: E731
    baseline = polls()
    ti = FakeTI(on_push=lambda key, value: (polls() - baseline, server.runs(jobs.good.job_id)[-1]["status"]))

    summary = job_op(job="UnitJob").execute(make_context(ti))

    pushed = {key: (value, snapshot) for key, value, snapshot in ti.pushes}
    run_id = summary["run_id"]
    assert pushed[RUN_ID_XCOM_KEY] == (run_id, (0, "Running"))
    assert pushed[CONSOLE_URL_XCOM_KEY] == (console(server, jobs.good.job_id, run_id), (0, "Running"))
    assert pushed["_link_CDataSyncJobLink"][0] == console(server, jobs.good.job_id, run_id)
    assert pushed[TARGET_XCOM_KEY][0]["id"] == jobs.good.job_id
    assert polls() > baseline  # it did poll, after the pushes


def test_wait_for_termination_false_returns_at_once(server: CDataSyncEmulator, jobs: Jobs) -> None:
    server.set_speed(min_run_seconds=30)
    started = time.monotonic()

    summary = job_op(job="UnitJob", wait_for_termination=False).execute(make_context())

    assert time.monotonic() - started < 5
    assert summary["status"] in ("queued", "running")
    assert run_status(server, summary["run_id"]) in ("Queued", "Running")


# ------------------------------------------------------------------------------- reuse
def test_a_running_job_is_followed_not_started_again(server: CDataSyncEmulator, jobs: Jobs) -> None:
    server.set_speed(min_run_seconds=0.5)
    running = start_run(server, jobs.good.job_id)["id"]
    before = len(server.runs(jobs.good.job_id))

    summary = job_op(job="UnitJob").execute(make_context())

    assert summary["run_id"] == running and summary["status"] == "success"
    assert len(server.runs(jobs.good.job_id)) == before  # no second run


def test_reuse_existing_run_false_raises_a_conflict(server: CDataSyncEmulator, jobs: Jobs) -> None:
    server.set_speed(min_run_seconds=30)
    running = start_run(server, jobs.good.job_id)["id"]
    before = len(server.runs(jobs.good.job_id))

    with pytest.raises(
        CDataSyncConflictError, match=rf"409 .*already has a run in progress \(run {running}\)"
    ):
        job_op(job="UnitJob", reuse_existing_run=False).execute(make_context())

    assert len(server.runs(jobs.good.job_id)) == before
    assert run_status(server, running) == "Running"  # the other run is not touched


# ------------------------------------------------------------------------------- failures
def test_failing_job_names_the_failed_task_and_its_error(server: CDataSyncEmulator, jobs: Jobs) -> None:
    with pytest.raises(AirflowException) as raised:
        job_op(job="UnitBroken").execute(make_context())

    message = str(raised.value)
    run_id = server.runs(jobs.broken.job_id)[-1]["id"]
    assert f"CData Sync job 'UnitBroken' run {run_id} failed" in message
    assert "failed tasks: [missing_table] no such table: missing_table" in message
    assert console(server, jobs.broken.job_id, run_id) in message


@pytest.mark.parametrize("fail_on_warnings", [False, True])
def test_fail_on_warnings(server: CDataSyncEmulator, jobs: Jobs, fail_on_warnings: bool) -> None:
    server.set_speed(min_run_seconds=0.3)

    # The emulator never warns by itself: its history answers "Warning" for this run.
    def warn_on_push(key: str, run_id: Any) -> None:
        if key == RUN_ID_XCOM_KEY:
            body = {"id": run_id, "status": "Completed with warnings", "error": "3 values truncated"}
            server.inject_fault(HISTORY_PATH, "status", method="GET", count=100, status=200, body=body)

    op = job_op(job="UnitJob", fail_on_warnings=fail_on_warnings, fetch_logs=False)
    if fail_on_warnings:
        with pytest.raises(AirflowException, match=r"finished with warnings .*: 3 values truncated"):
            op.execute(make_context(FakeTI(on_push=warn_on_push)))
    else:
        summary = op.execute(make_context(FakeTI(on_push=warn_on_push)))
        assert summary["status"] == "warning" and summary["server_status"] == "Completed with warnings"


def test_timeout_cancels_the_run(server: CDataSyncEmulator, jobs: Jobs) -> None:
    server.set_speed(min_run_seconds=30)
    started = time.monotonic()

    with pytest.raises(AirflowException, match="timed out; the run was cancelled"):
        job_op(job="UnitJob", timeout=0.5, check_interval=0.1).execute(make_context())

    assert time.monotonic() - started < 10
    assert server.runs(jobs.good.job_id)[-1]["status"] == "Cancelled"


def test_unknown_status_is_not_success(server: CDataSyncEmulator, jobs: Jobs) -> None:
    def garble(key: str, run_id: Any) -> None:
        if key == RUN_ID_XCOM_KEY:
            body = {"id": run_id, "status": "Frobnicating"}
            server.inject_fault(HISTORY_PATH, "status", method="GET", count=100, status=200, body=body)

    with pytest.raises(AirflowException, match=r"unknown status 'Frobnicating'.*not treated as success"):
        job_op(job="UnitJob", check_interval=0.01, fetch_logs=False).execute(
            make_context(FakeTI(on_push=garble))
        )


def test_on_kill_cancels_the_started_run(server: CDataSyncEmulator, jobs: Jobs) -> None:
    server.set_speed(min_run_seconds=30)
    op = job_op(job="UnitJob", check_interval=0.1)
    ti = FakeTI()
    outcome: dict[str, BaseException] = {}

    def execute() -> None:
        try:
            op.execute(make_context(ti))
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=execute)
    worker.start()
    run_id = wait_for(lambda: ti.xcoms.get(RUN_ID_XCOM_KEY), what="the run to start")

    op.on_kill()
    worker.join(15)

    assert not worker.is_alive()
    assert server.wait_run(run_id, 5)["status"] == "Cancelled"
    assert "was cancelled" in str(outcome["error"])


def test_on_kill_without_a_run_does_nothing(server: CDataSyncEmulator, jobs: Jobs) -> None:
    server.set_speed(min_run_seconds=30)
    running = start_run(server, jobs.good.job_id)["id"]

    job_op(job="UnitJob").on_kill()  # this task never started or followed anything

    assert run_status(server, running) == "Running"


# ------------------------------------------------------------------------------- execute_complete
@pytest.mark.parametrize(
    ("event", "message"),
    [
        (None, "Unexpected event"),
        ({"status": "done", "target": {"kind": "job", "id": "1"}}, "Unexpected event"),
        ({"status": "success"}, "Unexpected event"),
        ({"status": "success", "target": {"kind": "pipeline", "id": "1"}}, "reported a pipeline"),
        ({"status": "success", "target": {"kind": "job", "id": "1"}, "run": None}, "carries no run"),
        ({"status": "failed", "target": {"kind": "job", "id": "1"}, "run": "x"}, "carries no run"),
    ],
)
def test_execute_complete_rejects_bad_events(server: CDataSyncEmulator, event: Any, message: str) -> None:
    with pytest.raises(AirflowException, match=message):
        job_op(job="UnitJob").execute_complete(make_context(), event)


def test_execute_complete_error_event_fails_with_its_message(
    server: CDataSyncEmulator, good_target: Target
) -> None:
    event = {"status": "error", "target": good_target.to_dict(), "run_id": "1", "message": "HTTP 401 nope"}

    with pytest.raises(AirflowException, match="Waiting for CData Sync job 'UnitJob' failed: HTTP 401 nope"):
        job_op(job="UnitJob").execute_complete(make_context(), event)


def test_execute_complete_timeout_cancels_the_run(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target
) -> None:
    server.set_speed(min_run_seconds=30)
    run_id = start_run(server, jobs.good.job_id)["id"]
    event = {
        "status": "timeout",
        "target": good_target.to_dict(),
        "run_id": run_id,
        "run": None,
        "message": "Timed out waiting",
    }

    with pytest.raises(AirflowException, match=f"run {run_id}: Timed out waiting; the run was cancelled"):
        job_op(job="UnitJob").execute_complete(make_context(), event)

    assert server.wait_run(run_id, 5)["status"] == "Cancelled"


def test_execute_complete_timeout_does_not_cancel_someone_elses_run(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target
) -> None:
    ours = start_run(server, jobs.good.job_id)["id"]
    server.wait_run(ours)
    server.set_speed(min_run_seconds=30)
    theirs = start_run(server, jobs.good.job_id)["id"]
    event = {"status": "timeout", "target": good_target.to_dict(), "run_id": ours, "message": "Timed out"}

    with pytest.raises(AirflowException, match="Timed out"):
        job_op(job="UnitJob").execute_complete(make_context(), event)

    assert run_status(server, theirs) == "Running"


async def test_execute_complete_with_a_real_trigger_event_returns_the_summary(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target
) -> None:
    run_id = start_run(server, jobs.good.job_id)["id"]
    event = await first_event(trigger_for(good_target, run_id))

    summary = job_op(job="UnitJob").execute_complete(make_context(), event)

    assert summary["run_id"] == run_id and summary["status"] == "success"
    assert summary["records_affected"] == 40
    assert summary["console_url"] == console(server, jobs.good.job_id, run_id)


async def test_execute_complete_failed_event_names_the_failed_task(
    server: CDataSyncEmulator, jobs: Jobs, broken_target: Target
) -> None:
    run_id = start_run(server, jobs.broken.job_id)["id"]
    event = await first_event(trigger_for(broken_target, run_id))

    with pytest.raises(AirflowException, match=r"failed tasks: \[missing_table\] no such table"):
        job_op(job="UnitBroken").execute_complete(make_context(), event)


# ------------------------------------------------------------------------------- deferral
def test_deferrable_defers_with_a_trigger_ending_at_the_timeout(
    server: CDataSyncEmulator, jobs: Jobs
) -> None:
    server.set_speed(min_run_seconds=30)
    ti = FakeTI()
    before = time.time()

    with pytest.raises(TaskDeferred) as deferred:
        job_op(job="UnitJob", deferrable=True, timeout=120, check_interval=7).execute(make_context(ti))

    trigger = deferred.value.trigger
    assert isinstance(trigger, CDataSyncJobTrigger)
    run_id = server.runs(jobs.good.job_id)[-1]["id"]
    assert trigger.run_id == run_id and ti.xcoms[RUN_ID_XCOM_KEY] == run_id  # pushed before deferring
    assert trigger.poll_interval == 7 and trigger.target["id"] == jobs.good.job_id
    assert before + 120 <= trigger.end_time <= time.time() + 120
    assert deferred.value.method_name == "execute_complete"
    # Airflow's own deferral timeout is only a backstop after the trigger's deadline.
    assert deferred.value.timeout is not None and deferred.value.timeout > timedelta(seconds=120)


def test_deferral_deadline_respects_execution_timeout_with_a_margin(
    server: CDataSyncEmulator, jobs: Jobs
) -> None:
    server.set_speed(min_run_seconds=30)
    ti = FakeTI(start_date=datetime.now(UTC) - timedelta(seconds=10))
    op = job_op(job="UnitJob", deferrable=True, timeout=600, execution_timeout=timedelta(seconds=100))

    with pytest.raises(TaskDeferred) as deferred:
        op.execute(make_context(ti))

    # ends 10 % (10 s) before execution_timeout, counted from the task's start, not from now
    assert deferred.value.trigger.end_time == pytest.approx(ti.start_date.timestamp() + 90, abs=0.01)


def test_failed_deferral_cancels_the_run_found_in_xcom(server: CDataSyncEmulator, jobs: Jobs) -> None:
    server.set_speed(min_run_seconds=30)
    ti = FakeTI()
    op = job_op(job="UnitJob", deferrable=True, timeout=60)
    with pytest.raises(TaskDeferred):
        op.execute(make_context(ti))
    run_id = ti.xcoms[RUN_ID_XCOM_KEY]

    resumed = job_op(job="UnitJob", deferrable=True)  # a new worker process resumes the task
    with pytest.raises(AirflowException):
        resumed.resume_execution("__fail__", {"error": "Trigger timeout"}, make_context(ti))

    assert server.wait_run(run_id, 5)["status"] == "Cancelled"


def test_resume_with_a_method_runs_execute_complete(server: CDataSyncEmulator, good_target: Target) -> None:
    event = {"status": "error", "target": good_target.to_dict(), "message": "boom"}
    with pytest.raises(AirflowException, match="failed: boom"):
        job_op(job="UnitJob").resume_execution("execute_complete", {"event": event}, make_context())


# ------------------------------------------------------------------------------- declarations
def test_templated_fields_are_declared_and_rendered() -> None:
    assert set(CDataSyncRunJobOperator.template_fields) == {"job", "tasks", "workspace"}
    assert set(CDataSyncRunTransformationOperator.template_fields) == {"transformation", "workspace"}
    assert set(CDataSyncRunPipelineOperator.template_fields) == {"pipeline", "workspace"}
    assert set(CDataSyncCancelJobOperator.template_fields) == {"job", "workspace"}
    op = job_op(job="{{ params.job }}", tasks=["{{ params.table }}"], workspace="{{ params.ws }}")

    op.render_template_fields({"params": {"job": "UnitJob", "table": "contacts", "ws": "default"}})

    assert (op.job, op.tasks, op.workspace) == ("UnitJob", ["contacts"], "default")


def test_summary_is_json_safe_with_per_task_records_and_times(server: CDataSyncEmulator, jobs: Jobs) -> None:
    summary = job_op(job="UnitJob").execute(make_context())

    assert json.loads(json.dumps(summary)) == summary
    assert summary["error"] is None
    assert datetime.fromisoformat(summary["start_time"]) <= datetime.fromisoformat(summary["end_time"])
    assert summary["duration_seconds"] >= 0
    for task in summary["tasks"]:
        assert task["status"] == "success" and task["records_affected"] == 20 and task["error"] is None
        assert datetime.fromisoformat(task["start_time"]) <= datetime.fromisoformat(task["end_time"])


def test_cancel_operator_cancels_the_running_run(server: CDataSyncEmulator, jobs: Jobs) -> None:
    server.set_speed(min_run_seconds=30)
    run_id = start_run(server, jobs.good.job_id)["id"]

    summary = CDataSyncCancelJobOperator(task_id="cancel", job="UnitJob").execute(make_context())

    assert summary is not None and summary["run_id"] == run_id and summary["status"] == "cancelled"
    assert run_status(server, run_id) == "Cancelled"
    assert CDataSyncCancelJobOperator(task_id="cancel", job="UnitJob").execute(make_context()) is None
