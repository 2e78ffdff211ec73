"""Helpers of the fault tests (plain functions, no fixtures)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from cdata_sync_emulator import CDataSyncEmulator

#: A distinctive token: every secrets test greps everything captured for it.
TOKEN = "fAuLt-S3cret-T0ken-7c1e9a"
CONN_ENV = "AIRFLOW_CONN_CDATA_SYNC_DEFAULT"
JOB = "FaultJob"
OTHER_JOB = "FaultOtherJob"
#: Request paths of the emulator (regular expressions for fault injection).
V2_EXECUTE = r"^/api\.rsc/v2/jobs/[^/]+/execute$"
V2_STATUS = r"^/api\.rsc/v2/jobs/[^/]+/status$"
V2_HISTORY = r"^/api\.rsc/v2/jobs/[^/]+/history$"
V2_RUN = r"^/api\.rsc/v2/jobs/[^/]+/history/[^/]+$"
V2_CANCEL = r"^/api\.rsc/v2/jobs/[^/]+/cancel$"
V2_LOG = r"^/api\.rsc/v2/connections/[^/]+/logs/[^/]+/download$"
V1_EXECUTE = r"(?i)^/api\.rsc/executeJob$"
V1_LOG = r"(?i)^/api\.rsc/getJobLog$"


def connection(server: CDataSyncEmulator | None, token: str | None = None, **extra: Any) -> dict[str, Any]:
    """A ``cdata_sync`` connection (JSON form) on the emulator, with quick client retries by default."""
    extra.setdefault("max_retries", 2)
    return {
        "conn_type": "cdata_sync",
        "host": extra.pop("host", None) or (server.base_url if server else ""),
        "password": token if token is not None else TOKEN,
        "extra": extra,
    }


def use_connection(
    monkeypatch: pytest.MonkeyPatch, server: CDataSyncEmulator | None, token: str | None = None, **extra: Any
) -> None:
    """Point ``cdata_sync_default`` at the emulator (optionally another token, host or extras)."""
    monkeypatch.setenv(CONN_ENV, json.dumps(connection(server, token, **extra)))


def start_run(server: CDataSyncEmulator, job_id: str) -> dict[str, Any]:
    """Start a run directly on the server (as an earlier try, Sync's scheduler or another user would)."""
    response = httpx.post(f"{server.api_url}/v2/jobs/{job_id}/execute", headers=server.headers, timeout=10)
    assert response.status_code in (200, 202), response.text
    return dict(response.json())


def run_record(server: CDataSyncEmulator, run_id: str | None) -> dict[str, Any]:
    """The emulator's record of one run."""
    return next(run for run in server.runs() if run["id"] == str(run_id))


def calls(server: CDataSyncEmulator, pattern: str) -> int:
    """API calls so far whose ``METHOD path`` matches the regular expression."""
    regex = re.compile(pattern)
    return sum(count for key, count in server.stats()["calls"].items() if regex.search(key))


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll until ``predicate()`` is truthy and return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class FakeTI:
    """The part of a task instance the operators use; records every XCom push."""

    task_id: str = "run"
    map_index: int = -1
    start_date: datetime | None = None
    xcoms: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value

    def xcom_pull(self, task_ids: Any = None, key: str = "return_value", map_indexes: Any = None) -> Any:
        return self.xcoms.get(key)


def make_context(ti: FakeTI | None = None) -> dict[str, Any]:
    """A minimal task context."""
    return {"ti": ti or FakeTI()}


async def first_event(trigger: Any, timeout: float = 20.0) -> dict[str, Any]:
    """Run a trigger until its first event and return the event's payload."""

    async def collect() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("the trigger ended without an event")

    return await asyncio.wait_for(collect(), timeout)


@contextlib.contextmanager
def slow_cancel(server: CDataSyncEmulator, seconds: float = 1.0) -> Iterator[None]:
    """Runs take ``seconds`` to stop after a cancel (as a real server finishing its batch), so that a caller
    that does not wait for the cancel to take effect is caught."""
    engine = server._core().engine
    original = engine.cancel

    def cancel(target_id: str) -> dict[str, Any] | None:
        handle = engine.active(target_id)
        if handle is None:
            return None
        threading.Timer(seconds, original, args=(target_id,)).start()
        with handle.lock:
            return dict(handle.run)

    engine.cancel = cancel  # type: ignore[method-assign]
    try:
        yield
    finally:
        engine.cancel = original  # type: ignore[method-assign]
