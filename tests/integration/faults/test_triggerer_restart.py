"""Triggerer restart: a trigger rebuilt from its serialised form in a new process resumes waiting and
completes with the right result, after the process that ran it first was killed mid-wait."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from cdata_sync_emulator import CDataSyncEmulator

from airflow_provider_cdata_sync.client import CDataSyncClient, ClientConfig
from airflow_provider_cdata_sync.triggers.cdata_sync import CDataSyncJobTrigger
from tests.helpers import calls, start_run, wait_for
from tests.integration.faults.conftest import JOB, TOKEN, V2_RUN, Jobs

#: A stand-in triggerer: rebuild the trigger from (classpath, kwargs) given as JSON, run it, print the event.
TRIGGERER = """
import asyncio, importlib, json, sys
classpath, kwargs = json.loads(sys.argv[1])
module, _, name = classpath.rpartition(".")
trigger = getattr(importlib.import_module(module), name)(**kwargs)
async def main():
    print("RUNNING", flush=True)
    async for event in trigger.run():
        print("EVENT " + json.dumps(event.payload), flush=True)
        return
asyncio.run(main())
"""


def triggerer(serialised: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", TRIGGERER, serialised],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=dict(os.environ),
    )


def test_trigger_rebuilt_in_a_new_process_completes_the_wait(server: CDataSyncEmulator, jobs: Jobs) -> None:
    server.set_speed(min_run_seconds=6, target_id=jobs.main.job_id)
    run_id = start_run(server, jobs.main.job_id)["id"]
    with CDataSyncClient(ClientConfig(base_url=server.base_url, token=TOKEN)) as client:
        target = client.resolve_target("job", JOB)
    trigger = CDataSyncJobTrigger(
        conn_id="cdata_sync_default", target=target.to_dict(), run_id=run_id, poll_interval=0.3
    )
    serialised = json.dumps(trigger.serialize())  # what the metadata DB keeps

    first = triggerer(serialised)
    try:
        wait_for(lambda: calls(server, "GET " + V2_RUN.strip("^$")) >= 2, 20, "the first triggerer polling")
    finally:
        first.send_signal(signal.SIGKILL)  # the triggerer dies mid-wait
        first.wait(10)
    assert first.returncode == -signal.SIGKILL
    assert "EVENT" not in (first.stdout.read() if first.stdout else "")
    assert server.runs(jobs.main.job_id)[-1]["status"] == "Running"  # the run went on without a watcher
    started = time.monotonic()

    second = triggerer(serialised)  # a new triggerer picks the trigger up from its serialised form
    out, _ = second.communicate(timeout=40)

    events = [json.loads(line[6:]) for line in out.splitlines() if line.startswith("EVENT ")]
    assert len(events) == 1, out
    event = events[0]
    assert event["status"] == "success" and event["run_id"] == run_id
    assert event["run"]["status"] == "Success" and event["run"]["records_affected"] == 40
    assert server.runs(jobs.main.job_id)[-1]["id"] == run_id  # waiting never started a run
    assert time.monotonic() - started < 30
