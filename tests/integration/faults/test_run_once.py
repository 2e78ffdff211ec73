"""Run once: a lost answer to "execute" never starts a second run, and a new try reattaches to the run of
the previous try instead of starting another."""

from __future__ import annotations

import inspect

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred
from cdata_sync_emulator import CDataSyncEmulator

from airflow_provider_cdata_sync.operators.cdata_sync import CDataSyncRunJobOperator
from tests.helpers import calls, make_context, start_run, use_connection
from tests.integration.faults.conftest import JOB, V1_EXECUTE, V2_EXECUTE, Jobs


def job_operator(**kwargs: object) -> CDataSyncRunJobOperator:
    kwargs.setdefault("deferrable", False)
    return CDataSyncRunJobOperator(task_id="run", job=JOB, check_interval=0.2, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("api_version", "path", "fault"),
    [
        ("v2", V2_EXECUTE, {"action": "reset_after"}),
        ("v1", V1_EXECUTE, {"action": "reset_after"}),
        ("v2", V2_EXECUTE, {"action": "delay", "delay": 1.2}),  # the answer comes after our read timeout
        ("v1", V1_EXECUTE, {"action": "delay", "delay": 1.2}),
    ],
    ids=["v2-reset", "v1-reset", "v2-timeout", "v1-timeout"],
)
def test_lost_execute_answer_follows_the_run_the_server_started(
    server: CDataSyncEmulator,
    jobs: Jobs,
    monkeypatch: pytest.MonkeyPatch,
    api_version: str,
    path: str,
    fault: dict[str, object],
) -> None:
    use_connection(monkeypatch, server, api_version=api_version, timeout=0.6, max_retries=2)
    server.set_speed(min_run_seconds=1.5, target_id=jobs.main.job_id)
    before = len(server.runs(jobs.main.job_id))
    server.inject_fault(path, method="POST", **fault)  # type: ignore[arg-type]

    summary = job_operator().execute(make_context())

    runs = server.runs(jobs.main.job_id)
    assert len(runs) == before + 1, "a lost answer must not start a second run"
    assert calls(server, r"^POST .*(?i:execute)") == 1, "execute must never be sent twice"
    assert summary["run_id"] == runs[-1]["id"]
    assert summary["status"] == "success" and runs[-1]["status"] == "Success"
    assert summary["records_affected"] == 40


def test_retry_of_the_task_reattaches_to_the_running_run(server: CDataSyncEmulator, jobs: Jobs) -> None:
    server.set_speed(min_run_seconds=1.5, target_id=jobs.main.job_id)
    previous_try = start_run(server, jobs.main.job_id)  # the worker of try 1 died after starting it
    before = len(server.runs(jobs.main.job_id))

    summary = job_operator().execute(make_context())  # try 2

    assert len(server.runs(jobs.main.job_id)) == before, "try 2 must not start another run"
    assert calls(server, r"^POST .*/execute$") == 1  # only try 1's
    assert summary["run_id"] == previous_try["id"] and summary["status"] == "success"


def test_deferred_retry_reattaches_to_the_running_run(server: CDataSyncEmulator, jobs: Jobs) -> None:
    server.set_speed(min_run_seconds=3, target_id=jobs.main.job_id)
    previous_try = start_run(server, jobs.main.job_id)

    with pytest.raises(TaskDeferred) as deferred:
        job_operator(deferrable=True).execute(make_context())

    assert deferred.value.trigger.run_id == previous_try["id"]
    assert calls(server, r"^POST .*/execute$") == 1


def test_reuse_existing_run_is_on_by_default_and_documented() -> None:
    parameter = inspect.signature(CDataSyncRunJobOperator.__mro__[1].__init__).parameters[
        "reuse_existing_run"
    ]
    assert parameter.default is True
    doc = inspect.getdoc(CDataSyncRunJobOperator) or ""
    assert ":param reuse_existing_run:" in doc and "On by default" in doc


def test_without_reuse_a_running_job_is_not_silently_followed(server: CDataSyncEmulator, jobs: Jobs) -> None:
    """Contrast: with reuse_existing_run=False the operator really asks for a new run (the server refuses
    while one runs), so the reattach above is the behaviour of the default, not an accident."""
    server.set_speed(min_run_seconds=3, target_id=jobs.main.job_id)
    start_run(server, jobs.main.job_id)

    with pytest.raises(Exception, match="409"):
        job_operator(reuse_existing_run=False).execute(make_context())
