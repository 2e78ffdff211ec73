"""The pollers' lean read path against the emulator, in each of its server shapes (``default`` v2,
``pascal`` v2 paged by 2, ``v1-real`` v1 as real servers answer): the answers are the full httpx path's
answers, errors are sent once and judged by the one retry policy, throttling pauses the poller, and the
triggerer's pollers use it unless told otherwise."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cdata_sync_emulator import CDataSyncEmulator
from cdata_sync_emulator.testing import SmallJob, running_emulator, seed_small_job

from airflow_provider_cdata_sync.client import ClientConfig, RetrySettings
from airflow_provider_cdata_sync.client.connect import aconnect
from airflow_provider_cdata_sync.client.control import Target
from airflow_provider_cdata_sync.client.errors import CDataSyncNotFoundError
from airflow_provider_cdata_sync.client.poller import Meter
from airflow_provider_cdata_sync.triggers.poller import SharedPoller, poller_transport
from tests.helpers import TOKEN, calls_matching, start_run, use_connection

#: Dialect -> API version its clients speak.
SHAPES = {"default": "v2", "pascal": "v2", "v1-real": "v1"}


class Shape:
    """One emulator dialect with a seeded job that has finished one run."""

    def __init__(self, server: CDataSyncEmulator, dialect: str, job: SmallJob) -> None:
        self.server = server
        self.dialect = dialect
        self.version = SHAPES[dialect]
        self.job = job

    def config(self, **overrides: Any) -> ClientConfig:
        options: dict[str, Any] = {"retry": RetrySettings(max_retries=2, backoff_base=0.01, backoff_max=0.02)}
        options.update(overrides)
        return ClientConfig(base_url=self.server.base_url, token=TOKEN, **options)


@pytest.fixture(scope="module", params=list(SHAPES))
def shape(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shape]:
    dialect = request.param
    with running_emulator(tmp_path_factory.mktemp(f"lean-{dialect}"), TOKEN, dialect=dialect) as server:
        job = seed_small_job(server, rows=5, name="LeanJob")
        start_run(server, job.job_id)
        assert server.wait_idle(30)
        yield Shape(server, dialect, job)


@pytest.fixture
async def clients(shape: Shape) -> AsyncIterator[tuple[Any, Any, Meter]]:
    """A client on the full httpx path and one on the lean read path (metered), on the same server."""
    shape.server.clear_faults()
    full = await aconnect(shape.config(), shape.version)
    lean = await aconnect(shape.config(), shape.version)
    meter = Meter()
    assert lean.use_lean_reads(meter) is True
    yield full, lean, meter
    await full.aclose()
    await lean.aclose()
    shape.server.clear_faults()


def dumped(value: Any) -> Any:
    if isinstance(value, list):
        return [dumped(item) for item in value]
    return value.model_dump() if hasattr(value, "model_dump") else value


async def test_lean_answers_are_the_full_paths_answers(shape: Shape, clients: tuple[Any, Any, Meter]) -> None:
    full, lean, meter = clients
    target = await full.resolve_target("job", "LeanJob")
    latest = await full.latest_run(target)
    since = datetime.now(UTC) - timedelta(hours=1)

    async def everything(client: Any) -> list[Any]:
        found: Target = await client.resolve_target("job", "LeanJob")
        return [
            found,
            await client.latest_run(found),
            await client.get_run(found, latest.id),
            await client.current_run(found),
            await client.runs_since(found, since),
            await client.look(found, latest.id),
        ]

    expected, answered = await everything(full), await everything(lean)

    assert latest.state.value == "success"
    assert dumped(answered) == dumped(expected)
    assert lean.lean_reader.requests >= 6  # all of these reads went the lean way
    assert lean.lean_reader.requests == meter.requests  # and every answer was metered
    assert lean.lean_reader.failures == 0


async def test_an_error_answer_is_sent_once_and_raised_as_on_the_full_path(
    shape: Shape, clients: tuple[Any, Any, Meter]
) -> None:
    full, lean, _ = clients
    target = await full.resolve_target("job", "LeanJob")
    unknown = "9" * 17 if shape.version == "v1" else "999999"

    before = calls_matching(shape.server, ".")
    with pytest.raises(CDataSyncNotFoundError) as on_full:
        await full.get_run(target, unknown)
    made_by_full = calls_matching(shape.server, ".") - before
    gets_before = calls_matching(shape.server, "^GET ")
    with pytest.raises(CDataSyncNotFoundError) as on_lean:
        await lean.get_run(target, unknown)
    made_by_lean = calls_matching(shape.server, ".") - before - made_by_full

    assert str(on_lean.value) == str(on_full.value)  # same message, same path, same hint
    assert TOKEN not in str(on_lean.value)
    assert made_by_lean == made_by_full > 0  # an error answer is not sent a second time the full way
    # Its GETs went the lean way (v1 reads some things by read-only POSTs: those take the full path).
    assert lean.lean_reader.requests == calls_matching(shape.server, "^GET ") - gets_before > 0


async def test_a_throttled_read_is_retried_once_and_pauses_the_meter(
    shape: Shape, clients: tuple[Any, Any, Meter]
) -> None:
    full, lean, meter = clients
    target = await full.resolve_target("job", "LeanJob")
    latest = await full.latest_run(target)
    await lean.get_run(target, latest.id)  # warm: learn how many calls one answer takes
    one_answer = meter.requests
    await lean.get_run(target, latest.id)
    per_answer = meter.requests - one_answer
    shape.server.inject_fault(r"/", "status", method="GET", count=1, status=503, retry_after=0.2)
    loop = asyncio.get_running_loop()
    started, before = loop.time(), meter.requests

    run = await lean.get_run(target, latest.id)

    assert run.id == latest.id and run.state.value == "success"
    assert meter.throttled == 1  # the 503 was seen by the poller's meter
    assert meter.requests - before == per_answer + 1  # the refused request, sent again once
    assert loop.time() - started >= 0.2  # its Retry-After was honoured
    assert shape.server.faults() == []  # the fault was met


async def test_the_triggerers_pollers_use_the_lean_path_unless_told_otherwise(
    shape: Shape, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, shape.server, api_version=shape.version)
    for choice, lean_expected in (("auto", True), ("aiohttp", False), ("httpx", False)):
        monkeypatch.setenv("CDATA_SYNC_POLLER_TRANSPORT", choice)
        poller = SharedPoller("cdata_sync_default", shape.version, interval=5.0)  # no idle close meanwhile
        target = await poller.resolve_target("job", "LeanJob")
        before = calls_matching(shape.server, r"^GET ")

        latest = await poller.latest_run(target)

        reader = poller._client.lean_reader
        assert latest.state.value == "success"
        assert (reader is not None and reader.requests > 0) is lean_expected, choice
        assert calls_matching(shape.server, r"^GET ") > before
        assert poller._task is not None
        poller._task.cancel()  # the poller closes its client as it stops
        with contextlib.suppress(asyncio.CancelledError):
            await poller._task


def test_an_unknown_poller_transport_is_named_with_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDATA_SYNC_POLLER_TRANSPORT", "urllib3")
    with pytest.raises(ValueError, match=r"'urllib3' is not a choice: use auto, aiohttp or httpx"):
        poller_transport()


async def test_a_proxied_host_keeps_the_full_path(shape: Shape, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = await aconnect(shape.config(), shape.version)
    try:
        assert client.use_lean_reads() is False  # the proxy is httpx's to speak to
        assert client.lean_reader is None
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        assert client.use_lean_reads() is True  # the proxy does not apply to this host
    finally:
        await client.aclose()
