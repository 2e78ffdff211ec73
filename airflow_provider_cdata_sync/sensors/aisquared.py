"""A sensor that waits for an AI Squared sync run: a given run, the first run after a point in time
(scheduled syncs), or the sync's active (else latest) run."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_cdata_sync.aisquared.client import AISquaredClient, sync_target
from airflow_provider_cdata_sync.aisquared.errors import (
    AISQUARED,
    AISquaredConfigError,
    AISquaredNotFoundError,
)
from airflow_provider_cdata_sync.aisquared.models import SyncRun
from airflow_provider_cdata_sync.aisquared.reporting import failure_message, row_counts, run_summary
from airflow_provider_cdata_sync.client.control import Target
from airflow_provider_cdata_sync.client.models import Run
from airflow_provider_cdata_sync.hooks.aisquared import AISquaredHook
from airflow_provider_cdata_sync.operators.aisquared import RUN_ID_XCOM_KEY
from airflow_provider_cdata_sync.sensors.remote_run import RemoteRunSensor, given, parse_started_after
from airflow_provider_cdata_sync.triggers.aisquared import AISquaredSyncRunTrigger

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class AISquaredSyncRunSensor(RemoteRunSensor):
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
    profile = AISQUARED
    run_model = SyncRun
    kinds = ("sync",)
    ui_color = "#5b3cc4"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        sync_id: str | int,
        run_id: str | int | None = None,
        started_after: str | datetime | None = None,
        max_failed_rows: int | None = None,
        aisquared_conn_id: str = AISquaredHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sync_id = sync_id
        self.run_id = run_id
        self.started_after = started_after
        self.max_failed_rows = max_failed_rows
        self.aisquared_conn_id = aisquared_conn_id

    @cached_property
    def hook(self) -> AISquaredHook:
        """The hook for ``aisquared_conn_id``."""
        return AISquaredHook(aisquared_conn_id=self.aisquared_conn_id)

    def _client(self) -> AISquaredClient:
        return self.hook.get_client()

    def _target(self) -> Target:
        try:
            return sync_target(self._client().syncs.get(str(self.sync_id)))
        except (AISquaredNotFoundError, AISquaredConfigError) as exc:
            raise AirflowFailException(str(exc)) from exc

    def _look(self, context: Context, target: Target) -> Run | None:
        run_id, after = given(self.run_id), parse_started_after(self.started_after)
        if run_id is None and after is not None:
            runs = self._client().runs_since(target, after)
            return runs[0] if runs else None
        return self._client().look(target, run_id)

    def _trigger(self, context: Context, target: Target, seen: Any) -> AISquaredSyncRunTrigger:
        after = parse_started_after(self.started_after)
        return AISquaredSyncRunTrigger(
            conn_id=self.aisquared_conn_id,
            target=target.to_dict(),
            run_id=seen.id if seen is not None else given(self.run_id),
            after=after.isoformat() if after and seen is None else None,
            poll_interval=float(self.poke_interval),
            end_time=self._end_time(),
            cancel_on_kill=False,  # a sensor watches; it never cancels what it did not start
        )

    def _finished(self, context: Context, target: Target, run: Run) -> dict[str, Any]:
        sync_run = run if isinstance(run, SyncRun) else SyncRun.model_validate(run.model_dump())
        context["ti"].xcom_push(key=RUN_ID_XCOM_KEY, value=run.id)
        self.log.info(
            "AI Squared sync %r run %s ended %s: %s.", target.name, run.id, run.status, row_counts(sync_run)
        )
        problem = failure_message(target, sync_run, max_failed_rows=self.max_failed_rows)
        if problem:
            self._fail(problem)
        return run_summary(target, sync_run)


__all__ = ["AISquaredSyncRunSensor"]
