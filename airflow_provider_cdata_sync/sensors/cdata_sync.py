"""Sensors that wait for CData Sync runs: the current (or a given) run of a job, transformation or
pipeline, or a successful job run in the history since a point in time (jobs scheduled inside Sync)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_cdata_sync.client import CDATA_SYNC, CDataSyncConfigError, CDataSyncLookupError
from airflow_provider_cdata_sync.client.control import Kind, RunControl, Target
from airflow_provider_cdata_sync.client.models import Run
from airflow_provider_cdata_sync.hooks.cdata_sync import CDataSyncHook
from airflow_provider_cdata_sync.links.cdata_sync import CONSOLE_URL_XCOM_KEY, RUN_ID_XCOM_KEY
from airflow_provider_cdata_sync.reporting import failure_message, run_summary
from airflow_provider_cdata_sync.sensors.remote_run import RemoteRunSensor, given, parse_started_after
from airflow_provider_cdata_sync.triggers.cdata_sync import CDataSyncRunTrigger

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

__all__ = [
    "CDataSyncJobHistorySensor",
    "CDataSyncJobSensor",
    "CDataSyncPipelineSensor",
    "CDataSyncTransformationSensor",
    "parse_started_after",
]


class _CDataSyncSensorBase(RemoteRunSensor):
    """Shared: hook, target resolution, reporting.

    :param workspace: workspace id or name; the connection's by default (templated).
    :param fail_on_warnings: treat a run with warnings as failed.
    :param cdata_sync_conn_id: the Airflow connection.
    """

    kind: ClassVar[Kind] = "job"
    profile = CDATA_SYNC

    def __init__(
        self,
        *,
        workspace: str | None = None,
        fail_on_warnings: bool = False,
        cdata_sync_conn_id: str = CDataSyncHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.workspace = workspace
        self.fail_on_warnings = fail_on_warnings
        self.cdata_sync_conn_id = cdata_sync_conn_id

    @property
    def kinds(self) -> tuple[str, ...]:  # type: ignore[override]
        """The kind this sensor watches."""
        return (self.kind,)

    @cached_property
    def hook(self) -> CDataSyncHook:
        """The hook for ``cdata_sync_conn_id``."""
        return CDataSyncHook(cdata_sync_conn_id=self.cdata_sync_conn_id)

    def _client(self) -> RunControl:
        return self.hook.get_client()

    def _target_ref(self) -> str:
        raise NotImplementedError

    def _target(self) -> Target:
        try:
            return self._client().resolve_target(self.kind, self._target_ref(), self.workspace)
        except (CDataSyncLookupError, CDataSyncConfigError) as exc:
            raise AirflowFailException(str(exc)) from exc

    def _finished(self, context: Context, target: Target, run: Run) -> dict[str, Any]:
        url = self.hook.console_url(target.kind, target.id, run.id)
        context["ti"].xcom_push(key=RUN_ID_XCOM_KEY, value=run.id)
        context["ti"].xcom_push(key=CONSOLE_URL_XCOM_KEY, value=url)
        problem = failure_message(target, run, fail_on_warnings=self.fail_on_warnings)
        if problem:
            self._fail(f"{problem} Console: {url}")
        return run_summary(target, run, url)


class _CDataSyncRunSensor(_CDataSyncSensorBase):
    """Wait for the current run (or ``run_id``) of a job, transformation or pipeline to finish.

    :param run_id: the run (history id) to wait for; by default the current run, else the latest one.
    """

    def __init__(self, *, run_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run_id = run_id

    def _look(self, context: Context, target: Target) -> Run | None:
        return self._client().look(target, given(self.run_id))  # type: ignore[attr-defined,no-any-return]

    def _trigger(self, context: Context, target: Target, seen: Any) -> CDataSyncRunTrigger:
        return CDataSyncRunTrigger(
            conn_id=self.cdata_sync_conn_id,
            target=target.to_dict(),
            run_id=given(self.run_id) or (seen.id if seen is not None else None),
            poll_interval=float(self.poke_interval),
            end_time=self._end_time(),
            cancel_on_kill=False,  # a sensor watches; it never cancels what it did not start
        )


class CDataSyncJobSensor(_CDataSyncRunSensor):
    """Wait for a CData Sync job run to finish.

    :param job: job id or name (templated).
    :param run_id: the run (history id) to wait for; by default the current run, else the latest one.
    :param workspace: workspace id or name; the connection's by default (templated).
    :param deferrable: wait in the triggerer.
    :param fail_on_warnings: treat a run with warnings as failed.
    :param cdata_sync_conn_id: the Airflow connection.
    """

    kind = "job"
    template_fields: Sequence[str] = ("job", "run_id", "workspace")

    def __init__(self, *, job: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job

    def _target_ref(self) -> str:
        return str(self.job)


class CDataSyncTransformationSensor(_CDataSyncRunSensor):
    """Wait for a CData Sync transformation run to finish (parameters as for :class:`CDataSyncJobSensor`).

    :param transformation: transformation id or name (templated).
    """

    kind = "transformation"
    template_fields: Sequence[str] = ("transformation", "run_id", "workspace")

    def __init__(self, *, transformation: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.transformation = transformation

    def _target_ref(self) -> str:
        return str(self.transformation)


class CDataSyncPipelineSensor(_CDataSyncRunSensor):
    """Wait for a CData Sync pipeline run to finish (parameters as for :class:`CDataSyncJobSensor`).

    :param pipeline: pipeline id or name (templated).
    """

    kind = "pipeline"
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
    :param workspace: workspace id or name; the connection's by default (templated).
    :param deferrable: wait in the triggerer.
    :param fail_on_warnings: treat a run with warnings as failed.
    :param cdata_sync_conn_id: the Airflow connection.
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

    def _look(self, context: Context, target: Target) -> list[Run]:
        return list(self._client().runs_since(target, self._since(context)))

    def _trigger(self, context: Context, target: Target, seen: Any) -> CDataSyncRunTrigger:
        return CDataSyncRunTrigger(
            conn_id=self.cdata_sync_conn_id,
            target=target.to_dict(),
            since=self._since(context).isoformat(),
            fail_on_failure=self.fail_on_failure,
            poll_interval=float(self.poke_interval),
            end_time=self._end_time(),
        )
