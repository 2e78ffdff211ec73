"""Sensors that wait for CData Sync runs: the current (or a given) run of a job, transformation or
pipeline, or a successful job run in the history since a point in time (jobs scheduled inside Sync)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    conf,
)

from airflow_provider_cdata_sync.client import CDataSyncConfigError, CDataSyncError, CDataSyncLookupError
from airflow_provider_cdata_sync.client.models import Run
from airflow_provider_cdata_sync.client.runs import Kind, Target
from airflow_provider_cdata_sync.hooks.cdata_sync import CDataSyncHook
from airflow_provider_cdata_sync.links.cdata_sync import CONSOLE_URL_XCOM_KEY, RUN_ID_XCOM_KEY
from airflow_provider_cdata_sync.reporting import failure_message, run_summary
from airflow_provider_cdata_sync.triggers.cdata_sync import (
    EVENT_STATUSES,
    CDataSyncJobHistoryTrigger,
    CDataSyncJobTrigger,
    CDataSyncPipelineTrigger,
    CDataSyncRunTrigger,
    CDataSyncTransformationTrigger,
    history_event,
    is_transient,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


def _default_deferrable() -> bool:
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def parse_started_after(value: Any) -> datetime | None:
    """A ``started_after`` value as an aware datetime: ISO 8601 text (``Z`` allowed) or a datetime, naive
    ones taken as UTC; None for nothing, including a template that rendered to ``''``/``None``/``null``."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = "" if value is None else str(value).strip()
    if text in ("", "None", "null"):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AirflowFailException(f"started_after {text!r} is not an ISO 8601 time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class _CDataSyncSensorBase(BaseSensorOperator):
    """Shared: hook, target resolution, deferral with a deadline, event validation, soft_fail."""

    kind: ClassVar[Kind] = "job"

    def __init__(
        self,
        *,
        workspace: str | None = None,
        deferrable: bool = _default_deferrable(),
        fail_on_warnings: bool = False,
        cdata_sync_conn_id: str = CDataSyncHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.workspace = workspace
        self.deferrable = deferrable
        self.fail_on_warnings = fail_on_warnings
        self.cdata_sync_conn_id = cdata_sync_conn_id

    @cached_property
    def hook(self) -> CDataSyncHook:
        """The hook for ``cdata_sync_conn_id``."""
        return CDataSyncHook(cdata_sync_conn_id=self.cdata_sync_conn_id)

    def _target_ref(self) -> str:
        raise NotImplementedError

    def _target(self) -> Target:
        try:
            return self.hook.get_client().resolve_target(self.kind, self._target_ref(), self.workspace)
        except (CDataSyncLookupError, CDataSyncConfigError) as exc:
            raise AirflowFailException(str(exc)) from exc

    def _fail(self, message: str) -> None:
        """A failed run fails the sensor, or skips it with ``soft_fail``."""
        if self.soft_fail:
            raise AirflowSkipException(f"{message} (soft_fail is set)")
        raise AirflowFailException(message)

    def _end_time(self) -> float:
        return time.time() + float(self.timeout)

    def _check_finished(self, context: Context, target: Target, run: Run) -> dict[str, Any]:
        url = self.hook.console_url(target.kind, target.id, run.id)
        context["ti"].xcom_push(key=RUN_ID_XCOM_KEY, value=run.id)
        context["ti"].xcom_push(key=CONSOLE_URL_XCOM_KEY, value=url)
        problem = failure_message(target, run, fail_on_warnings=self.fail_on_warnings)
        if problem:
            self._fail(f"{problem} Console: {url}")
        return run_summary(target, run, url)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: timeout, error or the finished run."""
        if not isinstance(event, dict) or event.get("status") not in EVENT_STATUSES or "target" not in event:
            raise AirflowException(f"Unexpected event from the CData Sync trigger: {event!r}")
        target = Target.from_dict(event["target"])
        if event["status"] == "timeout":
            message = f"Sensor timed out waiting for CData Sync {target.kind} {target.name!r}."
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        if event["status"] == "error" or not isinstance(event.get("run"), dict):
            raise AirflowException(
                f"Waiting for CData Sync {target.kind} {target.name!r} failed: {event.get('message')}"
            )
        return self._check_finished(context, target, Run.model_validate(event["run"]))


class _CDataSyncRunSensor(_CDataSyncSensorBase):
    """Wait for the current run (or ``run_id``) of a job, transformation or pipeline to finish."""

    trigger_class: ClassVar[type[CDataSyncRunTrigger]]

    def __init__(self, *, run_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run_id = run_id

    def _find_run(self, target: Target) -> Run | None:
        client = self.hook.get_client()
        if self.run_id:
            return client.get_run(target, str(self.run_id))
        return client.current_run(target) or client.latest_run(target)

    def poke(self, context: Context) -> bool | Any:
        """True with the summary in XCom when the run finished well; fails (or skips) when it did not."""
        target = self._target()
        try:
            run = self._find_run(target)
        except CDataSyncError as exc:
            if is_transient(exc):
                self.log.warning("CData Sync could not be polled (%s); poking again.", exc)
                return False
            raise
        if run is None or not run.state.is_terminal:
            self.log.info(
                "CData Sync %s %r: %s", target.kind, target.name, run.status if run else "no run yet"
            )
            return False
        from airflow.providers.common.compat.sdk import PokeReturnValue

        return PokeReturnValue(is_done=True, xcom_value=self._check_finished(context, target, run))

    def execute(self, context: Context) -> Any:
        """Poke, or defer to the trigger when ``deferrable``."""
        if not self.deferrable:
            return super().execute(context)
        target = self._target()
        run = self._find_run(target)
        if run is not None and run.state.is_terminal:
            return self._check_finished(context, target, run)
        trigger = self.trigger_class(
            conn_id=self.cdata_sync_conn_id,
            target=target.to_dict(),
            run_id=self.run_id or (run.id if run else None),
            poll_interval=float(self.poke_interval),
            end_time=self._end_time(),
            cancel_on_kill=False,  # a sensor watches; it never cancels what it did not start
        )
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout) + 60),
        )


class CDataSyncJobSensor(_CDataSyncRunSensor):
    """Wait for a CData Sync job run to finish.

    :param job: job id or name (templated).
    :param run_id: the run (history id) to wait for; by default the current run, else the latest one.
    :param deferrable: wait in the triggerer.
    :param fail_on_warnings: treat a run with warnings as failed.
    """

    kind = "job"
    trigger_class = CDataSyncJobTrigger
    template_fields: Sequence[str] = ("job", "run_id", "workspace")

    def __init__(self, *, job: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job

    def _target_ref(self) -> str:
        return str(self.job)


class CDataSyncTransformationSensor(_CDataSyncRunSensor):
    """Wait for a CData Sync transformation run to finish.

    :param transformation: transformation id or name (templated).
    """

    kind = "transformation"
    trigger_class = CDataSyncTransformationTrigger
    template_fields: Sequence[str] = ("transformation", "run_id", "workspace")

    def __init__(self, *, transformation: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.transformation = transformation

    def _target_ref(self) -> str:
        return str(self.transformation)


class CDataSyncPipelineSensor(_CDataSyncRunSensor):
    """Wait for a CData Sync pipeline run to finish.

    :param pipeline: pipeline id or name (templated).
    """

    kind = "pipeline"
    trigger_class = CDataSyncPipelineTrigger
    template_fields: Sequence[str] = ("pipeline", "run_id", "workspace")

    def __init__(self, *, pipeline: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipeline = pipeline

    def _target_ref(self) -> str:
        return str(self.pipeline)


class CDataSyncJobHistorySensor(_CDataSyncSensorBase):
    """Wait until a job's history shows a successful run that started after a point in time.

    For jobs scheduled inside CData Sync itself: the DAG waits for Sync's own run instead of starting one.

    :param job: job id or name (templated).
    :param started_after: ISO 8601 time or datetime (templated); default: the DAG run's data interval end
        (else its logical date).
    :param fail_on_failure: fail as soon as a run after that time failed, instead of waiting for a good one.
    """

    kind = "job"
    template_fields: Sequence[str] = ("job", "started_after", "workspace")

    def __init__(
        self,
        *,
        job: str,
        started_after: str | datetime | None = None,
        fail_on_failure: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.started_after = started_after
        self.fail_on_failure = fail_on_failure

    def _target_ref(self) -> str:
        return str(self.job)

    def _since(self, context: Context) -> datetime:
        since = parse_started_after(self.started_after)
        if since is not None:
            return since
        dag_run = context.get("dag_run")
        fallback = (
            context.get("data_interval_end")
            or context.get("logical_date")
            or getattr(dag_run, "run_after", None)
            or getattr(dag_run, "start_date", None)
        )
        if fallback is None:
            raise AirflowFailException("started_after is not set and the DAG run has no data interval end.")
        return parse_started_after(fallback)  # type: ignore[return-value]

    def poke(self, context: Context) -> bool | Any:
        """True when a good run started after the cut-off; fails fast on a failed one when asked."""
        target = self._target()
        since = self._since(context)
        try:
            runs = self.hook.get_client().runs_since(target, since)
        except CDataSyncError as exc:
            if is_transient(exc):
                self.log.warning("CData Sync could not be polled (%s); poking again.", exc)
                return False
            raise
        event = history_event(target, runs, self.fail_on_failure)
        if event is None:
            self.log.info(
                "No successful run of job %r since %s yet (%d run(s) since).", target.name, since, len(runs)
            )
            return False
        from airflow.providers.common.compat.sdk import PokeReturnValue

        run = Run.model_validate(event.payload["run"])
        return PokeReturnValue(is_done=True, xcom_value=self._check_finished(context, target, run))

    def execute(self, context: Context) -> Any:
        """Poke, or defer to the history trigger when ``deferrable``."""
        if not self.deferrable:
            return super().execute(context)
        target = self._target()
        trigger = CDataSyncJobHistoryTrigger(
            conn_id=self.cdata_sync_conn_id,
            target=target.to_dict(),
            since=self._since(context).isoformat(),
            fail_on_failure=self.fail_on_failure,
            poll_interval=float(self.poke_interval),
            end_time=self._end_time(),
        )
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout) + 60),
        )
