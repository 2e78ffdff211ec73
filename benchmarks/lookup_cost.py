"""Benchmark: CPU per run lookup through the shared poller's client, per poller transport.

For each ``CDATA_SYNC_POLLER_TRANSPORT`` choice (``auto``: the lean read path; ``aiohttp``; ``httpx``) a fresh
worker process starts 200 waits that each look their run up 25 times through
``shared_poller(..., coalesce=False)`` (every look one ``GET .../history/{run}``) against ``fake_sync.py``
in its own process, and prints the worker's CPU per lookup. A bare asyncio loop sending the same requests
is the floor. Run: ``.venv/bin/python benchmarks/lookup_cost.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from trigger_bench import free_port  # noqa: E402

WAITS, LOOKS = 200, 25


async def floor(port: int) -> None:
    async def one(i: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        request = (
            f"GET /api.rsc/v2/jobs/job-{i}/history/r{i} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "x-cdata-authtoken: bench-token\r\n\r\n"
        ).encode()
        for _ in range(LOOKS):
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            json.loads(await reader.readexactly(length))
        writer.close()

    await asyncio.gather(*(one(i) for i in range(WAITS)))


async def through_poller() -> None:
    from airflow_provider_cdata_sync.client.control import Target
    from airflow_provider_cdata_sync.triggers.poller import shared_poller

    poller = shared_poller("bench", "v2", 2.0, coalesce=False)
    targets = [Target(kind="job", id=f"job-{i}", name=f"job-{i}", workspace="default") for i in range(WAITS)]

    async def one(i: int) -> None:
        for _ in range(LOOKS):
            run = await poller.get_run(targets[i], f"r{i}")
            assert run.id == f"r{i}", run

    await asyncio.gather(*(one(i) for i in range(WAITS)))


def worker(mode: str, port: int) -> None:
    os.environ["AIRFLOW_CONN_BENCH"] = json.dumps(
        {"conn_type": "cdata_sync", "host": f"http://127.0.0.1:{port}", "password": "bench-token"}
    )
    if mode != "floor":
        os.environ["CDATA_SYNC_POLLER_TRANSPORT"] = mode
        asyncio.run(_warm())  # imports, connection lookup and client set-up are not per lookup
    started = time.process_time()
    asyncio.run(floor(port) if mode == "floor" else through_poller())
    cost = 1000 * (time.process_time() - started) / (WAITS * LOOKS)
    print(json.dumps({"mode": mode, "cpu_ms_per_lookup": cost}))


async def _warm() -> None:
    from airflow_provider_cdata_sync.client.control import Target
    from airflow_provider_cdata_sync.triggers.poller import shared_poller

    await shared_poller("bench", "v2", 2.0, coalesce=False).get_run(
        Target(kind="job", id="job-0", name="job-0", workspace="default"), "r0"
    )


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], int(sys.argv[3]))
        return
    print(f"{'transport':<10} {'CPU ms/lookup':>14} {'x floor':>8}")
    floor_ms = None
    for mode in ("floor", "auto", "aiohttp", "httpx"):
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "fake_sync.py"),
                *("--port", str(port), "--n", str(WAITS), "--t0", str(time.time())),
                *("--start-after", "100000", "--no-list-status"),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None
        server.stdout.readline()
        try:
            out = subprocess.run(
                [sys.executable, __file__, "--worker", mode, str(port)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        finally:
            server.terminate()
            server.communicate(timeout=30)
        cost = json.loads(out.strip().splitlines()[-1])["cpu_ms_per_lookup"]
        floor_ms = floor_ms or cost
        print(f"{mode:<10} {cost:>14.3f} {cost / floor_ms:>8.2f}")


if __name__ == "__main__":
    main()
