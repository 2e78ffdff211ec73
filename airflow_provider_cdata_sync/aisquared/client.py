"""The AI Squared (Multiwoven) client: syncs, their runs and records grouped by resource
(``client.syncs.get(...)``, ``client.runs.trigger(...)``, ``client.records.list(...)``), and the run control
every service offers (``start_run``, ``current_run``, ``get_run``, ``cancel_and_watch`` ...). Written once,
served sync and async by the shared drivers, retry policy and secret scrubbing; only addressing,
authentication (:mod:`.auth`) and wording (:data:`.errors.AISQUARED`) are AI Squared's. No Airflow imports.
"""

from __future__ import annotations

import builtins
import re
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from airflow_provider_cdata_sync.aisquared.auth import AISquaredAuth
from airflow_provider_cdata_sync.aisquared.config import AISquaredConfig
from airflow_provider_cdata_sync.aisquared.errors import (
    AISQUARED,
    AISquaredAPIError,
    AISquaredConfigError,
    AISquaredRunNotFoundError,
    AISquaredSyncNotRunnableError,
    AISquaredUnsupportedError,
)
from airflow_provider_cdata_sync.aisquared.models import SYNC_FIELDS, Sync, SyncRecord, SyncRun
from airflow_provider_cdata_sync.client.control import ControlOps, RunLog, Target, runs_started_since
from airflow_provider_cdata_sync.client.errors import ServiceProfile
from airflow_provider_cdata_sync.client.http import (
    ApiRequest,
    Async,
    AsyncRunner,
    Call,
    D,
    Resource,
    Sleep,
    SyncRunner,
    operation,
    unwrap_one,
)
from airflow_provider_cdata_sync.client.http import (
    Sync as SyncDriver,
)

#: Page size asked for when listing (the server's default is 10, with no maximum).
PER_PAGE = 100
SyncRef = Target | str | int
#: The 424 on cancel that means "no run to cancel" (the other 424s: disabled, not manual). The open-source
#: server says "Sync cannot be cancelled due to no active sync run"; others word it "has no active run".
NO_ACTIVE_RUN = re.compile(r"\bno active (sync )?run\b", re.IGNORECASE)


def sync_key(sync: SyncRef) -> str:
    """The sync id of a :class:`Target`, an id string or an int."""
    return str(sync.id if isinstance(sync, Target) else sync).strip()


def sync_target(sync: Sync) -> Target:
    """A sync as the JSON-safe :class:`Target` that triggers carry (kind ``sync``)."""
    return Target(kind="sync", id=str(sync.id), name=sync.name or sync.stream_name or str(sync.id))


def seg(value: SyncRef) -> str:
    """A URL path segment."""
    return quote(sync_key(value), safe="")


def sync_body(definition: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """The ``sync`` document: known fields only, ids and the interval as integers when they are numeric."""
    unknown = sorted(set(definition) - set(SYNC_FIELDS) - {"name"})
    if unknown:
        raise AISquaredConfigError(
            f"Unknown sync field(s) {', '.join(unknown)}. Known fields: {', '.join(SYNC_FIELDS)}."
        )
    body: dict[str, Any] = {}
    for key, value in definition.items():
        if key in ("source_id", "destination_id", "model_id", "sync_interval") and isinstance(value, str):
            value = int(value) if value.strip().isdigit() else value
        body[key] = value
    if not partial:
        required = ("source_id", "destination_id", "model_id", "schedule_type", "sync_mode", "stream_name")
        missing = [key for key in required if not body.get(key)]
        if missing:
            raise AISquaredConfigError(f"The sync definition lacks {', '.join(missing)} (all are required).")
        if not body.get("configuration"):
            raise AISquaredConfigError(
                "The sync definition needs a non-empty 'configuration' (the field mapping)."
            )
    return body


class Syncs(Resource[D]):
    """The syncs of the workspace: a model of a source copied into a destination stream."""

    @operation
    def list(self) -> Call[builtins.list[Sync]]:
        """Every sync of the workspace (all pages)."""
        return (yield from self._many(ApiRequest("GET", "syncs", params={"per_page": PER_PAGE}), Sync))

    @operation
    def get(self, sync: SyncRef) -> Call[Sync]:
        """One sync.

        :param sync: the sync id.
        """
        return (yield from self._one(ApiRequest("GET", f"syncs/{seg(sync)}"), Sync))

    @operation
    def create(self, definition: Mapping[str, Any]) -> Call[Sync]:
        """Create a sync (201). A refused definition raises with the server's reason (kept in ``source``).

        :param definition: ``source_id``, ``destination_id``, ``model_id``, ``schedule_type`` (manual,
            interval, cron_expression), ``sync_mode`` (full_refresh, incremental), ``stream_name`` and a
            non-empty ``configuration`` (required), ``sync_interval`` + ``sync_interval_unit`` (interval
            syncs), ``cron_expression`` (cron syncs), ``cursor_field``.
        """
        request = ApiRequest("POST", "syncs", json={"sync": sync_body(definition)})
        return (yield from self._one(request, Sync))

    @operation
    def update(self, sync: SyncRef, changes: Mapping[str, Any]) -> Call[Sync]:
        """Change some fields of a sync.

        :param sync: the sync id.
        :param changes: the fields to change (as in :meth:`create`).
        """
        request = ApiRequest("PUT", f"syncs/{seg(sync)}", json={"sync": sync_body(changes, partial=True)})
        return (yield from self._one(request, Sync))

    @operation
    def delete(self, sync: SyncRef) -> Call[None]:
        """Delete a sync.

        :param sync: the sync id.
        """
        yield from self._json(ApiRequest("DELETE", f"syncs/{seg(sync)}"))

    @operation
    def enable(self, sync: SyncRef, enable: bool = True) -> Call[Sync]:
        """Enable (or disable) a sync. The server's transition is not idempotent ("Event 'enable' cannot
        transition from 'healthy'"): a sync already in the wanted state is returned as it is.

        :param sync: the sync id.
        :param enable: True to enable, False to disable.
        """
        request = ApiRequest("PATCH", f"syncs/{seg(sync)}/enable", json={"enable": bool(enable)})
        try:
            return (yield from self._one(request, Sync))
        except AISquaredAPIError as exc:
            if exc.status_code != 400 or "cannot transition" not in exc.server_message.lower():
                raise
        current = yield from self.get.steps(sync)
        if current.enabled != bool(enable):
            raise AISquaredConfigError(
                f"AI Squared cannot {'enable' if enable else 'disable'} sync {current.label} from status "
                f"{current.status!r}."
            )
        return current

    @operation
    def disable(self, sync: SyncRef) -> Call[Sync]:
        """Disable a sync: no scheduled nor manual runs until it is enabled again.

        :param sync: the sync id.
        """
        return (yield from self.enable.steps(sync, False))

    @operation
    def configurations(self) -> Call[Any]:
        """The sync configuration catalogue (mapping types and functions) the server offers."""
        return unwrap_one((yield from self._json(ApiRequest("GET", "syncs/configurations"))))


class Runs(Resource[D]):
    """The runs of a sync, and the manual trigger and cancel (``/schedule_syncs``)."""

    @operation
    def list(
        self,
        sync: SyncRef,
        status: str | None = None,
        *,
        page: int | None = None,
        per_page: int | None = None,
    ) -> Call[builtins.list[SyncRun]]:
        """Runs of a sync, newest first (by ``updated_at``): one page when ``page`` is given, else all.

        :param sync: the sync id.
        :param status: only runs in this status (pending, started, querying, queued, in_progress, success,
            paused, failed, canceled).
        :param page: this page only (1-based).
        :param per_page: page size.
        """
        params = {"status": status, "page": page, "per_page": per_page or PER_PAGE}
        request = ApiRequest("GET", f"syncs/{seg(sync)}/sync_runs", params=params)
        if page is not None:
            one = yield from self._page(request)
            return [SyncRun.model_validate(item) for item in one.items]
        return (yield from self._many(request, SyncRun))

    @operation
    def get(self, sync: SyncRef, run_id: str | int) -> Call[SyncRun]:
        """One run of a sync.

        :param sync: the sync id.
        :param run_id: the run id.
        """
        return (
            yield from self._one(ApiRequest("GET", f"syncs/{seg(sync)}/sync_runs/{seg(run_id)}"), SyncRun)
        )

    @operation
    def trigger(self, sync: SyncRef) -> Call[Any]:
        """Ask for a manual run (``POST /schedule_syncs``). The answer has no run id (the run row is created
        a moment later): :meth:`AISquaredClient.start_run` finds it. Raises
        :class:`AISquaredSyncNotRunnableError` (424) when the sync is disabled, not manual or running.

        :param sync: the sync id.
        """
        key = sync_key(sync)
        body = {"schedule_sync": {"sync_id": int(key) if key.isdigit() else key}}
        return (yield from self._json(ApiRequest("POST", "schedule_syncs", json=body)))

    @operation
    def cancel(self, sync: SyncRef) -> Call[bool]:
        """Cancel the sync's active run (``DELETE /schedule_syncs/{id}``). False when there is no active
        run (one 424); the other 424s (disabled, not manual) raise :class:`AISquaredSyncNotRunnableError`.

        :param sync: the sync id.
        """
        try:
            yield from self._json(ApiRequest("DELETE", f"schedule_syncs/{seg(sync)}"))
        except AISquaredSyncNotRunnableError as exc:
            if NO_ACTIVE_RUN.search(exc.server_message):
                return False
            raise
        return True


class Records(Resource[D]):
    """The records a run wrote (or failed to write)."""

    @operation
    def list(
        self,
        sync: SyncRef,
        run_id: str | int,
        status: str | None = None,
        *,
        limit: int | None = None,
        per_page: int | None = None,
    ) -> Call[builtins.list[SyncRecord]]:
        """Records of a run, oldest first, following pages (on the configured server only) until ``limit``.

        :param sync: the sync id.
        :param run_id: the run id.
        :param status: pending, success or failed.
        :param limit: at most this many.
        :param per_page: page size.
        """
        size = per_page or (min(limit, PER_PAGE) if limit else PER_PAGE)
        request = ApiRequest(
            "GET",
            f"syncs/{seg(sync)}/sync_runs/{seg(run_id)}/sync_records",
            params={"status": status, "per_page": size},
        )
        return (yield from self._many(request, SyncRecord, limit=limit))


class AISquaredRunControl(ControlOps):
    """Run control for AI Squared syncs (the same operations as CData Sync's)."""

    #: The run row appears after the trigger's 200 (it is created asynchronously): a cancel that finds no
    #: run looks again for this long.
    run_appear_seconds = 20.0
    syncs: Syncs[Any]
    runs: Runs[Any]
    records: Records[Any]

    def _attach(self) -> None:
        self.syncs = Syncs(self)
        self.runs = Runs(self)
        self.records = Records(self)

    @operation
    def resolve_target(self, kind: str, ref: str, workspace: str | None = None) -> Call[Target]:
        """The sync given by id (syncs have no name).

        :param kind: ``sync``.
        :param ref: the sync id.
        :param workspace: unused: the workspace is the connection's.
        """
        return sync_target((yield from self.syncs.get.steps(ref)))

    @operation
    def resolve_tasks(self, target: Target, tasks: list[str]) -> Call[list[str]]:
        """Syncs have no tasks: always refused, saying so.

        :param target: the sync.
        :param tasks: task references.
        """
        raise AISquaredUnsupportedError(
            f"AI Squared syncs have no tasks to choose from (asked for {', '.join(tasks)}): "
            "a sync runs whole."
        )
        yield  # an operation is a generator

    @operation
    def start_run(
        self, target: Target, task_ids: list[str] | None = None, find_timeout: float = 60.0
    ) -> Call[SyncRun]:
        """Trigger a manual run and find it: the first run that was not there before the trigger.

        :param target: the sync.
        :param task_ids: unused (a sync has no tasks).
        :param find_timeout: how long to look for the new run.
        """
        before = yield from self.runs.list.steps(target, page=1, per_page=20)
        known = {run.id for run in before}
        yield from self.runs.trigger.steps(target)
        deadline = time.monotonic() + find_timeout
        while True:
            runs = yield from self.runs.list.steps(target, page=1, per_page=20)
            new = [run for run in runs if run.id not in known]
            if new:
                return min(new, key=_run_order)
            if time.monotonic() >= deadline:
                raise AISquaredRunNotFoundError(
                    f"AI Squared accepted the manual run of sync {sync_key(target)} but no new run showed in "
                    f"its sync runs within {find_timeout:.0f} s (a workflow-engine failure is only logged by "
                    "the server)."
                )
            yield Sleep(0.5)

    @operation
    def get_run(self, target: Target, run_id: str) -> Call[SyncRun]:
        """One run.

        :param target: the sync.
        :param run_id: the run id.
        """
        return (yield from self.runs.get.steps(target, run_id))

    @operation
    def latest_run(self, target: Target) -> Call[SyncRun | None]:
        """The newest run, None when the sync never ran.

        :param target: the sync.
        """
        runs = yield from self.runs.list.steps(target, page=1, per_page=5)
        return max(runs, key=_run_order) if runs else None

    @operation
    def current_run(self, target: Target) -> Call[SyncRun | None]:
        """The active run (pending, started, querying, queued, in progress; not paused), None when idle.

        :param target: the sync.
        """
        runs = yield from self.runs.list.steps(target, page=1, per_page=10)
        active = [run for run in runs if run.state.is_active]
        return max(active, key=_run_order) if active else None

    @operation
    def cancel_run(self, target: Target) -> Call[bool]:
        """Cancel the active run; False when none is active.

        :param target: the sync.
        """
        return (yield from self.runs.cancel.steps(target))

    @operation
    def runs_since(self, target: Target, since: datetime) -> Call[list[SyncRun]]:
        """Runs created at or after ``since`` (clock skew allowed), oldest first (a pending run has no
        ``started_at`` yet: its creation time counts).

        :param target: the sync.
        :param since: the cut-off (aware datetime).
        """
        runs = yield from self.runs.list.steps(target)
        for run in runs:
            if run.start_time is None and run.created_at is not None:
                run.start_time = run.created_at
        return runs_started_since(runs, since)

    @operation
    def fetch_run_log(self, target: Target, run: Any, tail_bytes: int | None = None) -> Call[RunLog | None]:
        """AI Squared keeps no run log (its records are reported instead): always None.

        :param target: the sync.
        :param run: the run.
        :param tail_bytes: unused.
        """
        return None
        yield  # an operation is a generator

    @operation
    def test_access(self) -> Call[int]:
        """Check the URL, credentials and workspace by listing one page of syncs; the number on it."""
        page = yield from self._page(ApiRequest("GET", "syncs", params={"per_page": 1}))
        return len(page.items)


def _run_order(run: SyncRun) -> tuple[int, str]:
    """Newer runs sort higher: numeric ids when the server uses them, else the start time."""
    key = str(run.id or "")
    stamp = run.started.isoformat() if run.started else ""
    return (int(key) if key.isdigit() else -1, stamp)


class AISquaredClient(AISquaredRunControl, SyncRunner):
    """Synchronous AI Squared client::

        config = AISquaredConfig(email="me@example.com", password=pw, workspace_id="12")
        with AISquaredClient(config) as client:
            run = client.start_run(client.resolve_target("sync", "42"))

    :param config: where the server is, the credentials and the workspace.
    :param transport: another httpx transport.
    """

    config: AISquaredConfig
    builder_class = AISquaredAuth
    default_profile: ServiceProfile = AISQUARED
    syncs: Syncs[SyncDriver]
    runs: Runs[SyncDriver]
    records: Records[SyncDriver]


class AsyncAISquaredClient(AISquaredRunControl, AsyncRunner):
    """Asynchronous AI Squared client, safe inside an event loop (triggers).

    :param config: where the server is, the credentials and the workspace.
    :param transport: another httpx transport.
    """

    config: AISquaredConfig
    builder_class = AISquaredAuth
    default_profile: ServiceProfile = AISQUARED
    syncs: Syncs[Async]
    runs: Runs[Async]
    records: Records[Async]


__all__ = [
    "AISquaredClient",
    "AsyncAISquaredClient",
    "Records",
    "Runs",
    "Syncs",
    "sync_body",
    "sync_key",
    "sync_target",
]
