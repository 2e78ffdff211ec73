"""The pollers' lean read path: plain GETs over raw asyncio keep-alive connections to the configured server.

A poller asks one small question per wait and interval (``GET .../runs/{id}``). Through an HTTP library
each such GET costs about five times what the bytes on the wire cost: URL parsing, header objects, auth
and redirect machinery, cookie jars, response objects (measured on the project machine: 0.68 ms of CPU per
lookup through httpx with the aiohttp transport, 1.75 ms with httpx's own pool, against 0.13 ms for a bare
asyncio request). This reader sends exactly one kind of request, a ``GET`` with headers only, and reads
exactly the answers a JSON API gives (``Content-Length``, chunked, or until the connection closes;
gzip/deflate decoded by the caller's response object).

It is only a way of sending, never a second client: :class:`~airflow_provider_cdata_sync.client.http.
AsyncRunner` offers it each attempt of a request under the one retry policy, and every answer it gets
(errors too) is judged, retried and explained exactly like an answer of the full httpx path. That path
takes whatever the reader declines (another method, a body, a login due, a proxy in the environment, an
unusual URL), every attempt it gets no answer for, and everything for 30 s after such a failure. It only
ever connects to the configured server's scheme, host and port: a URL elsewhere is declined, so a
credential never leaves for another host. No Airflow imports.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, urlencode, urlsplit

import httpx

#: Seconds an idle connection is kept (httpx's default; servers commonly close after 5-75 s).
KEEPALIVE_EXPIRY = 5.0
#: Idle connections kept at most (the pollers' lookups in flight are bounded below this).
MAX_IDLE = 64
#: Seconds the lean path steps aside after a transport failure (the full path's retries take over).
REST_AFTER_FAILURE = 30.0
#: Seconds between checks for answers overdue past the read timeout (one timer per reader, not per request).
SWEEP_PERIOD = 1.0
#: Longest response head read (status line and headers).
MAX_HEAD = 64 * 1024
#: What may appear in a request target unquoted; anything else is left to the full path's URL handling.
_PLAIN_TARGET = re.compile(r"[A-Za-z0-9\-._~/!$&'()*+,;=:@%?]*")


class AnswerMeter(Protocol):
    """What the reader reports each answer to (the poller's meter), and whose pause it honours."""

    pause_until: float

    def note(self, status: int, size: int, retry_after: str | None) -> None:
        """Count one answer (a 429/503 starts a pause)."""
        ...

    async def gate(self) -> None:
        """Wait out a pause the server asked for."""
        ...


@dataclass
class LeanAnswer:
    """A complete answer: status, headers as received, body as received (maybe gzip-encoded)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class LeanFailure(Exception):
    """The lean path got no usable answer (the full path takes over)."""


class _StaleConnection(LeanFailure):
    """A kept-alive connection the server had closed before answering (safe to try again: nothing read)."""


class _Connection:
    __slots__ = ("idle_since", "reader", "timed_out", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0
        self.timed_out = False

    def close(self) -> None:
        self.writer.close()


class LeanReader:
    """Plain GETs to one server over kept-alive raw asyncio connections.

    :param api_root: the configured API root; only URLs on its scheme, host and port are read.
    :param verify: TLS verification as the client has it (``True``, ``False`` or a CA bundle path).
    :param connect_timeout: seconds for a TCP/TLS connection.
    :param read_timeout: seconds for a whole answer, checked every :data:`SWEEP_PERIOD` (then the full path,
        with its own timeouts and retries, takes the request).
    :param meter: told about every answer; its pause (429/503) holds requests back.
    """

    def __init__(
        self,
        api_root: str,
        *,
        verify: bool | str = True,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        meter: AnswerMeter | None = None,
    ) -> None:
        parts = urlsplit(api_root)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {api_root!r}")
        self.secure = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.secure else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        default_port = parts.port is None or parts.port == (443 if self.secure else 80)
        self.host_header = host if default_port else f"{host}:{self.port}"
        # Prefixes of the URLs this reader may send to (with and without an explicit default port).
        self.origin = f"{parts.scheme}://{self.host_header}"
        self._origins = (f"{self.origin}/", f"{parts.scheme}://{host}:{self.port}/")
        self._ssl: ssl.SSLContext | None = httpx.create_ssl_context(verify=verify) if self.secure else None
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.meter = meter
        self.requests = 0
        self.failures = 0
        self._idle: list[_Connection] = []
        self._busy: dict[_Connection, float] = {}  # connection -> when its answer is overdue
        self._sweeper: asyncio.TimerHandle | None = None
        self._resting_until = 0.0
        self._closed = False

    @classmethod
    def unless_proxied(cls, api_root: str, **kwargs: object) -> LeanReader | None:
        """A reader for ``api_root``, or None when the environment sends that host through a proxy (the
        full path honours proxies; this reader does not speak to them)."""
        host = urlsplit(api_root).hostname or ""
        proxies = urllib.request.getproxies_environment()
        scheme = urlsplit(api_root).scheme
        if (proxies.get(scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(host):
            return None
        return cls(api_root, **kwargs)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ what callers use
    def ready(self) -> bool:
        """Whether the reader takes requests now (not closed, not resting after a failure)."""
        if self._closed:
            return False
        return not self._resting_until or asyncio.get_running_loop().time() >= self._resting_until

    def target(self, url: str, params: Mapping[str, str] | None) -> str | None:
        """The request target (path and query) of an absolute URL on the configured server, or None when
        the URL is elsewhere or needs the full path's quoting."""
        if not url.startswith(self._origins):
            return None
        start = url.index("/", url.index("//") + 2)
        target = url[start:]
        if "#" in target or not _PLAIN_TARGET.fullmatch(target):
            return None
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params, quote_via=quote)
        return target

    def url(self, target: str) -> str:
        """The absolute URL of a request target."""
        return f"{self.origin}{target}"

    async def get(self, target: str, headers: Mapping[str, str]) -> LeanAnswer:
        """Send ``GET target`` with these headers and return the complete answer.

        :param target: path and query, from :meth:`target`.
        :param headers: every header to send but ``Host``, ``Accept-Encoding`` and ``Connection``.
        :raises LeanFailure: no answer (the caller takes its full path).
        """
        head = self._head(target, headers)
        meter = self.meter
        if meter is not None and meter.pause_until:
            await meter.gate()
        try:
            try:
                answer = await self._exchange(head, reuse=True)
            except _StaleConnection:  # the server closed it while idle; a GET is safe to send again
                answer = await self._exchange(head, reuse=False)
        except (LeanFailure, OSError, EOFError, TimeoutError, ValueError, ssl.SSLError) as exc:
            self.failures += 1
            self._resting_until = asyncio.get_running_loop().time() + REST_AFTER_FAILURE
            raise LeanFailure(type(exc).__name__) from None  # never the text: it could quote a header
        self.requests += 1
        if meter is not None:
            meter.note(answer.status, len(answer.body), _header(answer.headers, "retry-after"))
        return answer

    async def aclose(self) -> None:
        """Close the idle connections; connections in use close when their answer is read."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    # ------------------------------------------------------------------ one exchange
    def _head(self, target: str, headers: Mapping[str, str]) -> bytes:
        lines = [f"GET {target} HTTP/1.1", f"Host: {self.host_header}", "Accept-Encoding: gzip, deflate"]
        for name, value in headers.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                raise LeanFailure("a header holds a line break")  # the full path rejects it clearly
            lines.append(f"{name}: {value}")
        lines.append("\r\n")
        return "\r\n".join(lines).encode("latin-1")

    async def _exchange(self, head: bytes, *, reuse: bool) -> LeanAnswer:
        connection, reused = (self._take_idle() if reuse else None), True
        if connection is None:
            connection, reused = await self._connect(), False
        self._watch(connection)
        try:
            connection.writer.write(head)
            answer, keep = await _read_answer(connection.reader, reused)
        except BaseException as exc:
            connection.close()  # in an unknown state (cancelled, cut, timed out): never reused
            if connection.timed_out and isinstance(exc, Exception):
                raise LeanFailure("no answer within the read timeout") from None
            raise
        finally:
            del self._busy[connection]
        if keep and not self._closed and len(self._idle) < MAX_IDLE:
            connection.idle_since = asyncio.get_running_loop().time()
            self._idle.append(connection)
        else:
            connection.close()
        return answer

    def _watch(self, connection: _Connection) -> None:
        """Note the connection's deadline; a single timer per reader cuts the overdue ones (cheaper than a
        timer per request, which the poller's thousands of small GETs would pay each)."""
        loop = asyncio.get_running_loop()
        self._busy[connection] = loop.time() + self.read_timeout
        if self._sweeper is None:
            self._sweeper = loop.call_later(SWEEP_PERIOD, self._sweep)

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for connection, deadline in list(self._busy.items()):
            if deadline <= now and not connection.timed_out:
                connection.timed_out = True
                connection.writer.transport.abort()  # the waiting read ends at once
        self._sweeper = loop.call_later(SWEEP_PERIOD, self._sweep) if self._busy else None

    def _take_idle(self) -> _Connection | None:
        now = asyncio.get_running_loop().time()
        while self._idle:
            connection = self._idle.pop()
            if now - connection.idle_since < KEEPALIVE_EXPIRY and not connection.reader.at_eof():
                return connection
            connection.close()
        return None

    async def _connect(self) -> _Connection:
        async with asyncio.timeout(self.connect_timeout):
            reader, writer = await asyncio.open_connection(
                self.host,
                self.port,
                ssl=self._ssl,
                server_hostname=self.host if self._ssl else None,
                limit=MAX_HEAD,
            )
        return _Connection(reader, writer)


async def _read_answer(reader: asyncio.StreamReader, reused: bool) -> tuple[LeanAnswer, bool]:
    """Read one HTTP/1.1 answer; returns it and whether the connection may be kept."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if reused and not exc.partial:
            raise _StaleConnection("closed while idle") from None
        raise LeanFailure("the answer was cut") from None
    except ConnectionResetError:
        if reused:
            raise _StaleConnection("reset while idle") from None
        raise
    except asyncio.LimitOverrunError:
        raise LeanFailure("the answer's head is too long") from None
    lines = head[:-4].decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    status = int(rest[:3])
    if not version.startswith("HTTP/1.") or status < 200:
        raise LeanFailure("not a final HTTP/1.x answer")
    headers: list[tuple[str, str]] = []
    length: int | None = None
    chunked = False
    keep = version == "HTTP/1.1"
    for line in lines[1:]:
        name, _, value = line.partition(":")
        value = value.strip()
        headers.append((name, value))
        lowered = name.strip().lower()
        if lowered == "content-length":
            length = int(value)
        elif lowered == "transfer-encoding":
            chunked = "chunked" in value.lower()
        elif lowered == "connection":
            tokens = value.lower()
            keep = "keep-alive" in tokens if version == "HTTP/1.0" else "close" not in tokens
    if status in (204, 304):
        body = b""
    elif chunked:
        body = await _read_chunked(reader)
    elif length is not None:
        body = await reader.readexactly(length)
    else:  # no framing: the body runs to the end of the connection
        body = await reader.read()
        keep = False
    return LeanAnswer(status, headers, body), keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, if any
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise LeanFailure("a chunk is not framed")


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


__all__ = ["AnswerMeter", "LeanAnswer", "LeanFailure", "LeanReader"]
