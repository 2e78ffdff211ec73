"""Operators for AI Squared (Multiwoven) syncs: run a sync and wait (blocking or deferred), cancelling
what the task started on timeout, execution_timeout and kill; create a sync idempotently."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, BaseOperator

from airflow_provider_cdata_sync.aisquared.client import AISquaredClient, sync_body, sync_target
from airflow_provider_cdata_sync.aisquared.errors import (
    AISQUARED,
    AISquaredConfigError,
    AISquaredError,
    AISquaredNotFoundError,
    AISquaredSyncNotRunnableError,
)
from airflow_provider_cdata_sync.aisquared.models import IDENTITY_FIELDS, Sync, SyncRecord, SyncRun
from airflow_provider_cdata_sync.aisquared.reporting import (
    failed_record_lines,
    failure_message,
    row_counts,
    run_summary,
)
from airflow_provider_cdata_sync.client.control import Target
from airflow_provider_cdata_sync.client.models import Run
from airflow_provider_cdata_sync.hooks.aisquared import AISquaredHook
from airflow_provider_cdata_sync.operators.remote_run import RemoteRunOperator, default_deferrable
from airflow_provider_cdata_sync.triggers.aisquared import AISquaredSyncRunTrigger

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

RUN_ID_XCOM_KEY = "aisquared_run_id"
SYNC_XCOM_KEY = "aisquared_sync"


class AISquaredRunSyncOperator(RemoteRunOperator):
    """Trigger a manual run of an AI Squared sync, find it, and wait for it to finish.

    The run id is pushed to XCom (``aisquared_run_id``) as soon as the run is found. When it ends, the
    task log gets its row counts and the first failed records' errors; the task returns a JSON-safe
    summary. On ``timeout``, ``execution_timeout`` or kill, the run is cancelled (also when the kill comes
    before the run row exists: the server creates it a moment after accepting the trigger).

    :param sync_id: the sync (templated). It must be enabled and have ``schedule_type`` manual.
    :param wait_for_termination: wait for the run to finish (default True).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param check_interval: seconds between status polls.
    :param timeout: longest wait for the run (seconds or timedelta); the run is cancelled when it passes.
    :param reuse_active_run: when the sync is already running, wait for that run instead of failing.
    :param max_failed_rows: fail the task when more rows than this failed (default None: failed rows are
        reported but do not fail the task, as in AI Squared).
    :param failed_records_to_log: how many failed records' errors to copy into the task log.
    :param find_run_timeout: how long to look for the run the trigger started (seconds).
    :param max_consecutive_poll_errors: transient poll failures in a row before the task fails.
    :param durable: keep the run id in the task state store (Airflow 3.3+) so a retry reattaches to it.
        AI Squared runs a sync whole: a retry after a failed run starts the whole sync again (there is no
        partial re-run like CData Sync's ``retry_from_failure``; incremental syncs resume from their cursor).
    :param trigger_queue: the triggerer queue of the deferred wait (Airflow 3.2+).
    :param aisquared_conn_id: the Airflow connection.
    """

    template_fields: Sequence[str] = ("sync_id",)
    profile = AISQUARED
    run_model = SyncRun
    kinds = ("sync",)
    run_id_xcom_key = RUN_ID_XCOM_KEY
    target_xcom_key = SYNC_XCOM_KEY
    ui_color = "#5b3cc4"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        sync_id: str | int,
        deferrable: bool = default_deferrable(),
        check_interval: float = 30,
        timeout: float | timedelta | None = None,
        reuse_active_run: bool = False,
        max_failed_rows: int | None = None,
        failed_records_to_log: int = 10,
        find_run_timeout: float = 60,
        aisquared_conn_id: str = AISquaredHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(deferrable=deferrable, check_interval=check_interval, timeout=timeout, **kwargs)
        self.sync_id = sync_id
        self.reuse_active_run = reuse_active_run
        self.max_failed_rows = max_failed_rows
        self.failed_records_to_log = failed_records_to_log
        self.find_run_timeout = find_run_timeout
        self.aisquared_conn_id = aisquared_conn_id
        self._last_status: str | None = None

    @cached_property
    def hook(self) -> AISquaredHook:
        """The hook for ``aisquared_conn_id``."""
        return AISquaredHook(aisquared_conn_id=self.aisquared_conn_id)

    @property
    def client(self) -> AISquaredClient:
        """The hook's synchronous client."""
        return self.hook.get_client()

    def _client(self) -> AISquaredClient:
        return self.client

    # ------------------------------------------------------------------ start
    def _resolve(self, context: Context) -> Target:
        try:
            self._sync = self.client.syncs.get(str(self.sync_id))
        except (AISquaredNotFoundError, AISquaredConfigError) as exc:
            raise AirflowFailException(str(exc)) from exc
        return sync_target(self._sync)

    def _start(self, context: Context, target: Target, previous: Run | None) -> Run:
        try:
            return self._start_or_follow(self._sync, target)
        except (AISquaredNotFoundError, AISquaredConfigError) as exc:
            raise AirflowFailException(str(exc)) from exc

    def _start_or_follow(self, sync: Sync, target: Target) -> SyncRun:
        """Say clearly why a sync cannot run; follow an active run only when asked to."""
        if not sync.enabled:
            raise AirflowFailException(
                f"AI Squared sync {sync.label} is disabled (status {sync.status!r}): enable it first "
                "(AISquaredClient.syncs.enable or the AI Squared app)."
            )
        if not sync.is_manual:
            raise AirflowFailException(
                f"AI Squared sync {sync.label} runs on its own schedule ({sync.schedule_type}), so it cannot "
                "be triggered by hand: set schedule_type to manual, or wait for its scheduled runs with "
                "AISquaredSyncRunSensor(started_after=...)."
            )
        active = self.client.current_run(target)
        if active is not None:
            if not self.reuse_active_run:
                raise AirflowFailException(
                    f"AI Squared sync {sync.label} is already running (run {active.id}, "
                    f"{active.status}). Set reuse_active_run=True to wait for that run instead, or wait for "
                    f"it with AISquaredSyncRunSensor(run_id={active.id!r})."
                )
            self.log.info(
                "Sync %s is already running: following run %s (reuse_active_run=True).", sync.label, active.id
            )
            self._active = (target, active.id)
            return active
        self._active = (target, None)  # from here on, a kill must cancel whatever started
        try:
            run = self.client.start_run(target, find_timeout=self.find_run_timeout)
        except AISquaredSyncNotRunnableError as exc:
            self._active = None
            raise AirflowFailException(
                f"AI Squared refused to run sync {sync.label}: {exc.server_message}. A sync runs by hand "
                "only when it is enabled, manual and not already running "
                "(reuse_active_run=True waits for the active run instead)."
            ) from exc
        self._active = (target, run.id)
        self.log.info("Started AI Squared sync %s: run %s (%s).", sync.label, run.id, run.status)
        return run

    def _trigger(self, target: Target, run: Run, deadline: float | None) -> AISquaredSyncRunTrigger:
        return AISquaredSyncRunTrigger(
            conn_id=self.aisquared_conn_id,
            target=target.to_dict(),
            run_id=run.id,
            poll_interval=self.check_interval,
            end_time=deadline,
            max_consecutive_errors=self.max_consecutive_poll_errors,
        )

    def _progress(self, target: Target, run: Run | None) -> None:
        if isinstance(run, SyncRun) and run.status != self._last_status:
            self.log.info(
                "AI Squared sync %r run %s: %s (%s)", target.name, run.id, run.status, row_counts(run)
            )
            self._last_status = run.status

    # ------------------------------------------------------------------ results
    def _failed_records(self, target: Target, run: SyncRun) -> list[SyncRecord]:
        if not run.failed_rows or self.failed_records_to_log <= 0:
            return []
        try:
            return self.client.records.list(target, str(run.id), "failed", limit=self.failed_records_to_log)
        except AISquaredError as exc:
            self.log.warning(
                "Could not read the failed records of run %s (the run is not affected): %s", run.id, exc
            )
            return []

    def _summary(self, target: Target, run: Run, url: str | None) -> dict[str, Any]:
        return run_summary(target, _as_sync_run(run))

    def _lineage_for(self, target: Target, run: Run | None) -> Any:
        from airflow_provider_cdata_sync.lineage.aisquared import AISquaredLineage

        sync = getattr(self, "_sync", None)
        if sync is None or str(sync.id) != target.id:  # resumed after a deferral: read it again
            sync = self.client.syncs.get(target.id)
        return AISquaredLineage(self.client).build(sync, None if run is None else _as_sync_run(run))

    def _finish(self, context: Context, target: Target, run: Run, url: str | None) -> dict[str, Any]:
        self._active = None
        sync_run = _as_sync_run(run)
        self.log.info(
            "AI Squared sync %r run %s ended %s: %s.", target.name, run.id, run.status, row_counts(sync_run)
        )
        records = self._failed_records(target, sync_run)
        for line in failed_record_lines(records, sync_run.failed_rows):
            self.log.info("%s", line)
        problem = failure_message(target, sync_run, max_failed_rows=self.max_failed_rows)
        if problem:
            raise AirflowException(problem)
        return run_summary(target, sync_run, records)


def _as_sync_run(run: Run) -> SyncRun:
    return run if isinstance(run, SyncRun) else SyncRun.model_validate(run.model_dump())


class AISquaredCreateSyncOperator(BaseOperator):
    """Create an AI Squared sync from a (templated) create-sync document, idempotently.

    A sync with the same ``source_id``, ``destination_id``, ``model_id`` and ``stream_name`` is reused
    (and, with ``update_existing``, brought in line with the definition). Returns the sync (with ``id``
    and ``created``), JSON-safe; templated fields such as ``"{{ params.source_id }}"`` may render ids as
    strings: numeric ones are sent as numbers.

    :param definition: ``source_id``, ``destination_id``, ``model_id``, ``schedule_type`` (manual,
        interval, cron_expression), ``configuration`` (the field mapping), ``stream_name``, ``sync_mode``
        (full_refresh, incremental), ``sync_interval``, ``sync_interval_unit``, ``cron_expression``,
        ``cursor_field``.
    :param update_existing: update a reused sync whose other fields differ (default False: log them).
    :param aisquared_conn_id: the Airflow connection.
    """

    template_fields: Sequence[str] = ("definition",)
    ui_color = "#5b3cc4"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        definition: Mapping[str, Any],
        update_existing: bool = False,
        aisquared_conn_id: str = AISquaredHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.definition = definition
        self.update_existing = update_existing
        self.aisquared_conn_id = aisquared_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        """Find the sync with the same identity, or create it."""
        try:
            body = sync_body(dict(self.definition))
        except AISquaredConfigError as exc:
            raise AirflowFailException(str(exc)) from exc
        client = AISquaredHook(aisquared_conn_id=self.aisquared_conn_id).get_client()
        wanted = {key: str(body[key]) for key in IDENTITY_FIELDS}
        existing = next(
            (s for s in client.syncs.list() if all(str(getattr(s, k)) == v for k, v in wanted.items())), None
        )
        if existing is None:
            sync = client.syncs.create(body)
            self.log.info("Created AI Squared sync %s.", sync.label)
            return {**sync.model_dump(mode="json"), "created": True}
        differing = {
            key: value
            for key, value in body.items()
            if key not in IDENTITY_FIELDS and _differs(getattr(existing, key, None), value)
        }
        self.log.info(
            "Reusing AI Squared sync %s (same source, destination, model and stream).", existing.label
        )
        if differing and self.update_existing:
            self.log.info("Updating its %s.", ", ".join(sorted(differing)))
            existing = client.syncs.update(existing.id or "", differing)
        elif differing:
            self.log.warning(
                "Sync %s differs from the definition in %s (update_existing=False: left as it is).",
                existing.label,
                ", ".join(sorted(differing)),
            )
        return {**existing.model_dump(mode="json"), "created": False}


def _differs(current: Any, wanted: Any) -> bool:
    if wanted in (None, "", {}) and current in (None, "", {}):
        return False
    return str(current) != str(wanted)
