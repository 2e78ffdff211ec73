"""A sensor that waits for an AI Squared sync run: a given run, the first run after a point in time
(scheduled syncs), or the sync's active (else latest) run."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
)

from airflow_provider_cdata_sync.aisquared.client import sync_target
from airflow_provider_cdata_sync.aisquared.errors import AISquaredError, AISquaredNotFoundError
from airflow_provider_cdata_sync.aisquared.hook import AISquaredHook
from airflow_provider_cdata_sync.aisquared.models import SyncRun
from airflow_provider_cdata_sync.aisquared.operators import RUN_ID_XCOM_KEY
from airflow_provider_cdata_sync.aisquared.reporting import failure_message, row_counts, run_summary
from airflow_provider_cdata_sync.aisquared.triggers import AISquaredSyncRunTrigger
from airflow_provider_cdata_sync.client.runs import Target
from airflow_provider_cdata_sync.operators.cdata_sync import _default_deferrable
from airflow_provider_cdata_sync.sensors.cdata_sync import parse_started_after
from airflow_provider_cdata_sync.triggers.cdata_sync import EVENT_STATUSES, is_transient

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class AISquaredSyncRunSensor(BaseSensorOperator):
    """Wait until a run of an AI Squared sync has finished; fail (or skip, with ``soft_fail``) when it did
    not succeed. Returns the run's JSON-safe summary.

    :param sync_id: the sync (templated).
    :param run_id: the run to wait for (templated); an empty rendering means "not given".
    :param started_after: wait for the first run that started at or after this time (ISO 8601 or
        datetime, templated) — for syncs on AI Squared's own schedule. Without it and without
        ``run_id``: the sync's active run, else its latest run.
    :param max_failed_rows: fail when more rows than this failed (default None: never for rows alone).
    :param deferrable: wait in the triggerer.
    :param aisquared_conn_id: the Airflow connection.
    """

    template_fields: Sequence[str] = ("sync_id", "run_id", "started_after")
    ui_color = "#5b3cc4"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        sync_id: str | int,
        run_id: str | int | None = None,
        started_after: str | datetime | None = None,
        max_failed_rows: int | None = None,
        deferrable: bool = _default_deferrable(),
        aisquared_conn_id: str = AISquaredHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sync_id = sync_id
        self.run_id = run_id
        self.started_after = started_after
        self.max_failed_rows = max_failed_rows
        self.deferrable = deferrable
        self.aisquared_conn_id = aisquared_conn_id

    @cached_property
    def hook(self) -> AISquaredHook:
        """The hook for ``aisquared_conn_id``."""
        return AISquaredHook(aisquared_conn_id=self.aisquared_conn_id)

    def _target(self) -> Target:
        try:
            return sync_target(self.hook.get_client().get_sync(str(self.sync_id)))
        except AISquaredNotFoundError as exc:
            raise AirflowFailException(str(exc)) from exc

    @staticmethod
    def _given(value: Any) -> str | None:
        text = "" if value is None else str(value).strip()
        return None if text in ("", "None", "null") else text

    def _after(self) -> datetime | None:
        return parse_started_after(self.started_after)

    def _find_run(self, target: Target) -> SyncRun | None:
        client = self.hook.get_client()
        run_id, after = self._given(self.run_id), self._after()
        if run_id:
            return client.get_run(target, run_id)
        if after is not None:
            runs = client.runs_since(target, after)
            return runs[0] if runs else None
        return client.current_run(target) or client.latest_run(target)

    def _finished(self, context: Context, target: Target, run: SyncRun) -> dict[str, Any]:
        context["ti"].xcom_push(key=RUN_ID_XCOM_KEY, value=run.id)
        self.log.info(
            "AI Squared sync %r run %s ended %s: %s.", target.name, run.id, run.status, row_counts(run)
        )
        problem = failure_message(target, run, max_failed_rows=self.max_failed_rows)
        if problem:
            if self.soft_fail:
                raise AirflowSkipException(f"{problem} (soft_fail is set)")
            raise AirflowFailException(problem)
        return run_summary(target, run)

    def poke(self, context: Context) -> Any:
        """Done, with the summary in XCom, once the run finished well."""
        target = self._target()
        try:
            run = self._find_run(target)
        except AISquaredError as exc:
            if is_transient(exc):
                self.log.warning("AI Squared could not be polled (%s); poking again.", exc)
                return False
            raise
        if run is None or not run.state.is_terminal:
            self.log.info(
                "AI Squared sync %r: %s", target.name, f"run {run.id} {run.status}" if run else "no run yet"
            )
            return False
        from airflow.providers.common.compat.sdk import PokeReturnValue

        return PokeReturnValue(is_done=True, xcom_value=self._finished(context, target, run))

    def execute(self, context: Context) -> Any:
        """Poke, or defer to the trigger when ``deferrable``."""
        if not self.deferrable:
            return super().execute(context)
        target = self._target()
        run = self._find_run(target)
        if run is not None and run.state.is_terminal:
            return self._finished(context, target, run)
        after = self._after()
        trigger = AISquaredSyncRunTrigger(
            conn_id=self.aisquared_conn_id,
            target=target.to_dict(),
            run_id=run.id if run else self._given(self.run_id),
            after=after.isoformat() if after and not run else None,
            poll_interval=float(self.poke_interval),
            end_time=time.time() + float(self.timeout),
            cancel_on_kill=False,  # a sensor watches; it never cancels what it did not start
        )
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout) + 60),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: timeout, error or the finished run."""
        if not isinstance(event, dict) or event.get("status") not in EVENT_STATUSES or "target" not in event:
            raise AirflowException(f"Unexpected event from the AI Squared trigger: {event!r}")
        target = Target.from_dict(event["target"])
        if event["status"] == "timeout":
            message = f"Sensor timed out waiting for AI Squared sync {target.name!r}."
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        if event["status"] == "error" or not isinstance(event.get("run"), dict):
            raise AirflowException(
                f"Waiting for AI Squared sync {target.name!r} failed: {event.get('message')}"
            )
        return self._finished(context, target, SyncRun.model_validate(event["run"]))
