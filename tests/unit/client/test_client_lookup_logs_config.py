"""Name resolution, huge logs (tail only), and the client configuration."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from cdata_fakes import FakeServer

from airflow_provider_cdata_sync.client import (
    CDataSyncConfigError,
    CDataSyncLookupError,
    CDataSyncNotFoundError,
    ClientConfig,
    ConfigError,
    RetrySettings,
)
from airflow_provider_cdata_sync.client import http as http_module
from airflow_provider_cdata_sync.client.config import normalise_base_url

JOBS = "v2/workspaces/default/jobs"
TASKS = "v2/jobs/j1/tasks"
JOB_LIST = [
    {"id": "11111111-aaaa", "name": "Nightly"},
    {"id": "22222222-bbbb", "name": "Hourly"},
    {"id": "33333333-cccc", "name": "hourly"},
    {"id": "44444444-dddd", "name": "Dup"},
    {"id": "55555555-eeee", "name": "Dup"},
    {"id": "Nightly-2", "name": "11111111-aaaa"},  # a name that equals another job's id
]


# ------------------------------------------------------------------------------- resolution
@pytest.mark.parametrize(
    ("wanted", "expected_id"),
    [
        ("22222222-bbbb", "22222222-bbbb"),  # by id
        ("Nightly", "11111111-aaaa"),  # exact name
        ("NIGHTLY", "11111111-aaaa"),  # case-insensitive
        ("  Nightly ", "11111111-aaaa"),  # surrounding blanks
        ("Hourly", "22222222-bbbb"),  # exact beats case-insensitive
        ("hourly", "33333333-cccc"),
        ("11111111-aaaa", "11111111-aaaa"),  # an id beats a name
    ],
)
def test_resolve_job(wanted: str, expected_id: str, server: FakeServer, client: Any) -> None:
    server.add("GET", JOBS, JOB_LIST)
    assert client.jobs.resolve(wanted).id == expected_id


@pytest.mark.parametrize("wanted", ["Dup", "HOURLY"])
def test_ambiguous_names(wanted: str, server: FakeServer, client: Any) -> None:
    server.add("GET", JOBS, JOB_LIST)
    with pytest.raises(CDataSyncLookupError) as info:
        client.jobs.resolve(wanted)
    message = str(info.value)
    assert "ambiguous" in message and "id" in message
    assert len(info.value.ambiguous) == 2


def test_unknown_name_lists_the_known_names(server: FakeServer, client: Any) -> None:
    server.add("GET", JOBS, JOB_LIST)
    with pytest.raises(CDataSyncLookupError) as info:
        client.jobs.resolve("Weekly")
    message = str(info.value)
    assert "No job with id or name 'Weekly'" in message
    assert "'Nightly'" in message and "'Hourly'" in message
    assert isinstance(info.value, LookupError)


def test_unknown_name_in_an_empty_workspace(server: FakeServer, client: Any) -> None:
    server.add("GET", "v2/workspaces/default/pipelines", [])
    with pytest.raises(CDataSyncLookupError, match="There are no pipelines here"):
        client.pipelines.resolve("P")


def test_the_list_of_known_names_is_bounded(server: FakeServer, client: Any) -> None:
    server.add(
        "GET", "v2/workspaces/default/connections", [{"id": str(n), "name": f"C{n:03}"} for n in range(120)]
    )
    with pytest.raises(CDataSyncLookupError) as info:
        client.connections.resolve("missing")
    assert "and 70 more" in str(info.value)
    assert len(str(info.value)) < 2000


async def test_resolve_in_the_async_client(server: FakeServer, async_client: Any) -> None:
    server.add("GET", "v2/workspaces/ws/transformations", [{"id": "t1", "name": "Clean Up"}])
    assert (await async_client.transformations.resolve("clean up", workspace="ws")).id == "t1"


def test_resolve_job_tasks_by_id_and_table(server: FakeServer, client: Any) -> None:
    server.add(
        "GET",
        TASKS,
        [
            {"id": "870237973789151200", "query": "REPLICATE [Accounts] SELECT * FROM [Accounts]"},
            {"id": "870875808946851841", "query": "REPLICATE [Contacts]"},
            {"id": "870875808946851842", "table": "Leads", "query": "SELECT 1"},
        ],
    )
    tasks = client.jobs.tasks.resolve("j1", ["contacts", "870237973789151200", "Leads", 870875808946851842])
    assert [task.id for task in tasks] == [
        "870875808946851841",
        "870237973789151200",
        "870875808946851842",
        "870875808946851842",
    ]
    assert server.calls == [("GET", TASKS)]  # one list for all references


def test_resolve_job_tasks_unknown_lists_the_tables(server: FakeServer, client: Any) -> None:
    server.add(
        "GET",
        TASKS,
        [{"id": "1", "query": "REPLICATE [Accounts]"}, {"id": "2", "query": "REPLICATE [Leads]"}],
    )
    with pytest.raises(CDataSyncLookupError) as info:
        client.jobs.tasks.resolve("j1", ["Accounts", "Opportunities"])
    message = str(info.value)
    assert (
        "No task with id or name 'Opportunities'" in message
        and "'Accounts'" in message
        and "'Leads'" in message
    )


# ---------------------------------------------------------------------------------- logs
LOG_PATH = "v2/connections/c1/logs/big.log/download"
CHUNK = 64 * 1024
CHUNKS = 80  # 5 MiB in all


def chunk(n: int) -> bytes:
    return (f"{n:06d}" + "x" * (CHUNK - 7) + "\n").encode()


def full_log() -> bytes:
    return b"".join(chunk(n) for n in range(CHUNKS))


@pytest.fixture
def tail_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size the tail buffer holds after each chunk (to prove memory stays bounded)."""
    sizes: list[int] = []
    original = http_module.TailBuffer.add

    def add(self: Any, data: bytes) -> None:
        original(self, data)
        sizes.append(self.size)

    monkeypatch.setattr(http_module.TailBuffer, "add", add)
    return sizes


@pytest.mark.parametrize("tail", [1000, CHUNK, 3 * CHUNK + 5])
def test_download_log_tail_sync(tail: int, server: FakeServer, client: Any, tail_sizes: list[int]) -> None:
    produced: list[int] = []

    def stream() -> Iterator[bytes]:
        for n in range(CHUNKS):
            produced.append(n)
            yield chunk(n)

    server.add("POST", LOG_PATH, lambda _r: httpx.Response(200, content=stream()))
    text = client.connections.download_log("c1", "big.log", tail_bytes=tail)
    assert text.encode() == full_log()[-tail:]
    assert len(produced) == CHUNKS  # the whole body was streamed through
    assert max(tail_sizes) <= tail  # but never more than the tail was held


@pytest.mark.parametrize("tail", [1000, 2 * CHUNK])
async def test_download_log_tail_async(
    tail: int, server: FakeServer, async_client: Any, tail_sizes: list[int]
) -> None:
    async def stream() -> AsyncIterator[bytes]:
        for n in range(CHUNKS):
            yield chunk(n)

    server.add("POST", LOG_PATH, lambda _r: httpx.Response(200, content=stream()))
    text = await async_client.connections.download_log("c1", "big.log", tail_bytes=tail)
    assert text.encode() == full_log()[-tail:]
    assert max(tail_sizes) <= tail


def test_download_log_shorter_than_the_tail(server: FakeServer, client: Any) -> None:
    server.add("POST", LOG_PATH, lambda _r: httpx.Response(200, content=iter([b"short ", b"log"])))
    assert client.connections.download_log("c1", "big.log", tail_bytes=10_000) == "short log"


def test_download_log_without_tail_is_whole(server: FakeServer, client: Any) -> None:
    server.add("POST", LOG_PATH, lambda _r: httpx.Response(200, content=full_log()))
    assert len(client.connections.download_log("c1", "big.log")) == CHUNK * CHUNKS


def test_download_log_tail_error_status_is_raised(server: FakeServer, client: Any) -> None:
    server.add("POST", LOG_PATH, lambda _r: httpx.Response(404, json={"error": {"message": "No such log"}}))
    with pytest.raises(CDataSyncNotFoundError, match="No such log"):
        client.connections.download_log("c1", "big.log", tail_bytes=100)


def test_tail_buffer_counts_what_it_dropped() -> None:
    buffer = http_module.TailBuffer(5)
    for piece in (b"abc", b"defg", b"h", b"ijklmnop"):
        buffer.add(piece)
        assert buffer.size <= 5
    request = httpx.Request("GET", "http://x")
    response = buffer.response(httpx.Response(200, headers={"Content-Length": "16"}, request=request))
    assert response.content == b"lmnop"
    assert response.headers[http_module.TRUNCATED_HEADER] == "11"
    assert response.headers["content-length"] == "5"


# -------------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://sync-host", "http://sync-host:8181"),
        ("sync-host", "http://sync-host:8181"),
        ("https://sync-host", "https://sync-host:8181"),
        ("https://sync-host:443", "https://sync-host:443"),
        ("http://sync-host:9000/", "http://sync-host:9000"),
        ("http://sync-host:8181/sync", "http://sync-host:8181/sync"),
        ("http://sync-host/sync/", "http://sync-host:8181/sync"),
        ("http://sync-host:8181/sync/api.rsc", "http://sync-host:8181/sync"),
        ("http://sync-host:8181/sync/api.rsc/", "http://sync-host:8181/sync"),
        ("http://sync-host:8181/api.rsc/v2", "http://sync-host:8181"),
        ("http://sync-host/API.RSC", "http://sync-host:8181"),
        ("  http://sync-host  ", "http://sync-host:8181"),
        ("http://user:secret@sync-host/x", "http://sync-host:8181/x"),
        ("http://[::1]", "http://[::1]:8181"),
        ("http://10.0.0.5:8181/a/b", "http://10.0.0.5:8181/a/b"),
    ],
)
def test_normalise_base_url(given: str, expected: str) -> None:
    assert normalise_base_url(given) == expected


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        ("", "No CData Sync base URL"),
        ("   ", "No CData Sync base URL"),
        ("ftp://sync-host", "must start with http:// or https://"),
        ("file:///etc/passwd", "must start with http:// or https://"),
        ("http://", "has no host name"),
        ("http://:8181/sync", "has no host name"),
        ("http://sync-host:99999", "invalid port"),
        ("http://sync-host:abc", "invalid port"),
        ("http://sync-host/?@authtoken=x", "must not have a query"),
        ("http://sync-host/#frag", "must not have a query or fragment"),
    ],
)
def test_bad_base_urls(given: str, fragment: str) -> None:
    with pytest.raises(CDataSyncConfigError, match=fragment.replace("?", r"\?")):
        normalise_base_url(given)


def test_client_config_builds_the_api_root() -> None:
    config = ClientConfig(base_url="http://h/ctx/api.rsc", token="t")
    assert config.base_url == "http://h:8181/ctx"
    assert config.api_root == "http://h:8181/ctx/api.rsc"
    assert config.console_base == "http://h:8181/ctx"
    assert (config.workspace, config.api_version, config.auth_mode, config.verify) == (
        "default",
        "v2",
        "header",
        True,
    )


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"token": ""}, "No CData Sync auth token: set the connection's password"),
        ({"auth_mode": "bearer"}, "auth_mode must be 'header' or 'basic'"),
        ({"api_version": "v9"}, "api_version must be 'v1', 'v2' or 'auto'"),
        ({"read_timeout": 0}, "read_timeout must be a positive number"),
        ({"connect_timeout": -1}, "connect_timeout must be a positive number"),
        ({"base_url": "gopher://h"}, "http:// or https://"),
    ],
)
def test_bad_client_config(overrides: dict[str, Any], fragment: str) -> None:
    values: dict[str, Any] = {"base_url": "http://h", "token": "t", **overrides}
    with pytest.raises(CDataSyncConfigError, match=fragment):
        ClientConfig(**values)


def test_negative_max_retries() -> None:
    # RetrySettings is shared by every service's client, so it raises the service-neutral ConfigError
    # (the base of CDataSyncConfigError); the hook checks the connection extra first (CDataSyncConfigError).
    with pytest.raises(ConfigError, match="max_retries must be 0 or more"):
        RetrySettings(max_retries=-1)


def test_requests_go_to_the_context_path(server: FakeServer, make_client: Any) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=[])

    client = make_client(base_url="https://sync.example.com/sync/api.rsc/")
    client._http._transport = httpx.MockTransport(handler)
    client.workspaces.list()
    assert seen == ["https://sync.example.com:8181/sync/api.rsc/v2/workspaces"]
