"""The one helpers module of the test suites (plain functions, no fixtures)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cdata_sync_emulator import CDataSyncEmulator

TOKEN = "unit-secret-token-31c7"
CONN_ENV = "AIRFLOW_CONN_CDATA_SYNC_DEFAULT"
GOOD_JOB = "UnitJob"
BROKEN_JOB = "UnitBroken"


def connection(server: CDataSyncEmulator | None, token: str | None = None, **extra: Any) -> dict[str, Any]:
    """A ``cdata_sync`` connection (JSON form) on the emulator; ``host=`` in ``extra`` points elsewhere."""
    conn: dict[str, Any] = {
        "conn_type": "cdata_sync",
        "host": extra.pop("host", None) or (server.base_url if server else ""),
        "password": token if token is not None else (server.token if server else ""),
    }
    if extra:
        conn["extra"] = extra
    return conn


def use_connection(
    monkeypatch: pytest.MonkeyPatch, server: CDataSyncEmulator | None, token: str | None = None, **extra: Any
) -> None:
    """Point ``cdata_sync_default`` at the emulator (optionally another token, host or extras)."""
    monkeypatch.setenv(CONN_ENV, json.dumps(connection(server, token, **extra)))


def stop_everything(server: CDataSyncEmulator) -> None:
    """Cancel whatever still runs, so that the next test starts idle."""
    for job in server.state()["jobs"]:
        if job.get("status") not in (None, "Idle"):
            httpx.post(f"{server.api_url}/v2/jobs/{job['id']}/cancel", headers=server.headers, timeout=10)
    assert server.wait_idle(15), "the emulator did not become idle"


def start_run(server: CDataSyncEmulator, job_id: str, task_ids: list[str] | None = None) -> dict[str, Any]:
    """Start a run directly on the server (as Sync's scheduler or another user would)."""
    body = {"tasks": task_ids} if task_ids else None
    response = httpx.post(
        f"{server.api_url}/v2/jobs/{job_id}/execute", headers=server.headers, json=body, timeout=10
    )
    assert response.status_code in (200, 202), response.text
    return response.json()


def run_status(server: CDataSyncEmulator, run_id: str) -> str:
    """The emulator's status word of one run."""
    return next(run["status"] for run in server.runs() if run["id"] == str(run_id))


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def run_record(server: CDataSyncEmulator, run_id: str | None) -> dict[str, Any]:
    """The emulator's record of one run."""
    return next(run for run in server.runs() if run["id"] == str(run_id))


def calls_matching(server: CDataSyncEmulator, pattern: str) -> int:
    """API calls so far whose ``METHOD path`` matches the regular expression."""
    regex = re.compile(pattern)
    return sum(count for key, count in server.stats()["calls"].items() if regex.search(key))


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class FakeTI:
    """The part of a task instance the operators and sensors use; records every XCom push in order."""

    task_id: str = "run"
    map_index: int = -1
    start_date: datetime | None = None
    on_push: Callable[[str, Any], Any] | None = None
    pushes: list[tuple[str, Any, Any]] = field(default_factory=list)  # key, value, on_push(key, value)
    xcoms: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        snapshot = self.on_push(key, value) if self.on_push else None
        self.pushes.append((key, value, snapshot))
        self.xcoms[key] = value

    def xcom_pull(self, task_ids: Any = None, key: str = "return_value", map_indexes: Any = None) -> Any:
        assert task_ids in (None, self.task_id) and map_indexes in (None, self.map_index)
        return self.xcoms.get(key)


def make_context(ti: FakeTI | None = None, **extra: Any) -> dict[str, Any]:
    return {"ti": ti or FakeTI(), **extra}


async def first_event(trigger: Any, timeout: float = 20.0) -> dict[str, Any]:
    """Run a trigger until its first event and return the event's payload."""

    async def collect() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
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


@dataclass
class RecordedRequest:
    """One request a :class:`RecordingListener` received."""

    method: str
    path: str
    headers: dict[str, str]


class RecordingListener:
    """A plain HTTP server on another loopback port that records every request (method, path, headers) and
    answers each with an empty page: where a client wrongly follows a paging link that names this host, the
    recorded headers show what it sent (a token, a cookie...). A context manager; ``base`` is its
    ``http://127.0.0.1:<port>``."""

    def __init__(self) -> None:
        import http.server

        self.requests: list[RecordedRequest] = []
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _record(self) -> None:
                listener.requests.append(RecordedRequest(self.command, self.path, dict(self.headers.items())))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                body = json.dumps({"value": [], "data": [], "links": {"next": None}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _record

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> RecordingListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


#: Short name used by the fault tests.
calls = calls_matching


def demo_sync_definition(demo: Any, **overrides: Any) -> dict[str, Any]:
    """The AI Squared create-sync document of the seeded demo (customers -> crm_contacts, manual, full)."""
    return {
        "source_id": demo.source_id,
        "destination_id": demo.destination_id,
        "model_id": demo.customers_model_id,
        "schedule_type": "manual",
        "sync_mode": "full_refresh",
        "stream_name": "crm_contacts",
        "configuration": {"id": "id", "name": "full_name", "email": "email", "plan": "plan"},
        **overrides,
    }
