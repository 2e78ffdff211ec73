"""Fixtures for the client tests (helpers live in ``cdata_fakes``)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cdata_fakes import FakeServer, make_config

from airflow_provider_cdata_sync.client import AsyncCDataSyncClient, CDataSyncClient


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def make_client(server: FakeServer) -> Callable[..., CDataSyncClient]:
    """Build sync clients talking to the fake server (closed at the end of the test)."""
    made: list[CDataSyncClient] = []

    def factory(**overrides: Any) -> CDataSyncClient:
        client = CDataSyncClient(make_config(**overrides), transport=httpx.MockTransport(server))
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., CDataSyncClient]) -> CDataSyncClient:
    return make_client()


@pytest.fixture
async def make_async_client(server: FakeServer) -> Callable[..., AsyncCDataSyncClient]:
    made: list[AsyncCDataSyncClient] = []

    def factory(**overrides: Any) -> AsyncCDataSyncClient:
        client = AsyncCDataSyncClient(make_config(**overrides), transport=httpx.MockTransport(server))
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.aclose()


@pytest.fixture
async def async_client(make_async_client: Callable[..., AsyncCDataSyncClient]) -> AsyncCDataSyncClient:
    return make_async_client()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record (instead of doing) the waits of both drivers."""
    recorded: list[float] = []
    test_thread = threading.get_ident()
    real_sleep, real_async_sleep = time.sleep, asyncio.sleep

    # Only the test's own thread is faked: emulator threads left by other tests keep their real waits.
    def fake_sleep(seconds: float) -> None:
        if threading.get_ident() != test_thread:
            return real_sleep(seconds)
        recorded.append(seconds)
        return None

    async def fake_async_sleep(seconds: float, *args: object) -> object:
        if threading.get_ident() != test_thread:
            return await real_async_sleep(seconds, *args)
        recorded.append(seconds)
        return None

    monkeypatch.setattr(time, "sleep", fake_sleep)
    monkeypatch.setattr(asyncio, "sleep", fake_async_sleep)
    return recorded
