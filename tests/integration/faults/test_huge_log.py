"""A huge remote log: memory stays bounded and the tail is kept. The emulator runs in its own process here,
so that tracemalloc measures only the operator (the log is served through a fault's body)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from airflow_provider_cdata_sync.operators.cdata_sync import CDataSyncRunJobOperator
from tests.helpers import make_context, use_connection
from tests.integration.faults.conftest import TOKEN, V2_LOG

LOG_MB = 24


@pytest.fixture(scope="module")
def emulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data: Path = tmp_path_factory.mktemp("huge-log-emulator")
    command = [sys.executable, "-m", "cdata_sync_emulator", "--port", str(port)]
    command += ["--data-dir", str(data), "--token", TOKEN, "--seed-demo"]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ)
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/_emulator/stats", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "the emulator did not start"
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(10)


def test_huge_log_keeps_memory_bounded_and_the_tail(
    emulator_process: str, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    line = "2026-11-24 01:02:03.123 [INFO] [Job DemoReplication] [orders] " + "x" * 100 + "\n"
    text = (
        "FIRST-LINE-OF-THE-HUGE-LOG\n" + line * (LOG_MB * 1024 * 1024 // len(line)) + "LAST-LINE-OF-THE-LOG\n"
    )
    fault = {"path": V2_LOG, "method": "POST", "action": "malformed", "body": text, "count": 50}
    assert httpx.post(f"{emulator_process}/_emulator/faults", json=fault, timeout=60).status_code < 300
    del text
    use_connection(monkeypatch, None, TOKEN, host=emulator_process, max_retries=2)
    operator = CDataSyncRunJobOperator(
        task_id="run", job="DemoReplication", tasks=["products"], check_interval=0.2, deferrable=False
    )

    tracemalloc.start()
    try:
        summary = operator.execute(make_context())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert summary["status"] == "success"
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while reading a {LOG_MB} MB log"
    output = capfd.readouterr().out
    assert "LAST-LINE-OF-THE-LOG" in output  # the tail is kept
    assert "FIRST-LINE-OF-THE-HUGE-LOG" not in output
    assert output.count("[orders] xxxx") <= operator.log_max_lines
