"""Fault injection through the admin endpoints and the Python API; call statistics."""

from __future__ import annotations

import time

import httpx
import pytest
from cdata_sync_emulator import CDataSyncEmulator
from cdata_sync_emulator.testing import SmallJob


def test_status_fault_with_retry_after(emulator: CDataSyncEmulator, api: httpx.Client) -> None:
    admin = f"{emulator.base_url}/_emulator/faults"
    spec = {"path": "/api.rsc/v2/workspaces$", "method": "GET", "count": 2, "status": 503, "retry_after": 1}
    assert httpx.post(admin, json=spec).status_code == 201
    assert httpx.get(admin).json()["value"][0]["remaining"] == 2
    assert api.post("/workspaces", json={"name": "w"}).status_code == 201  # other method: no fault
    first = api.get("/workspaces")
    assert first.status_code == 503 and first.headers["retry-after"] == "1"
    assert first.json()["error"]["code"] == "Http503"
    assert api.get("/workspaces").status_code == 503
    assert api.get("/workspaces").status_code == 200
    assert httpx.get(admin).json() == {"value": []}


def test_delay_fault(emulator: CDataSyncEmulator, api: httpx.Client) -> None:
    emulator.inject_fault("/v2/workspaces", "delay", delay=0.3)
    start = time.monotonic()
    assert api.get("/workspaces").status_code == 200
    assert time.monotonic() - start >= 0.3


def test_reset_fault_is_a_transport_error(emulator: CDataSyncEmulator, api: httpx.Client) -> None:
    emulator.inject_fault("/v2/workspaces", "reset")
    with pytest.raises(httpx.TransportError):
        api.get("/workspaces")
    assert api.get("/workspaces").status_code == 200  # the server is fine afterwards


def test_reset_after_really_starts_the_run(
    emulator: CDataSyncEmulator, api: httpx.Client, small_job: SmallJob
) -> None:
    emulator.inject_fault(r"/api.rsc/v2/jobs/.*/execute", "reset_after", method="POST")
    with pytest.raises(httpx.TransportError):
        api.post(f"/jobs/{small_job.job_id}/execute")
    assert emulator.wait_idle(10)
    history = api.get(f"/jobs/{small_job.job_id}/history").json()["value"]
    assert len(history) == 1 and history[0]["status"] == "Success"


def test_malformed_fault(emulator: CDataSyncEmulator, api: httpx.Client) -> None:
    emulator.inject_fault("/v2/workspaces", "malformed")
    response = api.get("/workspaces")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_clear_faults_and_validation(emulator: CDataSyncEmulator, api: httpx.Client) -> None:
    admin = f"{emulator.base_url}/_emulator/faults"
    bad = httpx.post(admin, json={"path": "x", "action": "explode"})
    assert bad.status_code == 400 and "action" in bad.json()["error"]["message"]
    emulator.inject_fault("/v2/", count=5)
    assert httpx.delete(admin).json() == {"value": []}
    assert api.get("/workspaces").status_code == 200


def test_stats_count_calls(emulator: CDataSyncEmulator, api: httpx.Client) -> None:
    for _ in range(3):
        api.get("/workspaces")
    stats = httpx.get(f"{emulator.base_url}/_emulator/stats").json()
    assert stats["calls"]["GET /api.rsc/v2/workspaces"] == 3 and stats["total"] == 3
    httpx.delete(f"{emulator.base_url}/_emulator/stats")
    assert emulator.stats()["total"] == 0
