"""The lean read path's HTTP/1.1 handling against a scripted server on loopback (real sockets): the answer
framings servers use, kept-alive connections the server closed, a server that does not answer, encoded
bodies, and where requests may go."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from airflow_provider_cdata_sync.client import AsyncCDataSyncClient, ClientConfig, RetrySettings
from airflow_provider_cdata_sync.client.control import Target
from airflow_provider_cdata_sync.client.lean import LeanFailure, LeanReader

#: An answer script: given the connection's number and the request's number on it, the bytes to send
#: (``("close", bytes)``: send them and close; None: close without answering; "hang": never answer).
Script = Callable[[int, int, bytes], bytes | tuple[str, bytes] | str | None]


@dataclass
class Scripted:
    """A loopback server that answers each request as the script says, and counts what it saw."""

    script: Script
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number, served = self.connections, 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head)
                served += 1
                answer = self.script(number, served, head)
                if answer == "hang":
                    await reader.read()  # until the client gives up and closes
                if isinstance(answer, tuple):
                    writer.write(answer[1])
                    return
                if not isinstance(answer, bytes):
                    return
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Script], asyncio.Future[Scripted]]]:
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> Scripted:
        scripted = Scripted(script)
        server = await asyncio.start_server(scripted.handle, "127.0.0.1", 0)
        scripted.port = server.sockets[0].getsockname()[1]
        servers.append(server)
        return scripted

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()


def answer(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers]
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


RUN = {"id": "41", "job_id": "j1", "status": "Success"}
RUN_BODY = json.dumps(RUN).encode()
TARGET = Target(kind="job", id="j1", name="Nightly", workspace="default")


def reader_for(server: Scripted, **options: float) -> LeanReader:
    return LeanReader(f"{server.url}/api.rsc", **options)  # type: ignore[arg-type]


async def test_chunked_answers_are_read_whole_and_the_connection_kept(serve: Callable[..., object]) -> None:
    chunked = answer(
        b'7\r\n{"a": 1\r\n1;ext=x\r\n}\r\n0\r\nX-Trailer: y\r\n\r\n', "Transfer-Encoding: chunked"
    )
    server: Scripted = await serve(lambda conn, n, head: chunked)  # type: ignore[operator]
    reader = reader_for(server)

    first = await reader.get("/api.rsc/a", {})
    second = await reader.get("/api.rsc/b", {})

    assert json.loads(first.body) == json.loads(second.body) == {"a": 1}
    assert server.connections == 1 and len(server.requests) == 2  # kept alive between them
    await reader.aclose()


async def test_an_answer_without_framing_runs_to_the_close(serve: Callable[..., object]) -> None:
    unframed = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + RUN_BODY
    server: Scripted = await serve(lambda conn, n, head: ("close", unframed))  # type: ignore[operator]
    reader = reader_for(server)

    # The scripted server closes after writing, which ends the body: both answers are whole.
    first = await reader.get("/api.rsc/a", {})
    second = await reader.get("/api.rsc/b", {})

    assert json.loads(first.body) == json.loads(second.body) == RUN
    assert server.connections == 2  # a body that runs to the close leaves no connection to keep
    await reader.aclose()


async def test_connection_close_is_honoured(serve: Callable[..., object]) -> None:
    closing = answer(RUN_BODY, "Connection: close")
    server: Scripted = await serve(lambda conn, n, head: closing)  # type: ignore[operator]
    reader = reader_for(server)

    for _ in range(3):
        assert json.loads((await reader.get("/api.rsc/a", {})).body) == RUN

    assert server.connections == 3 and len(server.requests) == 3
    await reader.aclose()


async def test_a_kept_connection_the_server_dropped_is_replaced_without_a_failure(
    serve: Callable[..., object],
) -> None:
    # The server answers the first request of each connection and drops the connection on the second
    # one without a word (an idle timeout racing the next request).
    server: Scripted = await serve(  # type: ignore[operator]
        lambda conn, n, head: answer(RUN_BODY) if n == 1 else None
    )
    reader = reader_for(server)

    answers = [json.loads((await reader.get("/api.rsc/a", {})).body) for _ in range(3)]

    assert answers == [RUN, RUN, RUN]
    assert reader.failures == 0 and reader.ready()
    assert server.connections == 3  # each dropped connection was replaced once
    await reader.aclose()


async def test_a_server_that_does_not_answer_hands_the_read_to_the_full_path(
    serve: Callable[..., object],
) -> None:
    # The first connection (the lean one) never answers; later ones (httpx's) do.
    server: Scripted = await serve(  # type: ignore[operator]
        lambda conn, n, head: "hang" if conn == 1 else answer(RUN_BODY)
    )
    config = ClientConfig(
        base_url=server.url, token="t0ken-lean", read_timeout=0.3, retry=RetrySettings(max_retries=0)
    )
    client = AsyncCDataSyncClient(config)
    assert client.use_lean_reads()
    try:
        run = await client.get_run(TARGET, "41")
        again = await client.get_run(TARGET, "41")
    finally:
        await client.aclose()

    assert run.id == again.id == "41" and run.state.value == "success"
    reader = client.lean_reader
    assert reader is not None and reader.failures == 1 and reader.requests == 0
    assert not reader.ready()  # it rests; the full path answered both
    assert server.connections == 2


async def test_encoded_answers_are_decoded_and_credentials_sent_as_headers(
    serve: Callable[..., object],
) -> None:
    packed = answer(gzip.compress(RUN_BODY), "Content-Encoding: gzip", "Content-Type: application/json")
    server: Scripted = await serve(lambda conn, n, head: packed)  # type: ignore[operator]
    for auth_mode, credential in (
        ("header", b"x-cdata-authtoken: t0ken-lean"),
        ("basic", b"Authorization: Basic "),
    ):
        client = AsyncCDataSyncClient(
            ClientConfig(base_url=server.url, token="t0ken-lean", auth_mode=auth_mode)
        )  # type: ignore[arg-type]
        client.use_lean_reads()
        try:
            run = await client.get_run(TARGET, "41")
        finally:
            await client.aclose()
        assert run.id == "41" and run.state.value == "success"
        assert client.lean_reader is not None and client.lean_reader.requests == 1
        head = server.requests[-1]
        assert head.startswith(b"GET /api.rsc/v2/jobs/j1/history/41 HTTP/1.1\r\n")
        assert credential in head and b"t0ken-lean" not in head.split(b"\r\n")[0]  # never in the URL


def test_only_the_configured_server_is_read() -> None:
    reader = LeanReader("https://sync.example.com:8443/sync/api.rsc")

    assert (
        reader.target("https://sync.example.com:8443/sync/api.rsc/v2/jobs", None) == "/sync/api.rsc/v2/jobs"
    )
    assert reader.target("https://sync.example.com:8443/x", {"page": "2", "q": "a b"}) == "/x?page=2&q=a%20b"
    assert reader.target("http://sync.example.com:8443/x", None) is None  # another scheme
    assert reader.target("https://sync.example.com/x", None) is None  # another port
    assert reader.target("https://sync.example.com.evil.test:8443/x", None) is None  # another host
    assert reader.target("https://evil.test/https://sync.example.com:8443/x", None) is None
    assert reader.target("https://sync.example.com:8443/x y", None) is None  # left to httpx's quoting


async def test_a_header_with_a_line_break_is_never_sent(serve: Callable[..., object]) -> None:
    server: Scripted = await serve(lambda conn, n, head: answer(RUN_BODY))  # type: ignore[operator]
    reader = reader_for(server)

    with pytest.raises(LeanFailure):
        await reader.get("/api.rsc/a", {"x-cdata-authtoken": "t0ken\r\nX-Injected: 1"})

    assert server.requests == []
    await reader.aclose()


@pytest.mark.parametrize("encoding", [None, "identity", "gzip", "deflate"])
def test_a_read_answer_reads_as_httpx_reads_it(encoding: str | None) -> None:
    import zlib

    import httpx

    from airflow_provider_cdata_sync.client.http import read_response

    packed = {
        None: RUN_BODY,
        "identity": RUN_BODY,
        "gzip": gzip.compress(RUN_BODY),
        "deflate": zlib.compress(RUN_BODY),
    }[encoding]
    headers = [("Content-Type", "application/json; charset=utf-8"), ("X-Seen", "yes")]
    if encoding:
        headers.append(("Content-Encoding", encoding))
    sent = httpx.Request("GET", "http://sync.example/api.rsc/v2/jobs/j1/history/41")
    for status in (200, 404):
        response = read_response(status, headers, packed, sent if status >= 400 else None)
        assert response.content == RUN_BODY
        assert response.json() == json.loads(RUN_BODY) and response.text == RUN_BODY.decode()
        assert response.headers["x-seen"] == "yes" and response.is_error is (status == 404)
        assert response.is_closed and response.is_stream_consumed  # nothing left to read or close
    assert response.request is sent
