"""Operators that run CData Sync jobs, transformations and pipelines, wait for them (blocking or
deferred), cancel what they started when killed or timed out, and copy the remote log into the task log."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, BaseOperator, conf

from airflow_provider_cdata_sync.client import (
    AnyClient,
    CDataSyncConfigError,
    CDataSyncError,
    CDataSyncLookupError,
    CDataSyncUnsupportedError,
)
from airflow_provider_cdata_sync.client.models import Run
from airflow_provider_cdata_sync.client.runs import Kind, RunLog, Target
from airflow_provider_cdata_sync.hooks.cdata_sync import CDataSyncHook
from airflow_provider_cdata_sync.links.cdata_sync import (
    CONSOLE_URL_XCOM_KEY,
    RUN_ID_XCOM_KEY,
    CDataSyncJobLink,
    CDataSyncPipelineLink,
    CDataSyncTransformationLink,
)
from airflow_provider_cdata_sync.operators.remote_run import CANCEL_WAIT_SECONDS, RemoteRunMixin
from airflow_provider_cdata_sync.reporting import (
    LogPrinter,
    failure_message,
    grouped,
    run_summary,
    task_table,
)
from airflow_provider_cdata_sync.triggers.cdata_sync import (
    EVENT_STATUSES,
    CDataSyncJobTrigger,
    CDataSyncPipelineTrigger,
    CDataSyncRunTrigger,
    CDataSyncTransformationTrigger,
    is_transient,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

TARGET_XCOM_KEY = "cdata_sync_target"


def _default_deferrable() -> bool:
    return conf.getboolean("operators", "default_deferrable", fallback=False)


class _CDataSyncRunOperator(RemoteRunMixin, BaseOperator):
    """Shared logic of the run operators: start (or reattach to) a run, wait, report, cancel."""

    kind: ClassVar[Kind]
    trigger_class: ClassVar[type[CDataSyncRunTrigger]]
    service = "CData Sync"
    client_error = CDataSyncError
    run_id_xcom_key = RUN_ID_XCOM_KEY
    target_xcom_key = TARGET_XCOM_KEY
    ui_color = "#2d6cdf"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        workspace: str | None = None,
        wait_for_termination: bool = True,
        deferrable: bool = _default_deferrable(),
        check_interval: float = 30,
        timeout: float | timedelta | None = None,
        fetch_logs: bool = True,
        reuse_existing_run: bool = True,
        fail_on_warnings: bool = False,
        log_max_lines: int = 1000,
        log_max_bytes: int = 1_000_000,
        max_consecutive_poll_errors: int = 5,
        cdata_sync_conn_id: str = CDataSyncHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.workspace = workspace
        self.wait_for_termination = wait_for_termination
        self.deferrable = deferrable
        self.check_interval = check_interval
        self.timeout = timeout
        self.fetch_logs = fetch_logs
        self.reuse_existing_run = reuse_existing_run
        self.fail_on_warnings = fail_on_warnings
        self.log_max_lines = log_max_lines
        self.log_max_bytes = log_max_bytes
        self.max_consecutive_poll_errors = max_consecutive_poll_errors
        self.cdata_sync_conn_id = cdata_sync_conn_id
        self._active: tuple[Target, str | None] | None = None  # the run this try started and still watches

    # ------------------------------------------------------------------ hooks
    @cached_property
    def hook(self) -> CDataSyncHook:
        """The hook for ``cdata_sync_conn_id``."""
        return CDataSyncHook(cdata_sync_conn_id=self.cdata_sync_conn_id)

    @property
    def client(self) -> AnyClient:
        """The hook's synchronous client."""
        return self.hook.get_client()

    def _target_ref(self) -> str:
        raise NotImplementedError

    def _task_refs(self) -> list[str] | None:
        return None

    # ------------------------------------------------------------------ execute
    def execute(self, context: Context) -> dict[str, Any]:
        """Start the run (or follow the one already running), then wait as configured."""
        deadline = self._deadline(context)
        try:
            target = self.client.resolve_target(self.kind, self._target_ref(), self.workspace)
            run = self._start_or_reattach(target)
        except (CDataSyncLookupError, CDataSyncConfigError, CDataSyncUnsupportedError) as exc:
            raise AirflowFailException(str(exc)) from exc
        url = self.hook.console_url(target.kind, target.id, run.id)
        self._push_early(context, target, run, url)
        if not self.wait_for_termination:
            self.log.info("Not waiting for run %s (wait_for_termination=False). Console: %s", run.id, url)
            self._active = None
            return run_summary(target, run, url)
        if self.deferrable and not run.state.is_terminal:
            self._defer(target, run, deadline)
        final = run if run.state.is_terminal else self._wait_blocking(target, run, deadline)
        return self._finish(target, final, url, streamed=self._printer)

    def _start_or_reattach(self, target: Target) -> Run:
        if self.reuse_existing_run:
            current = self.client.current_run(target)
            if current is not None:
                self.log.info(
                    "CData Sync %s %r is already running (run %s): following that run instead of starting "
                    "another (reuse_existing_run=True).",
                    target.kind,
                    target.name,
                    current.id,
                )
                self._active = (target, current.id)
                return current
        task_ids = self.client.resolve_tasks(target, self._task_refs() or []) if self._task_refs() else None
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

    def _push_early(self, context: Context, target: Target, run: Run, url: str) -> None:
        """Run id and console URL go to XCom before any waiting (links work while it runs or fails)."""
        ti = context["ti"]
        ti.xcom_push(key=RUN_ID_XCOM_KEY, value=run.id)
        ti.xcom_push(key=CONSOLE_URL_XCOM_KEY, value=url)
        ti.xcom_push(key=TARGET_XCOM_KEY, value=target.to_dict())
        for link in self.operator_extra_links:
            # BaseOperatorLink.xcom_key is Airflow 3 only; 2.x gets the same key (its get_link reads ours).
            ti.xcom_push(key=getattr(link, "xcom_key", f"_link_{type(link).__name__}"), value=url)
        self.log.info("CData Sync console: %s", url)

    # ------------------------------------------------------------------ deferred
    def _defer(self, target: Target, run: Run, deadline: float | None) -> None:
        trigger = self.trigger_class(
            conn_id=self.cdata_sync_conn_id,
            target=target.to_dict(),
            run_id=run.id,
            poll_interval=self.check_interval,
            end_time=deadline,
            max_consecutive_errors=self.max_consecutive_poll_errors,
        )
        self.log.info("Deferring until run %s of %s %r finishes.", run.id, target.kind, target.name)
        # Airflow's own deferral timeout is only a backstop, a minute after the trigger's deadline: the
        # trigger reports the timeout first so that execute_complete can cancel the run.
        backstop = None if deadline is None else timedelta(seconds=max(deadline - time.time(), 0) + 60)
        self.defer(trigger=trigger, method_name="execute_complete", timeout=backstop)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: validate its event, cancel on timeout, report, fail or return."""
        target, run_id, status = self._validate_event(event)
        assert event is not None
        self._active = (target, run_id)
        url = self.hook.console_url(target.kind, target.id, run_id)
        if status == "timeout":
            self._cancel_and_fail(target, run_id, event.get("message") or "timed out")
        if status == "error":
            raise AirflowException(
                f"Waiting for CData Sync {target.kind} {target.name!r} failed: {event['message']}"
            )
        run = Run.model_validate(event["run"])
        return self._finish(target, run, url, streamed=None)

    def _validate_event(self, event: dict[str, Any] | None) -> tuple[Target, str | None, str]:
        if not isinstance(event, dict) or event.get("status") not in EVENT_STATUSES or "target" not in event:
            raise AirflowException(f"Unexpected event from the CData Sync trigger: {event!r}")
        target = Target.from_dict(event["target"])
        if target.kind != self.kind:
            raise AirflowException(f"The trigger reported a {target.kind}, this operator runs a {self.kind}.")
        status = str(event["status"])
        if status in ("success", "failed", "cancelled") and not isinstance(event.get("run"), dict):
            raise AirflowException(f"The trigger's {status} event carries no run: {event!r}")
        return target, event.get("run_id"), status

    # ------------------------------------------------------------------ blocking
    _printer: LogPrinter | None = None

    def _wait_blocking(self, target: Target, run: Run, deadline: float | None) -> Run:
        """Poll every ``check_interval`` seconds, streaming new remote log lines, until the run ends."""
        self._printer = LogPrinter(self.log_max_lines, self.log_max_bytes) if self.fetch_logs else None
        errors = 0
        unknown_polls = 0
        while True:
            remaining = None if deadline is None else deadline - time.time()
            if remaining is not None and remaining <= 0:
                self._cancel_and_fail(target, run.id, "timed out")
            time.sleep(self.check_interval if remaining is None else min(self.check_interval, remaining))
            try:
                run = self.client.get_run(target, run.id) if run.id else self._current_or_latest(target, run)
            except CDataSyncError as exc:
                errors += 1
                if not is_transient(exc) or errors > self.max_consecutive_poll_errors:
                    raise AirflowException(f"Polling CData Sync failed ({errors} in a row): {exc}") from exc
                self.log.warning("Poll %d of CData Sync failed (%s); polling on.", errors, exc)
                continue
            errors = 0
            self.log.info("CData Sync %s %r run %s: %s", target.kind, target.name, run.id, run.status)
            self._stream_log(target, run)
            if run.state.value == "unknown":
                unknown_polls += 1
                self.log.warning(
                    "CData Sync reports an unknown status %r for run %s (%d in a row): not success; "
                    "polling on.",
                    run.status,
                    run.id,
                    unknown_polls,
                )
                if unknown_polls >= 10:
                    raise AirflowException(
                        f"CData Sync kept reporting the unknown status {run.status!r} for run {run.id}; "
                        "it is not treated as success."
                    )
                continue
            unknown_polls = 0
            if run.state.is_terminal:
                return run

    def _current_or_latest(self, target: Target, previous: Run) -> Run:
        return self.client.current_run(target) or self.client.latest_run(target) or previous

    def _stream_log(self, target: Target, run: Run) -> None:
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

    def _report_log(self, target: Target, run: Run, printer: LogPrinter | None) -> None:
        if not self.fetch_logs:
            return
        log = self._fetch_log(target, run)
        if log is None:
            self.log.info(
                "No CData Sync log was found for run %s (the run's result is not affected).", run.id
            )
            return
        printer = printer or LogPrinter(self.log_max_lines, self.log_max_bytes)
        for line in grouped(printer.final(log)):
            self.log.info("%s", line)

    def _finish(self, target: Target, run: Run, url: str, *, streamed: LogPrinter | None) -> dict[str, Any]:
        self._active = None
        self._report_log(target, run, streamed)
        if run.tasks:
            for line in task_table(run):
                self.log.info("%s", line)
        summary = run_summary(target, run, url)
        problem = failure_message(target, run, fail_on_warnings=self.fail_on_warnings)
        if problem:
            raise AirflowException(f"{problem} Console: {url}")
        self.log.info(
            "CData Sync %s %r run %s finished: %s, %s record(s).",
            target.kind,
            target.name,
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
    :param cdata_sync_conn_id: the Airflow connection.
    """

    kind = "job"
    trigger_class = CDataSyncJobTrigger
    template_fields: Sequence[str] = ("job", "tasks", "workspace")
    operator_extra_links = (CDataSyncJobLink(),)

    def __init__(self, *, job: str, tasks: Sequence[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.tasks = tasks

    def _target_ref(self) -> str:
        return str(self.job)

    def _task_refs(self) -> list[str] | None:
        if self.tasks is None:
            return None
        if isinstance(self.tasks, str):
            return [part.strip() for part in self.tasks.split(",") if part.strip()]
        return [str(task) for task in self.tasks]


class CDataSyncRunTransformationOperator(_CDataSyncRunOperator):
    """Run a CData Sync transformation and wait for it (parameters as for the job operator).

    :param transformation: transformation id or name (templated).
    """

    kind = "transformation"
    trigger_class = CDataSyncTransformationTrigger
    template_fields: Sequence[str] = ("transformation", "workspace")
    operator_extra_links = (CDataSyncTransformationLink(),)

    def __init__(self, *, transformation: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.transformation = transformation

    def _target_ref(self) -> str:
        return str(self.transformation)


class CDataSyncRunPipelineOperator(_CDataSyncRunOperator):
    """Run a CData Sync pipeline and wait for it (parameters as for the job operator).

    :param pipeline: pipeline id or name (templated).
    """

    kind = "pipeline"
    trigger_class = CDataSyncPipelineTrigger
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
        except (CDataSyncLookupError, CDataSyncConfigError) as exc:
            raise AirflowFailException(str(exc)) from exc
        current = client.current_run(target)
        if current is None:
            self.log.info("CData Sync %s %r is not running: nothing to cancel.", target.kind, target.name)
            return None
        self.log.info("Cancelling CData Sync %s %r run %s.", target.kind, target.name, current.id)
        client.cancel_run(target)
        run = current
        end = time.time() + (CANCEL_WAIT_SECONDS if self.wait_for_cancel else 0)
        while self.wait_for_cancel and time.time() < end and current.id:
            run = client.get_run(target, current.id)
            if run.state.is_terminal:
                break
            time.sleep(1.0)
        self.log.info("CData Sync %s %r run %s is now %s.", target.kind, target.name, run.id, run.status)
        return run_summary(target, run)


class CDataSyncCancelJobOperator(_CDataSyncCancelOperator):
    """Cancel the running run of a CData Sync job.

    :param job: job id or name (templated).
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
    """

    kind = "pipeline"
    template_fields: Sequence[str] = ("pipeline", "workspace")

    def __init__(self, *, pipeline: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipeline = pipeline

    def _target_ref(self) -> str:
        return str(self.pipeline)
