"""Durable runs and retry_from_failure, proven with real dag.test() runs (retries run in-process) against
the emulator: the remote run id lives in Airflow 3.3's task state store, so a retry reattaches to the run
an earlier try started while it runs, reports it if it succeeded, and starts a new run only if it failed;
``retry_from_failure`` re-runs only the tasks that did not succeed.

The earlier try's failure is simulated by a test-only operator subclass that fails the task once at a
chosen point (after the remote run finished, or while it still runs), as a lost worker or a failed report
would; nothing of the provider is patched."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("airflow.sdk")

pytestmark = pytest.mark.skipif(
    not hasattr(__import__("airflow.sdk", fromlist=["NEVER_EXPIRE"]), "NEVER_EXPIRE"),
    reason="the task state store needs Airflow 3.3+",
)

DAGS = textwrap.dedent(
    '''
    from datetime import datetime, timedelta

    from airflow.sdk import DAG
    from airflow.providers.common.compat.sdk import AirflowException

    from airflow_provider_cdata_sync.operators.cdata_sync import CDataSyncRunJobOperator
    from airflow_provider_cdata_sync.operators.remote_run import try_number


    class FailsReportOnce(CDataSyncRunJobOperator):
        """Fails try 1 after the remote run succeeded (a worker lost while reporting)."""

        def _finish(self, context, target, run, url):
            if try_number(context) == 1:
                raise AirflowException("simulated: the worker was lost after the run finished")
            return super()._finish(context, target, run, url)


    class FailsWhileWaitingOnce(CDataSyncRunJobOperator):
        """Fails try 1 while the remote run still runs (a worker lost mid-wait)."""

        def _progress(self, target, run):
            super()._progress(target, run)
            if try_number(self._context) == 1 and run is not None and not run.state.is_terminal:
                raise AirflowException("simulated: the worker was lost while waiting")

        def execute(self, context):
            self._context = context
            return super().execute(context)


    retry = {"retries": 1, "retry_delay": timedelta(seconds=0)}

    with DAG("durable_reports_earlier_success", start_date=datetime(2026, 1, 1), schedule=None):
        FailsReportOnce(task_id="replicate", job="DemoReplication", check_interval=0.3, **retry)

    with DAG("durable_reattaches_while_running", start_date=datetime(2026, 1, 1), schedule=None):
        FailsWhileWaitingOnce(task_id="replicate", job="DemoReplication", check_interval=0.3, **retry)

    with DAG("retry_only_what_failed", start_date=datetime(2026, 1, 1), schedule=None):
        CDataSyncRunJobOperator(
            task_id="replicate",
            job="DemoBrokenReplication",
            check_interval=0.3,
            retry_from_failure=True,
            **retry,
        )
    '''
)


@pytest.fixture
def run_dag(cdata_sync_connection: Any, capfd: pytest.CaptureFixture[str]) -> Any:
    """dag.test() of one of the DAGs above; returns (task state, captured output)."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    db.initdb()
    folder = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    (folder / "durable_runs_dags.py").write_text(DAGS)
    bag = DagBag(str(folder))
    assert not bag.import_errors, bag.import_errors

    def run(dag_id: str) -> tuple[str, str]:
        capfd.readouterr()
        dag_run = bag.get_dag(dag_id).test()
        captured = capfd.readouterr()
        (ti,) = dag_run.get_task_instances()
        return str(ti.state), captured.out + captured.err

    return run


def _runs_of(server: Any, job_name: str) -> list[dict[str, Any]]:
    job_id = next(job["id"] for job in server.state()["jobs"] if job["name"] == job_name)
    return server.runs(job_id=job_id)


def test_a_retry_reports_the_earlier_tries_successful_run_instead_of_starting_another(
    run_dag: Any, cdata_sync_emulator: Any
) -> None:
    before = len(_runs_of(cdata_sync_emulator, "DemoReplication"))
    state, output = run_dag("durable_reports_earlier_success")
    runs = _runs_of(cdata_sync_emulator, "DemoReplication")
    assert state == "success"
    assert len(runs) == before + 1, "exactly one run for two tries"
    assert "already succeeded: reporting it instead of starting another" in output
    assert "simulated: the worker was lost after the run finished" in output


def test_a_retry_reattaches_to_the_run_the_earlier_try_left_running(
    run_dag: Any, cdata_sync_emulator: Any
) -> None:
    cdata_sync_emulator.set_speed(min_run_seconds=15.0)  # still running when try 2 starts
    try:
        before = len(_runs_of(cdata_sync_emulator, "DemoReplication"))
        state, output = run_dag("durable_reattaches_while_running")
    finally:
        cdata_sync_emulator.set_speed(min_run_seconds=0.0)
    runs = _runs_of(cdata_sync_emulator, "DemoReplication")
    assert state == "success"
    assert len(runs) == before + 1, "the retry followed the same remote run"
    assert runs[-1]["status"] == "Success"
    assert f"Reattaching to CData Sync job 'DemoReplication' run {runs[-1]['id']}, started by try 1" in output


def test_retry_from_failure_reruns_only_the_tasks_that_did_not_succeed(
    run_dag: Any, cdata_sync_emulator: Any
) -> None:
    before = len(_runs_of(cdata_sync_emulator, "DemoBrokenReplication"))
    state, output = run_dag("retry_only_what_failed")
    runs = _runs_of(cdata_sync_emulator, "DemoBrokenReplication")[before:]
    assert state == "failed", "the missing table is still missing"
    assert len(runs) == 2
    first, second = ({task["table"] for task in run["tasks"]} for run in runs)
    assert first == {"customers", "invoices", "products"}
    assert second == {"invoices", "products"}, "only the failed and the skipped task ran again"
    assert (
        f"retry_from_failure: try 2 re-runs only the 2 task(s) that did not succeed in run {runs[0]['id']}"
        in output
    )
    assert output.count("retry_from_failure:") == 1, "the first try ran everything, without a word about it"
