"""Operators that run CData Sync jobs, transformations and pipelines, wait for them (blocking or deferred),
cancel what they started when killed or timed out, and copy the remote log into the task log."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, BaseOperator

from airflow_provider_cdata_sync.client import (
    CDATA_SYNC,
    CDataSyncConfigError,
    CDataSyncError,
    CDataSyncLookupError,
    CDataSyncUnsupportedError,
)
from airflow_provider_cdata_sync.client.control import (
    CANCEL_WAIT_SECONDS,
    CLOCK_SKEW,
    Kind,
    RunControl,
    RunLog,
    Target,
)
from airflow_provider_cdata_sync.client.models import Run, RunState
from airflow_provider_cdata_sync.hooks.cdata_sync import CDataSyncHook
from airflow_provider_cdata_sync.links.cdata_sync import (
    CONSOLE_URL_XCOM_KEY,
    RUN_ID_XCOM_KEY,
    CDataSyncJobLink,
    CDataSyncPipelineLink,
    CDataSyncTransformationLink,
)
from airflow_provider_cdata_sync.operators.remote_run import (
    RemoteRunOperator,
    default_deferrable,
    task_refs,
    try_number,
)
from airflow_provider_cdata_sync.reporting import (
    LogPrinter,
    failure_message,
    grouped,
    run_summary,
    task_table,
)
from airflow_provider_cdata_sync.triggers.cdata_sync import CDataSyncRunTrigger

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

TARGET_XCOM_KEY = "cdata_sync_target"
#: Kept for code that imported it from here.
_default_deferrable = default_deferrable


class _CDataSyncRunOperator(RemoteRunOperator):
    """Shared logic of the CData Sync run operators: resolve, start (or reattach to) a run, stream and
    report the remote log, judge the tasks. Waiting and cancelling: :class:`RemoteRunOperator`.

    :param workspace: workspace id or name; the connection's by default (templated).
    :param fetch_logs: copy the remote run log into the task log.
    :param reuse_existing_run: when the target is already running (for example started by an earlier try
        of this task whose worker died), follow that run instead of starting another. On by default.
    :param fail_on_warnings: fail when the run finished with warnings.
    :param log_max_lines: most remote log lines copied to the task log (the tail is kept).
    :param log_max_bytes: most remote log bytes downloaded and copied (the tail is kept).
    :param cdata_sync_conn_id: the Airflow connection.
    """

    kind: ClassVar[Kind]
    profile = CDATA_SYNC
    run_id_xcom_key = RUN_ID_XCOM_KEY
    target_xcom_key = TARGET_XCOM_KEY
    ui_color = "#2d6cdf"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        workspace: str | None = None,
        fetch_logs: bool = True,
        reuse_existing_run: bool = True,
        fail_on_warnings: bool = False,
        log_max_lines: int = 1000,
        log_max_bytes: int = 1_000_000,
        cdata_sync_conn_id: str = CDataSyncHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.workspace = workspace
        self.fetch_logs = fetch_logs
        self.reuse_existing_run = reuse_existing_run
        self.fail_on_warnings = fail_on_warnings
        self.log_max_lines = log_max_lines
        self.log_max_bytes = log_max_bytes
        self.cdata_sync_conn_id = cdata_sync_conn_id
        self._printer: LogPrinter | None = None

    @cached_property
    def hook(self) -> CDataSyncHook:
        """The hook for ``cdata_sync_conn_id``."""
        return CDataSyncHook(cdata_sync_conn_id=self.cdata_sync_conn_id)

    @property
    def client(self) -> RunControl:
        """The hook's synchronous client (run control, whichever API version the connection speaks)."""
        return self.hook.get_client()

    def _client(self) -> RunControl:
        return self.client

    def _target_ref(self) -> str:
        raise NotImplementedError

    def _task_refs(self) -> list[str] | None:
        return None

    # ------------------------------------------------------------------ start
    def _resolve(self, context: Context) -> Target:
        try:
            return self.client.resolve_target(self.kind, self._target_ref(), self.workspace)
        except (CDataSyncLookupError, CDataSyncConfigError, CDataSyncUnsupportedError) as exc:
            raise AirflowFailException(str(exc)) from exc

    def _start(self, context: Context, target: Target, previous: Run | None) -> Run:
        try:
            return self._start_or_reattach(context, target, previous)
        except (CDataSyncLookupError, CDataSyncConfigError, CDataSyncUnsupportedError) as exc:
            raise AirflowFailException(str(exc)) from exc

    def _task_refs_for(self, context: Context, target: Target, previous: Run | None) -> list[str] | None:
        """The tasks to run: the ones asked for; with ``retry_from_failure`` on a retry, only those that did
        not succeed in the previous try's run."""
        return self._task_refs()

    def _start_or_reattach(self, context: Context, target: Target, previous: Run | None) -> Run:
        if self.reuse_existing_run:
            current = self.client.current_run(target)
            if current is not None:
                self.log.info(
                    "CData Sync %s is already running (run %s): following that run instead of starting "
                    "another (reuse_existing_run=True).",
                    target.label,
                    current.id,
                )
                self._active = (target, current.id)
                return current
        refs = self._task_refs_for(context, target, previous)
        task_ids = self.client.resolve_tasks(target, refs) if refs else None
        self._active = (target, None)  # from here on, a kill must cancel whatever started
        run = self.client.start_run(target, task_ids)
        self._active = (target, run.id)
        self.log.info(
            "Started CData Sync %s %r (id %s): run %s%s.",
            target.kind,
            target.name,
            target.id,
            run.id or "(id not given)",
            f", tasks {', '.join(task_ids)}" if task_ids else "",
        )
        return run

    def _console_url(self, target: Target, run_id: str | None) -> str:
        return self.hook.console_url(target.kind, target.id, run_id)

    def _push_early(self, context: Context, target: Target, run: Run, url: str | None) -> None:
        super()._push_early(context, target, run, url)
        ti = context["ti"]
        ti.xcom_push(key=CONSOLE_URL_XCOM_KEY, value=url)
        for link in self.operator_extra_links:
            # BaseOperatorLink.xcom_key is Airflow 3 only; 2.x gets the same key (its get_link reads ours).
            ti.xcom_push(key=getattr(link, "xcom_key", f"_link_{type(link).__name__}"), value=url)
        self.log.info("CData Sync console: %s", url)

    def _trigger(self, target: Target, run: Run, deadline: float | None) -> CDataSyncRunTrigger:
        return CDataSyncRunTrigger(
            conn_id=self.cdata_sync_conn_id,
            target=target.to_dict(),
            run_id=run.id,
            poll_interval=self.check_interval,
            end_time=deadline,
            max_consecutive_errors=self.max_consecutive_poll_errors,
            after=None if run.id or self._started_after is None else self._started_after.isoformat(),
        )

    # ------------------------------------------------------------------ blocking progress
    def _wait_blocking(self, target: Target, run: Run, deadline: float | None) -> Run:
        self._printer = LogPrinter(self.log_max_lines, self.log_max_bytes) if self.fetch_logs else None
        return super()._wait_blocking(target, run, deadline)

    def _progress(self, target: Target, run: Run | None) -> None:
        if run is None:
            return
        self.log.info("CData Sync %s run %s: %s", target.label, run.id, run.status)
        if self._printer is None or not run.log_file:
            return
        log = self._fetch_log(target, run, quiet=True)
        if log is not None:
            for line in grouped(self._printer.stream(log)):
                self.log.info("%s", line)

    # ------------------------------------------------------------------ results
    def _fetch_log(self, target: Target, run: Run, *, quiet: bool = False) -> RunLog | None:
        try:
            return self.client.fetch_run_log(target, run, tail_bytes=self.log_max_bytes)
        except CDataSyncError as exc:
            if not quiet:
                self.log.warning(
                    "Could not fetch the CData Sync log of run %s (the run is not affected): %s", run.id, exc
                )
            return None

    def _report_log(self, target: Target, run: Run) -> None:
        if not self.fetch_logs:
            return
        log = self._fetch_log(target, run)
        if log is None:
            self.log.info(
                "No CData Sync log was found for run %s (the run's result is not affected).", run.id
            )
            return
        printer = self._printer or LogPrinter(self.log_max_lines, self.log_max_bytes)
        for line in grouped(printer.final(log)):
            self.log.info("%s", line)

    def _summary(self, target: Target, run: Run, url: str | None) -> dict[str, Any]:
        return run_summary(target, run, url)

    def _lineage_for(self, target: Target, run: Run | None) -> Any:
        from airflow_provider_cdata_sync.lineage.cdata_sync import CDataSyncLineage

        return CDataSyncLineage(self.client, columns=self.lineage_columns).build(target, run)

    def _finish(self, context: Context, target: Target, run: Run, url: str | None) -> dict[str, Any]:
        self._active = None
        self._report_log(target, run)
        if run.tasks:
            for line in task_table(run):
                self.log.info("%s", line)
        summary = run_summary(target, run, url)
        problem = failure_message(target, run, fail_on_warnings=self.fail_on_warnings)
        if problem:
            raise AirflowException(f"{problem} Console: {url}")
        self.log.info(
            "CData Sync %s run %s finished: %s, %s record(s).",
            target.label,
            run.id,
            run.status,
            summary["records_affected"],
        )
        return summary


class CDataSyncRunJobOperator(_CDataSyncRunOperator):
    """Run a CData Sync job and wait for it.

    :param job: job id or name (templated).
    :param tasks: only run these tasks, by task id or table name (templated).
    :param workspace: workspace id or name; the connection's by default (templated).
    :param wait_for_termination: wait for the run to finish (default True).
    :param deferrable: wait in the triggerer, freeing the worker slot
        (default ``[operators] default_deferrable``).
    :param check_interval: seconds between status polls.
    :param timeout: longest wait for the run (seconds or timedelta); the run is cancelled when it passes.
    :param fetch_logs: copy the remote run log into the task log.
    :param reuse_existing_run: when the job is already running (for example started by an earlier try of
        this task whose worker died), follow that run instead of starting another. On by default.
    :param fail_on_warnings: fail when the run finished with warnings.
    :param log_max_lines: most remote log lines copied to the task log (the tail is kept).
    :param log_max_bytes: most remote log bytes downloaded and copied (the tail is kept).
    :param max_consecutive_poll_errors: transient poll failures in a row before the task fails.
    :param retry_from_failure: on try 2 and later (never on a first try), run only the tasks that did not
        succeed in the previous try's run (the run comes from the task state store on Airflow 3.3+, else
        the job's latest run during this DAG run).
    :param durable: keep the run id in the task state store (Airflow 3.3+) so a retry reattaches to it.
    :param trigger_queue: the triggerer queue of the deferred wait (Airflow 3.2+).
    :param cdata_sync_conn_id: the Airflow connection.
    """

    kind = "job"
    kinds = ("job",)
    template_fields: Sequence[str] = ("job", "tasks", "workspace")
    operator_extra_links = (CDataSyncJobLink(),)

    def __init__(
        self,
        *,
        job: str,
        tasks: Sequence[str] | str | None = None,
        retry_from_failure: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.tasks = tasks
        self.retry_from_failure = retry_from_failure

    def _target_ref(self) -> str:
        return str(self.job)

    def _task_refs(self) -> list[str] | None:
        return task_refs(self.tasks)

    def _task_refs_for(self, context: Context, target: Target, previous: Run | None) -> list[str] | None:
        attempt = try_number(context)
        if not self.retry_from_failure or attempt < 2:
            return self._task_refs()
        previous = previous or self._previous_try_run(context, target)
        if previous is None:
            self.log.info(
                "retry_from_failure: no run of an earlier try was found; try %d runs all tasks.", attempt
            )
            return self._task_refs()
        redo = [task for task in previous.tasks if task.state not in (RunState.SUCCESS, RunState.WARNING)]
        if not redo:
            self.log.info(
                "retry_from_failure: run %s of the previous try ended %s with no failed task; try %d runs "
                "all tasks.",
                previous.id,
                previous.status,
                attempt,
            )
            return self._task_refs()
        self.log.info(
            "retry_from_failure: try %d re-runs only the %d task(s) that did not succeed in run %s: %s.",
            attempt,
            len(redo),
            previous.id,
            ", ".join(f"{task.label} ({task.state.value})" for task in redo),
        )
        return [str(task.task_id or task.table or task.query) for task in redo]

    def _previous_try_run(self, context: Context, target: Target) -> Run | None:
        """Without a task state store: the job's latest run, if it started during this DAG run."""
        dag_run = context.get("dag_run")
        started = getattr(dag_run, "start_date", None)
        latest = self.client.latest_run(target)
        if latest is None or started is None or latest.start_time is None:
            return None
        return latest if latest.start_time >= started - CLOCK_SKEW else None


class CDataSyncRunTransformationOperator(_CDataSyncRunOperator):
    """Run a CData Sync transformation and wait for it (other parameters as for
    :class:`CDataSyncRunJobOperator`).

    :param transformation: transformation id or name (templated).
    """

    kind = "transformation"
    kinds = ("transformation",)
    template_fields: Sequence[str] = ("transformation", "workspace")
    operator_extra_links = (CDataSyncTransformationLink(),)

    def __init__(self, *, transformation: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.transformation = transformation

    def _target_ref(self) -> str:
        return str(self.transformation)


class CDataSyncRunPipelineOperator(_CDataSyncRunOperator):
    """Run a CData Sync pipeline and wait for it (other parameters as for :class:`CDataSyncRunJobOperator`;
    pipelines need the API v2).

    :param pipeline: pipeline id or name (templated).
    """

    kind = "pipeline"
    kinds = ("pipeline",)
    template_fields: Sequence[str] = ("pipeline", "workspace")
    operator_extra_links = (CDataSyncPipelineLink(),)

    def __init__(self, *, pipeline: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipeline = pipeline

    def _target_ref(self) -> str:
        return str(self.pipeline)


class _CDataSyncCancelOperator(BaseOperator):
    """Cancel the running run of a job or pipeline; succeed quietly when nothing runs."""

    kind: ClassVar[Kind]

    def __init__(
        self,
        *,
        workspace: str | None = None,
        wait_for_cancel: bool = True,
        cdata_sync_conn_id: str = CDataSyncHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.workspace = workspace
        self.wait_for_cancel = wait_for_cancel
        self.cdata_sync_conn_id = cdata_sync_conn_id

    def _target_ref(self) -> str:
        raise NotImplementedError

    def execute(self, context: Context) -> dict[str, Any] | None:
        """Cancel the current run and return its summary (None when nothing was running)."""
        client = CDataSyncHook(cdata_sync_conn_id=self.cdata_sync_conn_id).get_client()
        try:
            target = client.resolve_target(self.kind, self._target_ref(), self.workspace)
        except (CDataSyncLookupError, CDataSyncConfigError, CDataSyncUnsupportedError) as exc:
            raise AirflowFailException(str(exc)) from exc
        current = client.current_run(target)
        if current is None:
            self.log.info("CData Sync %s is not running: nothing to cancel.", target.label)
            return None
        self.log.info("Cancelling CData Sync %s run %s.", target.label, current.id)
        outcome = client.cancel_and_watch(
            target, current.id, wait_seconds=CANCEL_WAIT_SECONDS if self.wait_for_cancel else 0.0
        )
        if outcome.outcome == "not_ours":
            raise AirflowException(
                f"CData Sync {target.label}: another run started meanwhile; {outcome.message}."
            )
        run = outcome.run or current
        self.log.info("CData Sync %s run %s is now %s.", target.label, run.id, run.status)
        return run_summary(target, run)


class CDataSyncCancelJobOperator(_CDataSyncCancelOperator):
    """Cancel the running run of a CData Sync job.

    :param job: job id or name (templated).
    :param workspace: workspace id or name; the connection's by default (templated).
    :param wait_for_cancel: wait until the run reports it stopped (up to 25 s).
    :param cdata_sync_conn_id: the Airflow connection.
    """

    kind = "job"
    template_fields: Sequence[str] = ("job", "workspace")

    def __init__(self, *, job: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job

    def _target_ref(self) -> str:
        return str(self.job)


class CDataSyncCancelPipelineOperator(_CDataSyncCancelOperator):
    """Cancel the running run of a CData Sync pipeline.

    :param pipeline: pipeline id or name (templated).
    :param workspace: workspace id or name; the connection's by default (templated).
    :param wait_for_cancel: wait until the run reports it stopped (up to 25 s).
    :param cdata_sync_conn_id: the Airflow connection.
    """

    kind = "pipeline"
    template_fields: Sequence[str] = ("pipeline", "workspace")

    def __init__(self, *, pipeline: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipeline = pipeline

    def _target_ref(self) -> str:
        return str(self.pipeline)


__all__ = [
    "CDataSyncCancelJobOperator",
    "CDataSyncCancelPipelineOperator",
    "CDataSyncRunJobOperator",
    "CDataSyncRunPipelineOperator",
    "CDataSyncRunTransformationOperator",
]
