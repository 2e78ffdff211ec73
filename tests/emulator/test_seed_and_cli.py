"""The seeded demo and the command line entry point."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from cdata_sync_emulator import CDataSyncEmulator
from cdata_sync_emulator.testing import count_rows


def test_seed_demo_is_idempotent_and_runs(tmp_path) -> None:
    with CDataSyncEmulator(tmp_path, "tk", seed_demo=True, scheduler=False) as server:
        api = httpx.Client(base_url=f"{server.api_url}/v2", headers=server.headers, timeout=30)
        jobs = {j["name"]: j for j in api.get("/workspaces/default/jobs").json()["value"]}
        assert set(jobs) == {"DemoReplication", "DemoBrokenReplication", "DemoScheduledReplication"}
        assert jobs["DemoScheduledReplication"]["schedule"] == {"enabled": True, "cron": "*/5 * * * *"}
        source = server.data_dir.resolve() / "demo" / "source.db"
        assert count_rows(source, "customers") == 2000 and count_rows(source, "order_items") == 20000
        broken = api.post(f"/jobs/{jobs['DemoBrokenReplication']['id']}/execute").json()
        pipeline = api.get("/workspaces/default/pipelines").json()["value"][0]
        assert pipeline["name"] == "DemoPipeline"
        assert len(api.get(f"/pipelines/{pipeline['id']}/events").json()["value"]) == 2
        assert server.wait_idle(30)
        run = api.get(f"/jobs/{jobs['DemoBrokenReplication']['id']}/history/{broken['id']}").json()
        assert run["status"] == "Failed" and "no such table" in run["error"]
        api.close()
    with CDataSyncEmulator(tmp_path, "tk", seed_demo=True, scheduler=False) as server:
        api = httpx.Client(base_url=f"{server.api_url}/v2", headers=server.headers)
        assert len(api.get("/workspaces/default/jobs").json()["value"]) == 3
        assert len(api.get("/workspaces/default/connections").json()["value"]) == 2
        api.close()


def test_command_line(tmp_path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [
        sys.executable,
        "-m",
        "cdata_sync_emulator",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path),
        "--token",
        "cli-token",
        "--context-path",
        "/sync",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}/sync/api.rsc/v2/workspaces"
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(url, headers={"x-cdata-authtoken": "cli-token"})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert response.status_code == 200
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    assert f"http://127.0.0.1:{port}/sync" in out and out.count("cli-token") == 1


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "cdata-sync-emulator"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: cdata-sync-emulator") and "--seed-demo" in result.stdout
