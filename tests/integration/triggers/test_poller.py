"""The shared poller: coalescing, error fan-out, and the idle/close race (an exact moment, so faked)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airflow_provider_cdata_sync.client import CDataSyncServerError
from airflow_provider_cdata_sync.client.control import Target
from airflow_provider_cdata_sync.client.models import Run
from airflow_provider_cdata_sync.triggers import poller as poller_module
from airflow_provider_cdata_sync.triggers.poller import SharedPoller, shared_poller

TARGET = Target("job", "job-1", "Job1", "default", (), "v2")


class FakeClient:
    """Answers get_run; its close takes a while (the window in which the race happened)."""

    api_version = "v2"

    def __init__(self, close_seconds: float = 0.0, error: Exception | None = None) -> None:
        self.close_seconds = close_seconds
        self.error = error
        self.get_runs = 0
        self.closed = 0

    async def get_run(self, target: Target, run_id: str) -> Run:
        self.get_runs += 1
        if self.error:
            raise self.error
        return Run(id=run_id, status="Success")

    async def target_states(self, kind: str, workspace: str | None) -> dict[str, Any]:
        return {}  # a list without statuses: every wait gets its own lookup

    async def aclose(self) -> None:
        await asyncio.sleep(self.close_seconds)
        self.closed += 1


def with_client(monkeypatch: pytest.MonkeyPatch, client: FakeClient) -> None:
    async def get_client(self: SharedPoller) -> Any:
        self._client = client  # type: ignore[assignment]
        return client

    monkeypatch.setattr(SharedPoller, "_get_client", get_client)


async def test_an_ask_during_the_idle_close_is_still_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeClient(close_seconds=0.3)
    with_client(monkeypatch, client)
    poller = SharedPoller("conn", "v2", interval=0.05)
    assert (await poller.observe(TARGET, "1")).status == "Success"
    await asyncio.sleep(0.15)  # two idle ticks: the poller is now closing its client (0.3 s)
    assert client.closed == 0

    run = await asyncio.wait_for(poller.observe(TARGET, "2"), timeout=3)

    assert run.id == "2"


async def test_waits_on_the_same_run_share_one_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeClient()
    with_client(monkeypatch, client)
    poller = SharedPoller("conn", "v2", interval=0.05)

    runs = await asyncio.gather(*(poller.observe(TARGET, "7") for _ in range(50)))

    assert {run.id for run in runs} == {"7"}
    assert client.get_runs == 1


async def test_an_error_reaches_every_wait_that_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeClient(error=CDataSyncServerError(503, "down", method="GET", path="/x"))
    with_client(monkeypatch, client)
    poller = SharedPoller("conn", "v2", interval=0.05)

    outcomes = await asyncio.gather(
        poller.observe(TARGET, "1"), poller.observe(TARGET, "2"), return_exceptions=True
    )

    assert all(isinstance(outcome, CDataSyncServerError) for outcome in outcomes)


async def test_one_poller_per_server_version_and_interval() -> None:
    assert shared_poller("a", "v2", 2.0) is shared_poller("a", "v2", 2.0)
    assert shared_poller("a", "v2", 2.0) is not shared_poller("a", "v1", 2.0)
    assert shared_poller("a", "v2", 2.0) is not shared_poller("a", "v2", 5.0)
    assert poller_module.TICK_FRACTION < 1.0
