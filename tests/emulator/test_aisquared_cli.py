"""The ``aisquared-emulator`` command: options, the seeded demo, auth, and a sync that runs for real."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
from cdata_sync_emulator.testing import count_rows

AISQUARED_EMULATOR = str(Path(sys.executable).parent / "aisquared-emulator")


def test_command_line_serves_the_seeded_demo(tmp_path: Path) -> None:
    args = [AISQUARED_EMULATOR, "--port", "0", "--data-dir", str(tmp_path), "--token", "cli-token"]
    args += ["--workspace-id", "7", "--seed-demo", "--step-seconds", "0.01"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = ""
    try:
        first = proc.stdout.readline()  # printed once the port is bound
        assert first.startswith("AI Squared emulator serving http://127.0.0.1:"), first
        api_url = first.split("serving ", 1)[1].strip().rstrip("/")
        headers = {"Authorization": "Bearer cli-token", "Workspace-Id": "7"}
        with httpx.Client(base_url=api_url, headers=headers, timeout=30) as api:
            assert api.get("/syncs", headers={"Workspace-Id": "8"}).status_code == 403
            assert api.get("/syncs", headers={"Authorization": "Bearer wrong"}).status_code == 401
            connectors = {c["attributes"]["name"]: c["id"] for c in api.get("/connectors").json()["data"]}
            assert connectors == {"Shop database": "1", "CRM": "2"}
            models = {m["attributes"]["name"]: m["id"] for m in api.get("/models").json()["data"]}
            assert models == {"Customers": "1", "Broken model": "2"}
            sync = {"source_id": 1, "destination_id": 2, "model_id": 1, "schedule_type": "manual"}
            sync |= {"stream_name": "crm_contacts", "configuration": {"id": "id", "email": "email"}}
            sync_id = api.post("/syncs", json={"sync": sync}).json()["data"]["id"]
            assert api.post("/schedule_syncs", json={"schedule_sync": {"sync_id": sync_id}}).is_success
            deadline = time.monotonic() + 30
            while True:
                runs = api.get(f"/syncs/{sync_id}/sync_runs").json()["data"]
                if runs and runs[0]["attributes"]["status"] in ("success", "failed", "canceled"):
                    break
                assert time.monotonic() < deadline, runs
                time.sleep(0.05)
        run = runs[0]["attributes"]
        assert run["status"] == "success", run
        assert (run["total_rows"], run["successful_rows"], run["failed_rows"]) == (250, 240, 10)
        assert count_rows(tmp_path / "aisquared-demo" / "crm.db", "crm_contacts") == 240
    finally:
        proc.terminate()
        proc.wait(15)
    out = first + proc.stdout.read()
    assert proc.returncode == 0
    assert out.count("cli-token") == 1 and "Workspace-Id: 7" in out
