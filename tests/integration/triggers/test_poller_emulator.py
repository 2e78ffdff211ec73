"""The shared poller against the real emulator: which calls it makes (counted on the emulator) when the list
carries a status, when it carries none, when it is paged, when the server throttles, and for the waits
that used to poll alone (history waits, waits without a run id)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cdata_sync_emulator import CDataSyncEmulator
from cdata_sync_emulator.testing import running_emulator, seed_small_job

from airflow_provider_cdata_sync.client import poller as poller_module
from airflow_provider_cdata_sync.client.control import Target
from airflow_provider_cdata_sync.triggers.cdata_sync import CDataSyncJobHistoryTrigger, CDataSyncJobTrigger
from airflow_provider_cdata_sync.triggers.poller import SharedPoller
from tests.helpers import (
    TOKEN,
    calls_matching,
    first_event,
    start_run,
    stop_everything,
    use_connection,
)
from tests.integration.conftest import Jobs

LIST_PATH = r"^GET .*/v2/workspaces/[^/]+/jobs$"
HISTORY_GET = r"^GET .*/v2/jobs/[^/]+/history/[^/]+$"
HISTORY_LIST = r"^GET .*/v2/jobs/[^/]+/history$"
STATUS_GET = r"^GET .*/v2/jobs/[^/]+/status$"


@pytest.fixture
def probe_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lists are tried from the first wait (the emulator has few jobs; the default needs 8 lookups)."""
    monkeypatch.setattr(poller_module, "PROBE_MIN_CALLS", 1)


def running(server: CDataSyncEmulator, job_id: str, seconds: float = 30.0) -> str:
    """Start a run that keeps running (until stopped)."""
    server.set_speed(min_run_seconds=seconds)
    return str(start_run(server, job_id)["id"])


async def ticks(poller: SharedPoller, target: Target, run_ids: list[str], count: int) -> list[Any]:
    """Ask for the runs at ``count`` consecutive ticks; the last answers."""
    answers: list[Any] = []
    for _ in range(count):
        answers = await asyncio.gather(*(poller.get_run(target, run_id) for run_id in run_ids))
    return answers


# ------------------------------------------------------------------------------- list or lookups
@pytest.mark.usefixtures("probe_at_once")
async def test_a_list_with_status_answers_running_runs_without_lookups(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target, broken_target: Target
) -> None:
    good, broken = running(server, jobs.good.job_id), running(server, jobs.broken.job_id)
    lists, gets = calls_matching(server, LIST_PATH), calls_matching(server, HISTORY_GET)
    poller = SharedPoller("cdata_sync_default", "v2", interval=0.05)

    for _ in range(3):
        answers = await asyncio.gather(
            poller.get_run(good_target, good), poller.get_run(broken_target, broken)
        )

    assert [run.status for run in answers] == ["Running", "Running"]
    assert calls_matching(server, LIST_PATH) - lists == 3  # one list per tick answers both waits
    assert calls_matching(server, HISTORY_GET) - gets == 0  # nothing else while they run


@pytest.mark.usefixtures("probe_at_once")
async def test_a_list_is_not_kept_for_one_wait(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target
) -> None:
    run_id = running(server, jobs.good.job_id)
    lists, gets = calls_matching(server, LIST_PATH), calls_matching(server, HISTORY_GET)
    poller = SharedPoller("cdata_sync_default", "v2", interval=0.05)

    answers = await ticks(poller, good_target, [run_id], 3)

    assert [run.status for run in answers] == ["Running"]
    # Tried once; a list costs at least the one lookup it saves: lookups from then on.
    assert calls_matching(server, LIST_PATH) - lists == 1
    assert calls_matching(server, HISTORY_GET) - gets == 2


@pytest.mark.usefixtures("probe_at_once")
async def test_a_list_without_status_is_dropped_for_per_run_lookups(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target
) -> None:
    run_id = running(server, jobs.good.job_id)
    bare = {"value": [{"id": jobs.good.job_id, "name": good_target.name}]}  # a list without run states
    server.inject_fault(r"/v2/workspaces/[^/]+/jobs$", method="GET", status=200, body=bare, count=50)
    lists, gets = calls_matching(server, LIST_PATH), calls_matching(server, HISTORY_GET)
    poller = SharedPoller("cdata_sync_default", "v2", interval=0.05)

    answers = await ticks(poller, good_target, [run_id], 4)

    assert [run.status for run in answers] == ["Running"]
    assert calls_matching(server, LIST_PATH) - lists == 1  # noticed once, never listed again
    assert calls_matching(server, HISTORY_GET) - gets == 4  # one lookup per tick instead


async def test_few_waits_are_never_listed(server: CDataSyncEmulator, jobs: Jobs, good_target: Target) -> None:
    run_id = running(server, jobs.good.job_id)
    lists, gets = calls_matching(server, LIST_PATH), calls_matching(server, HISTORY_GET)
    poller = SharedPoller("cdata_sync_default", "v2", interval=0.05)

    await ticks(poller, good_target, [run_id], 3)

    # One wait: a list (of a workspace of any size) cannot be cheaper than one lookup.
    assert calls_matching(server, LIST_PATH) - lists == 0
    assert calls_matching(server, HISTORY_GET) - gets == 3


async def test_a_finished_run_is_looked_up_and_reported(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target, probe_at_once: None
) -> None:
    server.set_speed(min_run_seconds=0.3)
    run_id = str(start_run(server, jobs.good.job_id)["id"])
    poller = SharedPoller("cdata_sync_default", "v2", interval=0.05)

    deadline = time.monotonic() + 10
    while (run := await poller.get_run(good_target, run_id)).status == "Running":
        assert time.monotonic() < deadline

    assert run.status == "Success" and run.id == run_id
    assert {task.table for task in run.tasks} == {"accounts", "contacts"}  # the full record, not the list's


@pytest.mark.usefixtures("probe_at_once")
async def test_a_slow_list_makes_ticks_come_earlier_so_news_stays_within_an_interval(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target, broken_target: Target
) -> None:
    good, broken = running(server, jobs.good.job_id), running(server, jobs.broken.job_id)
    # Each list takes 0.3 s to answer: news read at a tick reaches the waits 0.3 s after the tick.
    server.inject_fault(r"/v2/workspaces/[^/]+/jobs$", "delay", method="GET", delay=0.3, count=20)
    poller = SharedPoller("cdata_sync_default", "v2", interval=1.0)
    answered_at: list[float] = []

    for _ in range(4):
        answers = await asyncio.gather(
            poller.get_run(good_target, good), poller.get_run(broken_target, broken)
        )
        answered_at.append(time.monotonic())

    assert [run.status for run in answers] == ["Running", "Running"]
    gaps = [later - earlier for earlier, later in itertools.pairwise(answered_at)]
    # A fixed 0.9-interval tick would deliver 0.9 s apart and its news up to 1.2 s old; the ticks came
    # earlier by about 1.3 x 0.3 s (never more than half the interval).
    assert all(0.45 <= gap <= 0.8 for gap in gaps[1:]), gaps
    assert poller.tick_period + poller.delivery <= poller.interval


# ------------------------------------------------------------------------------- paged lists
@pytest.fixture(scope="module")
def paged_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CDataSyncEmulator]:
    """An emulator answering v2 in pages of 2 (the ``pascal`` dialect), with six jobs."""
    with running_emulator(tmp_path_factory.mktemp("paged"), TOKEN, dialect="pascal") as server:
        for index in range(6):
            seed_small_job(server, rows=2, name=f"Paged{index}")
        yield server


@pytest.fixture
def paged(paged_server: CDataSyncEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[CDataSyncEmulator]:
    use_connection(monkeypatch, paged_server)
    monkeypatch.setattr(poller_module, "PROBE_MIN_CALLS", 1)
    yield paged_server
    paged_server.set_speed(min_run_seconds=0.0)
    stop_everything(paged_server)


def paged_targets(server: CDataSyncEmulator) -> list[tuple[Target, str]]:
    """Each job's target and a run started on it (the list's order: pages of 2)."""
    server.set_speed(min_run_seconds=30.0)
    found = []
    for job in server.state()["jobs"]:
        start_run(server, job["id"])
        run = next(run for run in reversed(server.runs(job["id"])) if run["status"] == "Running")
        found.append((Target("job", job["id"], job["name"], "default", (), "v2"), str(run["id"])))
    return found


async def test_a_paged_list_is_followed_while_it_answers_waits(paged: CDataSyncEmulator) -> None:
    waits = paged_targets(paged)
    lists, gets = calls_matching(paged, LIST_PATH), calls_matching(paged, HISTORY_GET)
    poller = SharedPoller("cdata_sync_default", "v2", interval=0.05)

    answers = await asyncio.gather(*(poller.get_run(target, run_id) for target, run_id in waits))

    assert {run.status for run in answers} == {"In progress"}  # the pascal dialect's word
    assert calls_matching(paged, LIST_PATH) - lists == 3  # six jobs in pages of two: every page paid
    assert calls_matching(paged, HISTORY_GET) - gets == 0


async def test_a_paged_list_stops_once_every_wait_is_answered(paged: CDataSyncEmulator) -> None:
    waits = paged_targets(paged)[:2]  # both on the first page
    lists, gets = calls_matching(paged, LIST_PATH), calls_matching(paged, HISTORY_GET)
    poller = SharedPoller("cdata_sync_default", "v2", interval=0.05)

    for _ in range(2):
        answers = await asyncio.gather(*(poller.get_run(target, run_id) for target, run_id in waits))

    assert {run.status for run in answers} == {"In progress"}
    assert calls_matching(paged, LIST_PATH) - lists == 2  # one page per tick, never the other two
    assert calls_matching(paged, HISTORY_GET) - gets == 0


# ------------------------------------------------------------------------------- throttling
async def test_a_429_is_waited_out_and_narrows_concurrency(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target, broken_target: Target
) -> None:
    good = running(server, jobs.good.job_id)
    broken = str(start_run(server, jobs.broken.job_id)["id"])
    server.inject_fault(r"/v2/jobs/[^/]+/history/", method="GET", status=429, retry_after=1, count=1)
    poller = SharedPoller("cdata_sync_default", "v2", interval=0.05)
    started = time.monotonic()

    answers = await asyncio.gather(poller.get_run(good_target, good), poller.get_run(broken_target, broken))

    assert answers[0].id == good and answers[1].id == broken  # answered once the server allowed it
    assert time.monotonic() - started >= 0.9  # Retry-After: 1 was honoured
    assert poller.meter.throttled == 1
    await asyncio.sleep(0.05)  # the answers are delivered as they come; the tick narrows once all are in
    assert poller.cap < poller_module.MAX_CONCURRENCY, vars(poller.stats)


# ------------------------------------------------------------------------------- waits that polled alone
async def test_history_waits_share_one_history_list_per_tick(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target
) -> None:
    since = (datetime.now(UTC) + timedelta(hours=1)).isoformat()  # nothing ever qualifies: they keep waiting
    triggers = [
        CDataSyncJobHistoryTrigger(
            conn_id="cdata_sync_default", target=good_target.to_dict(), since=since, poll_interval=0.1
        )
        for _ in range(5)
    ]
    before = calls_matching(server, HISTORY_LIST)
    tasks = [asyncio.ensure_future(first_event(trigger)) for trigger in triggers]
    await asyncio.sleep(1.0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    calls = calls_matching(server, HISTORY_LIST) - before
    assert 3 <= calls <= 13  # about one per tick (0.09 s) for all five, not one per wait per interval


async def test_waits_without_a_run_id_share_their_lookups(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target
) -> None:
    server.set_speed(min_run_seconds=0.6)
    run_id = str(start_run(server, jobs.good.job_id)["id"])
    before = calls_matching(server, STATUS_GET) + calls_matching(server, HISTORY_GET)
    triggers = [
        CDataSyncJobTrigger(conn_id="cdata_sync_default", target=good_target.to_dict(), poll_interval=0.1)
        for _ in range(5)
    ]

    events = await asyncio.gather(*(first_event(trigger) for trigger in triggers))

    assert {event["status"] for event in events} == {"success"}
    assert {event["run_id"] for event in events} == {run_id}
    calls = calls_matching(server, STATUS_GET) + calls_matching(server, HISTORY_GET) - before
    assert calls <= 2 * 12  # one look (status, then the run) per tick for all five, over ~0.6 s


async def test_coalesce_false_asks_at_once_on_one_shared_client(
    server: CDataSyncEmulator, jobs: Jobs, good_target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.set_speed(min_run_seconds=0.3)
    run_id = str(start_run(server, jobs.good.job_id)["id"])
    made: list[Any] = []
    original = SharedPoller._get_client

    async def counting(self: SharedPoller) -> Any:
        client = await original(self)
        if client not in made:
            made.append(client)
        return client

    monkeypatch.setattr(SharedPoller, "_get_client", counting)
    triggers = [
        CDataSyncJobTrigger(
            conn_id="cdata_sync_default",
            target=good_target.to_dict(),
            run_id=run_id,
            poll_interval=0.05,
            coalesce=False,
        )
        for _ in range(4)
    ]

    events = await asyncio.gather(*(first_event(trigger) for trigger in triggers))

    assert {event["status"] for event in events} == {"success"}
    assert len(made) == 1  # one client (one connection pool) for every wait that polls alone


def test_the_poller_core_imports_no_airflow(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys, airflow_provider_cdata_sync.client.poller\n"
        "print(any(name == 'airflow' or name.startswith('airflow.') for name in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
