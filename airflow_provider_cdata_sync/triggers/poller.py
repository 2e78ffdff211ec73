"""Coalesced polling for triggers: one poller per CData Sync server, API version and interval, shared by
every trigger in the triggerer's event loop.

Each tick the poller answers all waiting triggers with as few calls as possible:

* runs that many triggers wait on are looked up once;
* on v2, one workspace list per kind (jobs, transformations, pipelines) tells which targets are still
  running (when the list carries a status and the last run id); only runs that look finished get a
  history GET;
* on v1, one ``getJobStatus`` without a job reports every job at once.

Where a list does not carry what is needed, the poller falls back to one history GET per run. A poller
error reaches every trigger that asked in that tick. The poller never blocks the loop, holds one async
client (one connection pool, one connection lookup) and stops when nobody has asked for two ticks.
Triggers keep their own serialised state, so after a triggerer restart each one simply joins the new
process's poller.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import weakref
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import httpx

from airflow_provider_cdata_sync.client import (
    AsyncCDataSyncV1Client,
    AsyncRunClient,
    CDataSyncTransportError,
    RunState,
)
from airflow_provider_cdata_sync.client.control import Target
from airflow_provider_cdata_sync.client.models import Run

AnyAsyncClient = AsyncRunClient

#: Most history GETs in flight at once per poller: a burst of finishing runs must not flood the server,
#: and a small pool keeps the client's connection bookkeeping cheap (measured: 8 beats 32).
MAX_CONCURRENT_LOOKUPS = 8
#: Ticks come a little faster than the interval, so that answering a tick (a list call, then a GET per
#: finished run) still delivers every wait's news within one interval.
TICK_FRACTION = 0.9
PollKey = tuple[str, str, str]  # kind, target id, run id


@dataclass
class _Ask:
    target: Target
    run_id: str
    waiters: list[asyncio.Future[Run]]


class SharedPoller:
    """Batches the status questions of many triggers into few API calls per tick."""

    def __init__(self, conn_id: str, api_version: str | None, interval: float) -> None:
        self.conn_id = conn_id
        self.api_version = api_version
        self.interval = interval
        self._asks: dict[PollKey, _Ask] = {}
        self._task: asyncio.Task[None] | None = None
        self._client: AnyAsyncClient | None = None
        self.calls = 0  # API calls made, for benchmarks and tests
        self.ticks = 0

    async def observe(self, target: Target, run_id: str) -> Run:
        """The run as seen at the next tick (raises what the poll raised)."""
        key = (target.kind, target.id, str(run_id))
        future: asyncio.Future[Run] = asyncio.get_running_loop().create_future()
        ask = self._asks.get(key)
        if ask is None:
            self._asks[key] = _Ask(target, str(run_id), [future])
        else:
            ask.waiters.append(future)
        self._ensure_running()
        return await future

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"cdata-sync-poller-{self.conn_id}"
            )

    async def _run(self) -> None:
        try:
            await self._tick_until_idle()
        except asyncio.CancelledError:
            # The loop is going away: nobody may wait forever on an answer that will not come.
            asks, self._asks = self._asks, {}
            for ask in asks.values():
                _settle(ask, CDataSyncTransportError("The shared CData Sync poller was stopped."))
            raise
        finally:
            client, self._client = self._client, None
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.aclose()
        if self._asks:  # someone asked while the client was closing: this task is not done yet, so
            # _ensure_running did not start another one; start it now.
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self._task_name())

    def _task_name(self) -> str:
        return f"cdata-sync-poller-{self.conn_id}"

    async def _tick_until_idle(self) -> None:
        loop = asyncio.get_running_loop()
        period = self.interval * TICK_FRACTION
        next_tick = loop.time() + period
        idle_ticks = 0
        while idle_ticks < 2:
            # Fixed-rate ticks: the time spent answering does not push the next tick back.
            await asyncio.sleep(max(0.0, next_tick - loop.time()))
            next_tick = max(next_tick + period, loop.time())
            asks, self._asks = self._asks, {}
            if not asks:
                idle_ticks += 1
                continue
            idle_ticks = 0
            self.ticks += 1
            await self._answer(asks)

    async def _answer(self, asks: dict[PollKey, _Ask]) -> None:
        try:
            client = await self._get_client()
            results = await self._poll(client, list(asks.values()))
        except Exception as exc:  # everyone who asked in this tick learns of it
            for ask in asks.values():
                _settle(ask, exc)
            return
        for key, ask in asks.items():
            _settle(ask, results[key])

    async def _get_client(self) -> AnyAsyncClient:
        if self._client is None:
            from airflow_provider_cdata_sync.hooks.cdata_sync import CDataSyncHook

            hook = CDataSyncHook(cdata_sync_conn_id=self.conn_id)
            # Look the connection up the async way first: read_only_transport reads hook.config, and a sync
            # lookup inside the triggerer's event loop fails there ("conn_id ... isn't defined").
            await hook.aget_config()
            self._client = await hook.aget_client(self.api_version, read_only_transport(hook))
        return self._client

    async def _poll(self, client: AnyAsyncClient, asks: list[_Ask]) -> dict[PollKey, Run | BaseException]:
        running = await self._still_running(client, asks)
        results: dict[PollKey, Run | BaseException] = {}
        lookups: list[_Ask] = []
        for ask in asks:
            key = (ask.target.kind, ask.target.id, ask.run_id)
            if key in running:
                results[key] = Run(id=ask.run_id, status=running[key])
            else:
                lookups.append(ask)
        semaphore = asyncio.Semaphore(MAX_CONCURRENT_LOOKUPS)

        async def lookup(ask: _Ask) -> Run | BaseException:
            async with semaphore:
                self.calls += 1
                try:
                    return await client.get_run(ask.target, ask.run_id)
                except Exception as exc:
                    return exc

        found = await asyncio.gather(*(lookup(ask) for ask in lookups))
        for ask, outcome in zip(lookups, found, strict=True):
            results[(ask.target.kind, ask.target.id, ask.run_id)] = outcome
        return results

    async def _still_running(self, client: AnyAsyncClient, asks: list[_Ask]) -> dict[PollKey, str]:
        """Keys whose run a bulk answer shows as still running (status word as value)."""
        groups: dict[tuple[str, str | None], list[_Ask]] = defaultdict(list)
        for ask in asks:
            groups[(ask.target.kind, ask.target.workspace)].append(ask)
        running: dict[PollKey, str] = {}
        for (kind, workspace), members in groups.items():
            if len(members) < 2 and len(asks) < 2:
                continue  # a lone wait: a direct GET is as cheap and more precise
            states = await self._bulk_states(client, kind, workspace)
            for ask in members:
                entry = states.get(ask.target.id)
                if entry is None:
                    continue
                status, last_run_id = entry
                if normalise_active(status) and last_run_id in (None, ask.run_id):
                    running[(kind, ask.target.id, ask.run_id)] = str(status)
        return running

    async def _bulk_states(
        self, client: AnyAsyncClient, kind: str, workspace: str | None
    ) -> dict[str, tuple[str | None, str | None]]:
        """target id -> (status, last run id) from one list call; empty when the API cannot say."""
        self.calls += 1
        if isinstance(client, AsyncCDataSyncV1Client):
            if kind != "job":
                return {}
            rows = await client.jobs.status()
            return {
                str(row.get("JobId") or row.get("JobName")): (row.get("Status"), _text(row.get("LastRunId")))
                for row in rows
            }
        return await client.target_states(kind, workspace)


def read_only_transport(hook: Any) -> httpx.AsyncBaseTransport | None:
    """The poller only reads (GET and read-only POSTs), so it may use aiohttp's cheaper connection
    pool when ``httpx-aiohttp`` is installed (extra ``[fast]``); see benchmarks/README.md for figures.
    Never used for requests that start or change things: that transport reports some errors after the
    request was sent as connect errors, which would make a POST look safe to repeat."""
    if os.environ.get("CDATA_SYNC_POLLER_TRANSPORT", "auto") == "httpx":
        return None
    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError:
        return None
    return AiohttpTransport(verify=hook.config.verify)  # type: ignore[no-any-return]


def normalise_active(status: object) -> bool:
    """Whether a status word means a run is still going."""
    from airflow_provider_cdata_sync.client import normalise_state

    return normalise_state(status) in (RunState.QUEUED, RunState.RUNNING)


def _text(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def _settle(ask: _Ask, outcome: Run | BaseException) -> None:
    for waiter in ask.waiters:
        if waiter.done():
            continue
        if isinstance(outcome, BaseException):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)


_POLLERS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, str | None, float], SharedPoller]
]
_POLLERS = weakref.WeakKeyDictionary()


def shared_poller(conn_id: str, api_version: str | None, interval: float) -> SharedPoller:
    """The poller of this event loop for a connection, API version and interval (created on first use)."""
    pollers = _POLLERS.setdefault(asyncio.get_running_loop(), {})
    key = (conn_id, api_version, float(interval))
    if key not in pollers:
        pollers[key] = SharedPoller(conn_id, api_version, interval)
    return pollers[key]
