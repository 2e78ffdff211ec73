"""Asset-watcher event triggers against the emulator: one event per new finished run, whoever started it;
never for runs that finished before the watcher first started; never twice, also after a restart that
rebuilds the watcher from its serialised kwargs and finds its watermark in the asset state store.

The asset state store exists only inside a triggerer; here it is an in-memory stand-in with the same
async interface (``aget``/``aset``). The real one is exercised by the deployment test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from airflow_provider_cdata_sync.triggers.cdata_sync import CDataSyncRunWatcher

POLL = 0.3


class MemoryAssetStateStore:
    """The asset state store's async interface, in memory (one watched asset)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.writes = 0

    def _single_accessor(self) -> MemoryAssetStateStore:
        return self

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        self.writes += 1
        self.values[key] = value


def watcher(store: MemoryAssetStateStore | None, **kwargs: Any) -> CDataSyncRunWatcher:
    built = CDataSyncRunWatcher(poll_interval=POLL, **kwargs)
    # As the triggerer does: rebuilt from the serialised kwargs, then given the asset state store.
    classpath, serialised = built.serialize()
    assert classpath == "airflow_provider_cdata_sync.triggers.cdata_sync.CDataSyncRunWatcher"
    rebuilt = CDataSyncRunWatcher(**serialised)
    rebuilt.asset_state_store = store  # type: ignore[attr-defined]
    return rebuilt


class Running:
    """A watcher's ``run()`` consumed in a background task (as the triggerer does), its events queued:
    waiting for events with a timeout must not cancel the generator itself."""

    def __init__(self, trigger: CDataSyncRunWatcher) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._consume(trigger.run()))

    async def _consume(self, events: AsyncIterator[Any]) -> None:
        async for event in events:
            await self.queue.put(event.payload)

    async def within(self, seconds: float, stop_after: int | None = None) -> list[dict[str, Any]]:
        """The events yielded within ``seconds`` (returns early once ``stop_after`` came)."""
        found: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            try:
                found.append(await asyncio.wait_for(self.queue.get(), left))
            except TimeoutError:
                break
            if self.task.done():
                self.task.result()  # a watcher must never return: re-raise what ended it
            if stop_after is not None and len(found) >= stop_after:
                break
        return found

    async def stop(self) -> None:
        """Cancel it, as a triggerer that stops does."""
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def start_run(server: Any, job_name: str) -> str:
    """Start a run directly on the emulator, not through Airflow (as Sync's own scheduler would)."""
    job_id = next(job["id"] for job in server.state()["jobs"] if job["name"] == job_name)
    answer = httpx.post(f"{server.api_url}/v2/jobs/{job_id}/execute", headers=server.headers, timeout=30)
    answer.raise_for_status()
    return str(answer.json()["id"])


async def test_each_new_run_fires_once_and_earlier_runs_never(
    cdata_sync_connection: Any, cdata_sync_emulator: Any
) -> None:
    before = start_run(cdata_sync_emulator, "DemoReplication")  # finished before the watcher started
    cdata_sync_emulator.wait_idle(30)
    store = MemoryAssetStateStore()
    events = Running(watcher(store, job="DemoReplication"))
    assert await events.within(4 * POLL) == [], "a run that finished before the watch never fires"
    fresh = start_run(cdata_sync_emulator, "DemoReplication")
    fired = await events.within(30 * POLL, stop_after=1)
    assert [event["run_id"] for event in fired] == [fresh]
    assert fired[0]["status"] == "success" and fired[0]["name"] == "DemoReplication"
    assert fired[0]["records_affected"] == 32200 and fired[0]["console_url"].endswith(f"/history/{fresh}")
    assert await events.within(5 * POLL) == [], "never twice"
    await events.stop()
    assert before != fresh


async def test_a_restarted_watcher_does_not_fire_again_and_catches_what_finished_meanwhile(
    cdata_sync_connection: Any, cdata_sync_emulator: Any
) -> None:
    store = MemoryAssetStateStore()
    first = Running(watcher(store, job="DemoReplication"))
    await first.within(3 * POLL)  # first start: the watermark is written
    handled = start_run(cdata_sync_emulator, "DemoReplication")
    assert [event["run_id"] for event in await first.within(30 * POLL, stop_after=1)] == [handled]
    await first.stop()  # the triggerer dies

    meanwhile = start_run(cdata_sync_emulator, "DemoReplication")  # finishes while no watcher runs
    cdata_sync_emulator.wait_idle(30)
    second = Running(watcher(store, job="DemoReplication"))  # rebuilt from kwargs, same asset state store
    fired = await second.within(6 * POLL)
    await second.stop()
    assert [event["run_id"] for event in fired] == [meanwhile], "the handled run stays handled"


async def test_failures_fire_only_when_asked(cdata_sync_connection: Any, cdata_sync_emulator: Any) -> None:
    only_success = Running(watcher(MemoryAssetStateStore(), job="DemoBrokenReplication"))
    failures_too = Running(watcher(MemoryAssetStateStore(), job="DemoBrokenReplication", statuses=["failed"]))
    await only_success.within(2 * POLL)
    await failures_too.within(2 * POLL)
    broken = start_run(cdata_sync_emulator, "DemoBrokenReplication")
    failed = await failures_too.within(30 * POLL, stop_after=1)
    assert [(event["run_id"], event["status"]) for event in failed] == [(broken, "failed")]
    assert "no such table: invoices" in str(failed[0]["tasks"])
    assert await only_success.within(3 * POLL) == []
    await only_success.stop()
    await failures_too.stop()


def test_a_watcher_needs_exactly_one_target_and_known_statuses() -> None:
    with pytest.raises(ValueError, match="exactly one of job=, transformation= or pipeline="):
        CDataSyncRunWatcher(job="A", pipeline="B")
    with pytest.raises(ValueError, match="Unknown run status"):
        CDataSyncRunWatcher(job="A", statuses=["succeeded"])
