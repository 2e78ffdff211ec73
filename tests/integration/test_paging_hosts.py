"""Paging links that name another host: only the configured server ever receives a request (and a credential).

Servers build absolute paging links from the URL they think they were called on; behind a proxy that is an
internal host or plain ``http`` (Multiwoven's ``custom_pagination_links.rb``). Both emulators are told to
name a *recording listener* on another loopback port in every paging link (``link_base``): the CData Sync
``pascal`` dialect pages every v2 list by 2 (``@odata.nextLink``), the AI Squared ``oss`` mode answers
absolute ``links.next``. Listing through the clients (sync and async) and the hooks must follow every page
on the configured server, and the listener must receive nothing at all.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

import pytest
from cdata_sync_emulator import CDataSyncEmulator
from cdata_sync_emulator.aisquared import AISquaredEmulator, seed_demo

from airflow_provider_cdata_sync.aisquared import AISquaredClient, AISquaredConfig, AsyncAISquaredClient
from airflow_provider_cdata_sync.aisquared.client import sync_target
from airflow_provider_cdata_sync.client import AsyncCDataSyncClient, CDataSyncClient, ClientConfig
from airflow_provider_cdata_sync.client.control import Target
from airflow_provider_cdata_sync.hooks.aisquared import AISquaredHook
from airflow_provider_cdata_sync.hooks.cdata_sync import CDataSyncHook
from tests.helpers import RecordingListener, demo_sync_definition

TOKEN = "paging-secret-token-8e41"
EMAIL = "pager@example.com"
PASSWORD = "Paging-Passw0rd-77c2!"
RUNS = 3  # runs of one job / sync: two pages of 2


@pytest.fixture(scope="module")
def listener() -> Iterator[RecordingListener]:
    with RecordingListener() as made:
        yield made


@pytest.fixture
def nothing_reaches_the_listener(listener: RecordingListener) -> Iterator[RecordingListener]:
    listener.requests.clear()
    yield listener
    assert listener.requests == [], [(r.method, r.path, sorted(r.headers)) for r in listener.requests]


def pages(server: Any, pattern: str) -> int:
    """Requests the emulator served whose ``METHOD path`` matches (one per page)."""
    regex = re.compile(pattern)
    return sum(count for key, count in server.stats()["calls"].items() if regex.fullmatch(key))


# ----------------------------------------------------------------------------------------- CData Sync
@pytest.fixture(scope="module")
def cdata(
    tmp_path_factory: pytest.TempPathFactory, listener: RecordingListener
) -> Iterator[CDataSyncEmulator]:
    """The ``pascal`` dialect (every v2 list paged by 2), paging links on the listener, three runs."""
    with CDataSyncEmulator(
        tmp_path_factory.mktemp("paging-cdata"),
        TOKEN,
        seed_demo=True,
        scheduler=False,
        dialect="pascal",
        link_base=listener.base,
    ) as server:
        assert server.core is not None
        job = next(j for j in server.state()["jobs"] if j["name"] == "DemoScheduledReplication")
        for _ in range(RUNS):
            server.wait_run(server.core.engine.start("job", job["id"])["id"])
        yield server


def cdata_expected(server: CDataSyncEmulator) -> dict[str, Any]:
    state = server.state()
    job = next(j for j in state["jobs"] if j["name"] == "DemoScheduledReplication")
    replication = next(j for j in state["jobs"] if j["name"] == "DemoReplication")
    return {
        "jobs": sorted(j["name"] for j in state["jobs"]),
        "runs": [str(r["id"]) for r in server.runs(job["id"])],
        "job": job,
        "replication": replication,
    }


def test_cdata_sync_v2_lists_follow_every_page_on_the_configured_server(
    cdata: CDataSyncEmulator, nothing_reaches_the_listener: RecordingListener
) -> None:
    expected = cdata_expected(cdata)
    assert len(expected["jobs"]) > 2 and len(expected["runs"]) > 2  # more than one page each
    job_list = r"GET /api\.rsc/v2/(workspaces/[^/]+/)?jobs"
    before_jobs = pages(cdata, job_list)
    config = ClientConfig(base_url=cdata.base_url, token=TOKEN)
    with CDataSyncClient(config) as client:
        jobs = client.jobs.list()
        served = pages(cdata, job_list) - before_jobs
        target = client.resolve_target("job", "DemoScheduledReplication")
        runs = client.list_runs(target)
        tasks = client.jobs.tasks.list(expected["replication"]["id"])
    assert sorted(job.name for job in jobs) == expected["jobs"]
    assert sorted(str(run.id) for run in runs) == sorted(expected["runs"])
    assert sorted(task.table or "" for task in tasks) == ["customers", "order_items", "orders", "products"]
    # Every page was asked of the emulator itself: ceil(n / 2) requests for the job list.
    assert served == math.ceil(len(expected["jobs"]) / 2)


async def test_cdata_sync_async_client_follows_every_page_on_the_configured_server(
    cdata: CDataSyncEmulator, nothing_reaches_the_listener: RecordingListener
) -> None:
    expected = cdata_expected(cdata)
    async with AsyncCDataSyncClient(ClientConfig(base_url=cdata.base_url, token=TOKEN)) as client:
        jobs = await client.jobs.list()
        target = Target("job", expected["job"]["id"], expected["job"]["name"])
        runs = await client.list_runs(target)
    assert sorted(job.name for job in jobs) == expected["jobs"]
    assert sorted(str(run.id) for run in runs) == sorted(expected["runs"])


def test_cdata_sync_hook_follows_every_page_on_the_configured_server(
    cdata: CDataSyncEmulator, nothing_reaches_the_listener: RecordingListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = {"conn_type": "cdata_sync", "host": cdata.base_url, "password": TOKEN}
    monkeypatch.setenv("AIRFLOW_CONN_CDATA_SYNC_DEFAULT", json.dumps(conn))
    expected = cdata_expected(cdata)
    client = CDataSyncHook().get_client()
    target = client.resolve_target("job", "DemoScheduledReplication")
    assert sorted(str(run.id) for run in client.list_runs(target)) == sorted(expected["runs"])
    assert sorted(job.name for job in CDataSyncHook().get_v2_client().jobs.list()) == expected["jobs"]


# ----------------------------------------------------------------------------------------- AI Squared
@pytest.fixture(scope="module")
def aisquared(
    tmp_path_factory: pytest.TempPathFactory, listener: RecordingListener
) -> Iterator[AISquaredEmulator]:
    """The ``oss`` mode (login, absolute ``links``), paging links on the listener."""
    with AISquaredEmulator(
        tmp_path_factory.mktemp("paging-aisquared"),
        mode="oss",
        email=EMAIL,
        password=PASSWORD,
        step_seconds=0.01,
        trigger_delay=0.01,
        link_base=listener.base,
    ) as server:
        yield server


def oss_config(server: AISquaredEmulator) -> AISquaredConfig:
    return AISquaredConfig(
        base_url=server.api_url, workspace_id=server.workspace_id, email=EMAIL, password=PASSWORD
    )


@pytest.fixture(scope="module")
def aisquared_runs(aisquared: AISquaredEmulator) -> dict[str, Any]:
    """Three syncs, three finished runs of the first (each with the demo's 250 records)."""
    demo = seed_demo(aisquared)
    definition = demo_sync_definition(demo)
    with AISquaredClient(oss_config(aisquared)) as client:
        syncs = [client.syncs.create(definition) for _ in range(3)]
        target = sync_target(syncs[0])
        runs = []
        for _ in range(RUNS):
            run = client.start_run(target)
            aisquared.wait_for(lambda: aisquared.runs(syncs[0].id)[-1]["status"] == "success")
            runs.append(str(run.id))
    return {"syncs": sorted(str(s.id) for s in syncs), "sync": syncs[0], "runs": sorted(runs), "demo": demo}


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> int:
    """The client asks for pages of 2 (its default is 100): every list here spans several pages."""
    import airflow_provider_cdata_sync.aisquared.client as module

    monkeypatch.setattr(module, "PER_PAGE", 2)
    return 2


def test_aisquared_lists_follow_every_page_on_the_configured_server(
    aisquared: AISquaredEmulator,
    aisquared_runs: dict[str, Any],
    small_pages: int,
    nothing_reaches_the_listener: RecordingListener,
) -> None:
    sync = aisquared_runs["sync"]
    records_before = pages(aisquared, r"GET /api/v1/syncs/\d+/sync_runs/\d+/sync_records")
    with AISquaredClient(oss_config(aisquared)) as client:
        syncs = client.syncs.list()
        runs = client.runs.list(sync.id)
        records = client.records.list(sync.id, aisquared_runs["runs"][0], per_page=25)
    assert sorted(str(s.id) for s in syncs) == aisquared_runs["syncs"]
    assert sorted(str(r.id) for r in runs) == aisquared_runs["runs"]
    demo = aisquared_runs["demo"]
    assert len(records) == demo.customers
    assert len({r.id for r in records}) == demo.customers  # every page once, none twice
    served = pages(aisquared, r"GET /api/v1/syncs/\d+/sync_runs/\d+/sync_records") - records_before
    assert served == math.ceil(demo.customers / 25)


async def test_aisquared_async_client_and_hook_follow_every_page_on_the_configured_server(
    aisquared: AISquaredEmulator,
    aisquared_runs: dict[str, Any],
    small_pages: int,
    nothing_reaches_the_listener: RecordingListener,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn = {
        "conn_type": "aisquared",
        "host": aisquared.api_url,
        "login": EMAIL,
        "password": PASSWORD,
        "extra": {"workspace_id": aisquared.workspace_id},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AISQUARED_DEFAULT", json.dumps(conn))
    sync = aisquared_runs["sync"]
    demo = aisquared_runs["demo"]
    hook_client = AISquaredHook().get_client()
    assert sorted(str(s.id) for s in hook_client.syncs.list()) == aisquared_runs["syncs"]
    assert sorted(str(r.id) for r in hook_client.runs.list(sync.id)) == aisquared_runs["runs"]
    async with AsyncAISquaredClient(oss_config(aisquared)) as client:
        assert sorted(str(s.id) for s in await client.syncs.list()) == aisquared_runs["syncs"]
        records = await client.records.list(sync.id, aisquared_runs["runs"][-1], per_page=40)
    assert len({r.id for r in records}) == len(records) == demo.customers
    hooked = await AISquaredHook().aget_client()
    async with hooked:
        assert sorted(str(r.id) for r in await hooked.runs.list(sync.id)) == aisquared_runs["runs"]
