"""Plain-HTTP helpers for the emulator tests."""

from __future__ import annotations

import time
from typing import Any

import httpx


def wait_run(api: httpx.Client, kind: str, ident: str, run_id: str, timeout: float = 20) -> dict[str, Any]:
    """Poll ``GET /v2/<kind>s/{id}/history/{run_id}`` until the run is finished."""
    deadline = time.monotonic() + timeout
    while True:
        run = api.get(f"/{kind}s/{ident}/history/{run_id}").json()
        if run["status"] not in ("Queued", "Running"):
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']}"
        time.sleep(0.03)


def wait_status(api: httpx.Client, kind: str, ident: str, wanted: str, timeout: float = 10) -> dict[str, Any]:
    """Poll the status endpoint until a given status shows up."""
    deadline = time.monotonic() + timeout
    while True:
        status = api.get(f"/{kind}s/{ident}/status").json()
        if status["status"] == wanted:
            return status
        assert time.monotonic() < deadline, f"status still {status['status']}"
        time.sleep(0.02)


def run_job(api: httpx.Client, job_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Execute a job and wait for the run to end."""
    response = api.post(f"/jobs/{job_id}/execute", json=body or {})
    assert response.status_code == 202, response.text
    return wait_run(api, "job", job_id, response.json()["id"])


def make_pair(api: httpx.Client, src_db: str, dst_db: str, name: str = "P") -> tuple[str, str]:
    """Create a SQLite source and destination connection; their ids."""
    src = api.post(
        "/workspaces/default/connections",
        json={"name": f"{name}Src", "connector": "SQLite", "properties": {"Database": src_db}},
    )
    dst = api.post(
        "/workspaces/default/connections",
        json={"name": f"{name}Dst", "connector": "SQLite", "properties": {"Database": dst_db}},
    )
    assert src.status_code == 201 and dst.status_code == 201, (src.text, dst.text)
    return src.json()["id"], dst.json()["id"]
