"""Soak: many concurrent deferred job waits in one triggerer-like event loop, against the emulator, with
faults injected on the execute, status and history paths. Not part of CI (``make soak``).

The emulator runs in this process (its own threads); ``--jobs`` small jobs are seeded; every run is started
through our async client (``start_run``, which must never start a run twice even when the answer to
execute is lost); then one ``CDataSyncJobTrigger(...).run()`` per run is iterated with ``asyncio.gather``
in a single event loop while 429/5xx/resets/slow/garbled answers are injected. It prints runs started,
runs finished, duplicates and lost runs (both must be 0) and the API calls made per run; the exit status
is 1 when a duplicate or a lost run is seen.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

TOKEN = "soak-token-3f9b1c"
EXECUTE = r"^/api\.rsc/v2/jobs/[^/]+/execute$"
STATUS = r"^/api\.rsc/v2/jobs/[^/]+/status$"
HISTORY = r"^/api\.rsc/v2/jobs/[^/]+/history$"
RUN = r"^/api\.rsc/v2/jobs/[^/]+/history/[^/]+$"


def inject_faults(server: Any, scale: int) -> None:
    """Faults on the status and history paths (and a few on execute), in proportion to the job count."""
    server.inject_fault(EXECUTE, "reset_after", method="POST", count=max(1, scale // 20))
    server.inject_fault(
        EXECUTE, "status", method="POST", status=429, retry_after=0.5, count=max(1, scale // 20)
    )
    server.inject_fault(EXECUTE, "status", method="POST", status=503, count=max(1, scale // 20))
    for path in (RUN, STATUS, HISTORY):
        server.inject_fault(path, "status", method="GET", status=503, count=scale // 2)
        server.inject_fault(path, "status", method="GET", status=429, retry_after=0.5, count=scale // 4)
        server.inject_fault(path, "status", method="GET", status=502, count=scale // 4)
        server.inject_fault(path, "reset", method="GET", count=scale // 4)
        server.inject_fault(path, "malformed", method="GET", count=scale // 8)
        server.inject_fault(path, "delay", method="GET", delay=2.0, count=scale // 8)


async def soak(args: argparse.Namespace, server: Any) -> dict[str, Any]:
    from cdata_sync_emulator.testing import seed_small_job

    from airflow_provider_cdata_sync.client import ClientConfig, RetrySettings, aconnect
    from airflow_provider_cdata_sync.triggers.cdata_sync import CDataSyncJobTrigger

    seeded = [seed_small_job(server, tables={"items": 10}, name=f"SoakJob{i:04d}") for i in range(args.jobs)]
    server.set_speed(min_run_seconds=args.run_seconds)
    config = ClientConfig(
        base_url=server.base_url,
        token=TOKEN,
        read_timeout=5,
        retry=RetrySettings(max_retries=3, backoff_base=0.2),
    )
    inject_faults(server, args.jobs)
    client = await aconnect(config, "v2")
    async with client:
        targets = await asyncio.gather(*(client.resolve_target("job", job.job_id) for job in seeded))
        started_runs = await asyncio.gather(
            *(client.start_run(target) for target in targets), return_exceptions=True
        )
    start_errors = [repr(run) for run in started_runs if isinstance(run, BaseException)]
    end_time = time.time() + args.deadline
    triggers = [
        CDataSyncJobTrigger(
            conn_id="cdata_sync_default",
            target=target.to_dict(),
            run_id=run.id,
            poll_interval=args.poll_interval,
            end_time=end_time,
            max_consecutive_errors=10,
        )
        for target, run in zip(targets, started_runs, strict=True)
        if not isinstance(run, BaseException)
    ]

    async def first(trigger: CDataSyncJobTrigger) -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        return {"status": "no event"}

    waited = time.monotonic()
    events = await asyncio.gather(*(first(trigger) for trigger in triggers))
    wait_seconds = time.monotonic() - waited

    per_job = {job.job_id: server.runs(job.job_id) for job in seeded}
    started = sum(len(runs) for runs in per_job.values())
    finished = sum(
        1 for runs in per_job.values() for run in runs if run["status"] not in ("Queued", "Running")
    )
    duplicates = sum(max(len(runs) - 1, 0) for runs in per_job.values())
    reported = {
        (event["target"]["id"], event.get("run_id")) for event in events if event.get("status") == "success"
    }
    lost = sum(
        1
        for job_id, runs in per_job.items()
        for run in runs
        if (job_id, run["id"]) not in reported  # started but never reported as finished by its wait
    ) + sum(1 for runs in per_job.values() if not runs)  # asked for but never started
    stats = server.stats()
    return {
        "jobs": args.jobs,
        "runs started": started,
        "runs finished": finished,
        "duplicates": duplicates,
        "lost runs": lost,
        "start errors": start_errors,
        "events": dict(Counter(event.get("status") for event in events)),
        "wait seconds": round(wait_seconds, 1),
        "api calls": stats["total"],
        "api calls per run": round(stats["total"] / max(started, 1), 1),
        "faults left": sum(fault["remaining"] for fault in server.faults()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--run-seconds", type=float, default=8.0, help="each run lasts at least this long")
    parser.add_argument("--poll-interval", type=float, default=2.0)
    parser.add_argument("--deadline", type=float, default=150.0, help="the triggers' end_time, in seconds")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="cdata-sync-soak-"))
    os.environ.setdefault("AIRFLOW_HOME", str(home / "airflow"))
    from cdata_sync_emulator.testing import running_emulator

    with running_emulator(home / "emulator", TOKEN) as server:
        connection = {"conn_type": "cdata_sync", "host": server.base_url, "password": TOKEN}
        os.environ["AIRFLOW_CONN_CDATA_SYNC_DEFAULT"] = json.dumps(connection)
        began = time.monotonic()
        report = asyncio.run(soak(args, server))
        report["total seconds"] = round(time.monotonic() - began, 1)
        server.clear_faults()
        server.wait_idle(30)
    for key, value in report.items():
        print(f"{key:>18}: {value}")
    return 1 if report["duplicates"] or report["lost runs"] or report["start errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
