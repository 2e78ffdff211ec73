"""Benchmark: N concurrent deferred waits of our real triggers in one event loop, next to the floor.

Each case (``--cases``, see ``CASES``) sets the number of waits, the workspace size, whether the job list
carries a status, its paging and the server's latency. For each case and mode a fresh fake CData Sync
server (``fake_sync.py``) runs in its own process and a fresh worker process waits for N runs that finish
``--start-after`` to ``--start-after + --spread`` seconds after the start, staggered, polling every
``--interval`` seconds:

* ``floor``: a bare asyncio HTTP polling loop (one keep-alive connection per wait, raw HTTP/1.1);
* ``coalesced``: our ``CDataSyncJobTrigger`` waits (the default: the triggerer's shared poller);
* ``direct``: our triggers with ``coalesce=False`` (each wait asks at once, on the shared client).

It prints, per case and mode: CPU per waiting run per interval and its ratio to the floor of the same
case and run, polls served versus expected, API calls and bytes per interval, and event delay (run
finished -> event yielded: median, p99, max). Then the import cost of the operators module after
``airflow.sdk``. Run with ``make bench``; ``--scale 0.1`` divides every N by 10 (a quick look).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TERMINAL = {"Success", "Failed", "Cancelled"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------------------- worker
async def floor_wait(port: int, job: int, interval: float, counter: list[int]) -> float:
    """Poll one run over one keep-alive connection with raw HTTP/1.1: the cheapest possible client."""
    await asyncio.sleep(random.random() * interval)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        f"GET /api.rsc/v2/jobs/job-{job}/history/r{job} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "x-cdata-authtoken: bench-token\r\nAccept: application/json\r\n\r\n"
    ).encode()
    try:
        while True:
            await asyncio.sleep(interval)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            body = json.loads(await reader.readexactly(length))
            counter[0] += 1
            if body["status"] in TERMINAL:
                return time.time()
    finally:
        writer.close()


async def trigger_wait(trigger: Any, interval: float) -> float:
    await asyncio.sleep(random.random() * interval)  # triggers start spread out, as in a triggerer
    async for event in trigger.run():
        assert event.payload["status"] == "success", event.payload
        return time.time()
    raise RuntimeError("trigger ended without an event")


async def run_worker(mode: str, n: int, port: int, interval: float) -> dict[str, Any]:
    counter = [0]
    stats: dict[str, Any] = {}
    if mode == "floor":
        baseline = rss_mb()
        waits = [floor_wait(port, i, interval, counter) for i in range(n)]
    else:
        from airflow_provider_cdata_sync.client.control import WaitMachine
        from airflow_provider_cdata_sync.triggers.cdata_sync import CDataSyncJobTrigger

        original = WaitMachine.observed

        # Counted where each answered look is handed to the wait's state machine: a plain call, so that
        # counting adds no coroutine to every look (the cost of a wrapper is the benchmark's, not ours).
        def counted(self: Any, run: Any) -> Any:
            counter[0] += 1
            return original(self, run)

        WaitMachine.observed = counted  # type: ignore[method-assign]
        triggers = [
            CDataSyncJobTrigger(
                conn_id="bench",
                target={
                    "kind": "job",
                    "id": f"job-{i}",
                    "name": f"job-{i}",
                    "workspace": "default",
                    "api_version": "v2",
                },
                run_id=f"r{i}",
                poll_interval=interval,
                coalesce=(mode == "coalesced"),
            )
            for i in range(n)
        ]
        baseline = rss_mb()
        waits = [trigger_wait(trigger, interval) for trigger in triggers]
    cpu0, wall0 = time.process_time(), time.time()
    ends = await asyncio.gather(*waits)
    cpu = time.process_time() - cpu0
    if mode != "floor":
        from airflow_provider_cdata_sync.client.poller import pollers_of

        for poller in pollers_of(asyncio.get_running_loop()).values():
            stats = {**vars(poller.stats), "requests": poller.meter.requests, "cap": poller.cap}
    return {
        "cpu": cpu,
        "start": wall0,
        "ends": ends,
        "polls": counter[0],
        "mem_mb": rss_mb() - baseline,
        "poller": stats,
    }


def worker_main(args: argparse.Namespace) -> None:
    os.environ["AIRFLOW_CONN_BENCH"] = json.dumps(
        {"conn_type": "cdata_sync", "host": f"http://127.0.0.1:{args.port}", "password": "bench-token"}
    )
    result = asyncio.run(run_worker(args.worker, args.n[0], args.port, args.interval))
    print(json.dumps(result))


# ----------------------------------------------------------------------------------------- driver
@dataclass(frozen=True)
class Case:
    """One situation: waits, workspace size, list shape, server latency, and the modes compared."""

    name: str
    n: int
    jobs: int = 0  # jobs in the workspace (0: as many as waits)
    list_status: bool = True
    page_size: int = 0
    latency_ms: float = 0.0
    modes: tuple[str, ...] = ("floor", "coalesced")


CASES = {
    case.name: case
    for case in (
        Case("status", 1000),
        Case("status-50ms", 1000, latency_ms=50),
        Case("nostatus", 1000, list_status=False),
        Case("nostatus-50ms", 1000, list_status=False, latency_ms=50),
        Case("paged", 1000, page_size=100),
        Case("big-workspace", 2, jobs=20000, modes=("floor", "coalesced", "direct")),
        Case("n5000", 5000),
        Case("alone", 1000, modes=("floor", "direct")),
        Case("alone-50ms", 1000, latency_ms=50, modes=("floor", "direct")),
    )
}


def run_mode(
    case: Case, mode: str, n: int, interval: float, start_after: float, spread: float
) -> dict[str, Any]:
    port = free_port()
    t0 = time.time() + 3.0  # the worker's imports and set-up happen before the runs "start"
    jobs = max(n, int(case.jobs))
    command = [
        sys.executable,
        str(HERE / "fake_sync.py"),
        *("--port", str(port), "--n", str(n), "--t0", str(t0), "--jobs", str(jobs)),
        *("--start-after", str(start_after - 3.0), "--spread", str(spread)),
        *("--page-size", str(case.page_size), "--latency-ms", str(case.latency_ms)),
        *(() if case.list_status else ("--no-list-status",)),
    ]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    server.stdout.readline()  # "ready"
    try:
        worker = subprocess.run(
            [
                sys.executable,
                __file__,
                *("--worker", mode, "--n", str(n), "--port", str(port), "--interval", str(interval)),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if worker.returncode != 0:
            raise RuntimeError(f"{mode} worker failed:\n{worker.stderr[-3000:]}")
        result = json.loads(worker.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        counts = json.loads(server.communicate(timeout=30)[0].strip().splitlines()[-1])
    finishes = [t0 + (start_after - 3.0) + spread * i / n for i in range(n)]
    delays = sorted(end - fin for end, fin in zip(result["ends"], finishes, strict=True))
    waiting_intervals = sum(max(fin - result["start"], 0) for fin in finishes) / interval
    expected_polls = sum(int(max(fin - result["start"], 0) // interval) + 1 for fin in finishes)
    intervals = (max(result["ends"]) - result["start"]) / interval
    calls = sum(value for key, value in counts.items() if key != "bytes")
    return {
        "case": case.name,
        "mode": mode,
        "n": n,
        "jobs": jobs,
        "cpu_ms_per_wait_interval": 1000 * result["cpu"] / waiting_intervals,
        "polls": result["polls"],
        "expected_polls": expected_polls,
        "api_calls": calls,
        "calls_per_interval": calls / intervals,
        "kb_per_interval": counts.get("bytes", 0) / 1024 / intervals,
        "mem_kb_per_wait": 1024 * result["mem_mb"] / n,
        "delay_median": statistics.median(delays),
        "delay_p99": delays[min(len(delays) - 1, int(0.99 * len(delays)))],
        "delay_max": delays[-1],
        "poller": result.get("poller") or {},
    }


def import_cost(repeats: int = 7) -> float:
    """Median milliseconds to import the operators module after ``airflow.sdk`` (fresh processes, with
    bytecode compiled first, as an installed package has it)."""
    import compileall

    compileall.compile_dir(str(HERE.parent / "airflow_provider_cdata_sync"), quiet=1)
    code = (
        "import time, airflow.sdk\n"
        "t = time.perf_counter()\n"
        "import airflow_provider_cdata_sync.operators.cdata_sync\n"
        "print((time.perf_counter() - t) * 1000)\n"
    )
    samples = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(repeats)
    ]
    return statistics.median(samples)


def print_table(rows: list[dict[str, Any]], interval: float) -> None:
    floors = {row["case"]: row for row in rows if row["mode"] == "floor"}
    header = (
        f"{'case':<14} {'N':>5} {'jobs':>6} {'mode':<10} {'CPU ms/wait/int':>15} {'x floor':>7} "
        f"{'polls served/expected':>22} {'calls/int':>9} {'KB/int':>8} {'delay med/p99/max s':>20}"
    )
    print(f"interval {interval:g} s")
    print(header)
    print("-" * len(header))
    for row in rows:
        floor = floors.get(row["case"])
        ratio = row["cpu_ms_per_wait_interval"] / floor["cpu_ms_per_wait_interval"] if floor else float("nan")
        served = f"{row['polls']}/{row['expected_polls']}"
        print(
            f"{row['case']:<14} {row['n']:>5} {row['jobs']:>6} {row['mode']:<10} "
            f"{row['cpu_ms_per_wait_interval']:>15.3f} {ratio:>7.2f} {served:>22} "
            f"{row['calls_per_interval']:>9.1f} {row['kb_per_interval']:>8.1f} "
            f"{row['delay_median']:>7.2f}/{row['delay_p99']:.2f}/{row['delay_max']:.2f}"
        )


def raise_file_limit() -> None:
    """N = 5,000 floor waits hold 5,000 sockets: take the hard limit of open files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--cases", default=",".join(CASES), help=f"any of {', '.join(CASES)}")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every N by this")
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument(
        "--start-after", type=float, default=20.0, help="first run finishes after this many s"
    )
    parser.add_argument("--spread", type=float, default=10.0, help="runs finish over this many s")
    parser.add_argument("--no-import-cost", action="store_true", help="skip the import cost")
    args = parser.parse_args()
    raise_file_limit()
    if args.worker:
        worker_main(args)
        return
    rows = []
    for name in args.cases.split(","):
        case = CASES[name]
        n = max(1, round(case.n * args.scale)) if case.n > 2 else case.n
        for mode in case.modes:
            rows.append(run_mode(case, mode, n, args.interval, args.start_after, args.spread))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print_table(rows, args.interval)
    if not args.no_import_cost:
        module = "airflow_provider_cdata_sync.operators.cdata_sync"
        print(f"\nImport of {module} after airflow.sdk: {import_cost():.1f} ms (median of 7)")


if __name__ == "__main__":
    main()
