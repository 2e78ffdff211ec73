"""The AI Squared (Multiwoven) syncs API client: every operation written once, served sync and async by
the CData Sync client's drivers, retry policy and secret scrubbing (only addressing, authentication and
error wording are AI Squared's)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urljoin

import httpx

from airflow_provider_cdata_sync.aisquared.config import AISquaredConfig
from airflow_provider_cdata_sync.aisquared.errors import (
    AISquaredConfigError,
    AISquaredNotFoundError,
    AISquaredResponseError,
    AISquaredRunNotFoundError,
    translated,
)
from airflow_provider_cdata_sync.aisquared.models import SYNC_FIELDS, Sync, SyncRecord, SyncRun
from airflow_provider_cdata_sync.client.base import ApiBase, extract_items, parse_model, unwrap_one
from airflow_provider_cdata_sync.client.runner import AsyncRunner, SyncRunner, operation
from airflow_provider_cdata_sync.client.runs import Target, runs_started_since
from airflow_provider_cdata_sync.client.transport import ApiRequest, Call, RequestBuilder, Sleep

#: Page size asked for when listing (the server may use its own).
PER_PAGE = 100
SyncRef = Target | str | int


def sync_key(sync: SyncRef) -> str:
    """The sync id of a :class:`Target`, an id string or an int."""
    return str(sync.id if isinstance(sync, Target) else sync).strip()


def sync_target(sync: Sync) -> Target:
    """A sync as the JSON-safe :class:`Target` the shared triggers carry (kind ``sync``)."""
    return Target(kind="sync", id=str(sync.id), name=sync.name or sync.stream_name or str(sync.id))  # type: ignore[arg-type]


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
        missing = [
            key for key in ("source_id", "destination_id", "model_id", "stream_name") if not body.get(key)
        ]
        if missing:
            raise AISquaredConfigError(f"The sync definition lacks {', '.join(missing)}.")
    return body


class AISquaredRequestBuilder(RequestBuilder):
    """``Authorization: Bearer <token>`` and, when set, ``Workspace-Id``."""

    config: AISquaredConfig

    def headers(self) -> dict[str, str]:
        """Headers with the bearer token (never in a URL)."""
        headers = super().headers()
        headers["Authorization"] = f"Bearer {self.config.token}"
        if self.config.workspace_id:
            headers["Workspace-Id"] = str(self.config.workspace_id)
        return headers


class AISquaredApi(ApiBase):
    """The operations (as ``self`` they get the shared helpers ``_json``/``_one``/``_many``)."""

    config: AISquaredConfig  # type: ignore[assignment]
    builder_class = AISquaredRequestBuilder

    def _steps(self, call: Call[Any], http: httpx.Client | httpx.AsyncClient) -> Any:
        """The shared retrying steps, with errors worded for AI Squared."""
        return translated(super()._steps(call, http), self.config.api_path)  # type: ignore[misc]

    def _page(self, request: ApiRequest, model: type[Any]) -> Call[tuple[list[Any], str | None]]:
        """One page of a list: its items and the next page's link."""
        body = yield from self._json(request)
        try:
            items, link = extract_items(body)
        except TypeError as exc:
            raise AISquaredResponseError(str(exc), method=request.method, path=request.path) from exc
        return [parse_model(request, model, unwrap_one(item)) for item in items], link

    # ------------------------------------------------------------------ syncs
    @operation
    def list_syncs(self) -> Call[list[Sync]]:
        """Every sync of the workspace (all pages)."""
        return (yield from self._many(ApiRequest("GET", "syncs", params={"per_page": PER_PAGE}), Sync))

    @operation
    def get_sync(self, sync: SyncRef) -> Call[Sync]:
        """One sync."""
        return (yield from self._one(ApiRequest("GET", f"syncs/{seg(sync)}"), Sync))

    @operation
    def create_sync(self, definition: Mapping[str, Any]) -> Call[Sync]:
        """Create a sync from a create-sync document (``source_id``, ``destination_id``, ``model_id``,
        ``schedule_type``, ``configuration``, ``stream_name``, ``sync_mode``, ``sync_interval``,
        ``sync_interval_unit``, ``cron_expression``, ``cursor_field``)."""
        request = ApiRequest("POST", "syncs", json={"sync": sync_body(definition)})
        return (yield from self._one(request, Sync))

    @operation
    def update_sync(self, sync: SyncRef, changes: Mapping[str, Any]) -> Call[Sync]:
        """Change some fields of a sync."""
        request = ApiRequest("PUT", f"syncs/{seg(sync)}", json={"sync": sync_body(changes, partial=True)})
        return (yield from self._one(request, Sync))

    @operation
    def delete_sync(self, sync: SyncRef) -> Call[None]:
        """Delete a sync."""
        yield from self._json(ApiRequest("DELETE", f"syncs/{seg(sync)}"))

    @operation
    def enable_sync(self, sync: SyncRef, enable: bool = True) -> Call[Sync]:
        """Enable (or, with ``enable=False``, disable) a sync."""
        request = ApiRequest("PATCH", f"syncs/{seg(sync)}/enable", json={"enable": bool(enable)})
        return (yield from self._one(request, Sync))

    @operation
    def disable_sync(self, sync: SyncRef) -> Call[Sync]:
        """Disable a sync: no scheduled nor manual runs until it is enabled again."""
        return (yield from self.enable_sync.steps(sync, False))

    @operation
    def sync_configurations(self) -> Call[Any]:
        """The sync configuration catalogue (mapping types and functions) the server offers."""
        body = yield from self._json(ApiRequest("GET", "syncs/configurations"))
        return unwrap_one(body)

    # ------------------------------------------------------------------ runs
    @operation
    def trigger_run(self, sync: SyncRef) -> Call[Any]:
        """Ask for a manual run (``POST /schedule_syncs``). The answer has no run id: see :meth:`start_run`.

        Raises :class:`AISquaredSyncNotRunnableError` (424) when the sync is disabled, not manual, or
        already running.
        """
        key = sync_key(sync)
        body = {"schedule_sync": {"sync_id": int(key) if key.isdigit() else key}}
        return (yield from self._json(ApiRequest("POST", "schedule_syncs", json=body)))

    @operation
    def cancel_run(self, sync: SyncRef) -> Call[bool]:
        """Cancel the sync's active run (``DELETE /schedule_syncs/{id}``); False when nothing was running."""
        request = ApiRequest("DELETE", f"schedule_syncs/{seg(sync)}", accept_statuses=frozenset({424}))
        response: httpx.Response = yield request
        return response.status_code != 424

    @operation
    def list_runs(
        self,
        sync: SyncRef,
        status: str | None = None,
        *,
        page: int | None = None,
        per_page: int | None = None,
    ) -> Call[list[SyncRun]]:
        """Runs of a sync, newest first: one page when ``page`` is given, else all pages."""
        params = {"status": status, "page": page, "per_page": per_page or PER_PAGE}
        request = ApiRequest("GET", f"syncs/{seg(sync)}/sync_runs", params=params)
        if page is not None:
            runs, _ = yield from self._page(request, SyncRun)
            return runs
        return (yield from self._many(request, SyncRun))

    @operation
    def get_run(self, sync: SyncRef, run_id: str | int) -> Call[SyncRun]:
        """One run of a sync."""
        return (
            yield from self._one(ApiRequest("GET", f"syncs/{seg(sync)}/sync_runs/{seg(run_id)}"), SyncRun)
        )

    @operation
    def latest_run(self, sync: SyncRef) -> Call[SyncRun | None]:
        """The newest run of the sync, None when it never ran."""
        runs = yield from self.list_runs.steps(sync, page=1, per_page=5)
        return max(runs, key=_run_order) if runs else None

    @operation
    def current_run(self, sync: SyncRef) -> Call[SyncRun | None]:
        """The sync's active run (pending, started, querying, queued, in progress), None when idle."""
        runs = yield from self.list_runs.steps(sync, page=1, per_page=10)
        active = [run for run in runs if run.state.is_active]
        return max(active, key=_run_order) if active else None

    @operation
    def runs_since(self, sync: SyncRef, since: datetime) -> Call[list[SyncRun]]:
        """Runs that started at or after ``since`` (allowing for clock skew), oldest first."""
        runs = yield from self.list_runs.steps(sync)
        for run in runs:  # a pending run may have no started_at yet
            if run.start_time is None and run.created_at is not None:
                run.start_time = run.created_at
        return runs_started_since(runs, since)  # type: ignore[arg-type,return-value]

    @operation
    def start_run(self, sync: SyncRef, *, find_timeout: float = 60.0, poll: float = 0.5) -> Call[SyncRun]:
        """Trigger a manual run and find it: the newest run that was not there before the trigger."""
        before = yield from self.list_runs.steps(sync, page=1, per_page=20)
        known = {run.id for run in before}
        yield from self.trigger_run.steps(sync)
        deadline = time.monotonic() + find_timeout
        while True:
            runs = yield from self.list_runs.steps(sync, page=1, per_page=20)
            new = [run for run in runs if run.id not in known]
            if new:
                return min(new, key=_run_order)  # the first run after the trigger
            if time.monotonic() >= deadline:
                raise AISquaredRunNotFoundError(
                    f"AI Squared accepted the manual run of sync {sync_key(sync)} but no new run showed in "
                    f"its sync runs within {find_timeout:.0f} s."
                )
            yield Sleep(poll)

    @operation
    def list_records(
        self,
        sync: SyncRef,
        run_id: str | int,
        status: str | None = None,
        *,
        limit: int | None = None,
        per_page: int | None = None,
    ) -> Call[list[SyncRecord]]:
        """Records of a run (``status`` success or failed), following pages until ``limit`` records."""
        size = per_page or (min(limit, PER_PAGE) if limit else PER_PAGE)
        request = ApiRequest(
            "GET",
            f"syncs/{seg(sync)}/sync_runs/{seg(run_id)}/sync_records",
            params={"status": status, "per_page": size},
        )
        records: list[SyncRecord] = []
        seen: set[str] = set()
        while True:
            page, link = yield from self._page(request, SyncRecord)
            records.extend(page)
            if (limit and len(records) >= limit) or not link or not page or link in seen:
                return records[:limit] if limit else records
            seen.add(link)
            request = ApiRequest("GET", request.path, url=urljoin(self.config.api_root + "/", link))

    @operation
    def test_access(self) -> Call[int]:
        """Check the URL, token and workspace by listing one page of syncs; the number of syncs on it."""
        syncs, _ = yield from self._page(ApiRequest("GET", "syncs", params={"per_page": 1}), Sync)
        return len(syncs)


def _run_order(run: SyncRun) -> tuple[int, str]:
    """Newer runs sort higher: numeric ids when the server uses them, else the start time."""
    key = str(run.id or "")
    stamp = run.started.isoformat() if run.started else ""
    return (int(key) if key.isdigit() else -1, stamp)


class AISquaredClient(AISquaredApi, SyncRunner):  # type: ignore[misc]  # config narrowed
    """Synchronous AI Squared client::

    with AISquaredClient(AISquaredConfig(token=token, workspace_id="12")) as client:
        run = client.start_run(42)
    """


class AsyncAISquaredClient(AISquaredApi, AsyncRunner):  # type: ignore[misc]  # config narrowed
    """Asynchronous AI Squared client, safe inside an event loop (triggers)."""


__all__ = [
    "AISquaredClient",
    "AISquaredNotFoundError",
    "AsyncAISquaredClient",
    "sync_body",
    "sync_key",
    "sync_target",
]
