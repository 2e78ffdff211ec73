"""Fault injection and call counting, as an ASGI wrapper that sits outside the FastAPI app.

The wrapper also strips the context path. ``reset`` closes the TCP connection with an RST and no
answer: uvicorn does not expose the transport in the ASGI scope, but its ``send`` callable is a
bound method of the request cycle that owns the transport, so we reach it from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .util import bad_request

ACTIONS = ("status", "delay", "reset", "malformed", "reset_after")


@dataclass
class Fault:
    """One injected fault; it matches ``count`` requests then disappears."""

    id: int
    path: str
    method: str | None
    count: int
    action: str
    status: int = 503
    retry_after: float | None = None
    delay: float = 1.0
    body: Any = None
    pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.pattern = re.compile(self.path)

    def as_dict(self) -> dict[str, Any]:
        """JSON form with the remaining count."""
        return {
            "id": self.id,
            "path": self.path,
            "method": self.method,
            "remaining": self.count,
            "action": self.action,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "body": self.body,
        }


class FaultRegistry:
    """Thread-safe list of faults plus per-path call counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next = 1
        self.calls: Counter[str] = Counter()

    def add(self, spec: dict[str, Any]) -> Fault:
        """Validate and register a fault spec (see the README)."""
        action = str(spec.get("action") or "status").lower()
        if action not in ACTIONS:
            raise bad_request("action", f"expected one of {', '.join(ACTIONS)}")
        path = spec.get("path")
        if not isinstance(path, str) or not path:
            raise bad_request("path", "a regular expression matched against the request path is required")
        try:
            re.compile(path)
        except re.error as exc:
            raise bad_request("path", f"invalid regular expression: {exc}") from None
        method = spec.get("method")
        with self._lock:
            fault = Fault(
                id=self._next,
                path=path,
                method=str(method).upper() if method else None,
                count=max(1, int(spec.get("count") or 1)),
                action=action,
                status=int(spec.get("status") or 503),
                retry_after=spec.get("retry_after"),
                delay=float(spec.get("delay") or 0.0) if "delay" in spec else 1.0,
                body=spec.get("body"),
            )
            self._next += 1
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        """Registered faults."""
        with self._lock:
            return [f.as_dict() for f in self._faults]

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault matching the request (its count is consumed)."""
        with self._lock:
            for fault in self._faults:
                if fault.method and fault.method != method:
                    continue
                if not fault.pattern.search(path):
                    continue
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def count(self, method: str, path: str) -> None:
        """Count one API call."""
        with self._lock:
            self.calls[f"{method} {path}"] += 1

    def stats(self) -> dict[str, Any]:
        """Calls per ``METHOD path`` and the total."""
        with self._lock:
            return {"total": sum(self.calls.values()), "calls": dict(self.calls)}

    def reset_stats(self) -> None:
        """Forget the counters."""
        with self._lock:
            self.calls.clear()


async def abort_connection(send: Send) -> None:
    """Reset the client's TCP connection (RST, no answer)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("cannot reach the transport to reset the connection")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # Let uvicorn's connection_lost run, so it does not try to answer a 500 on the dead socket.
    for _ in range(3):
        await asyncio.sleep(0)


class EmulatorASGI:
    """Outermost ASGI app: context path, call counting and faults around the FastAPI app."""

    def __init__(self, app: ASGIApp, registry: FaultRegistry, context_path: str) -> None:
        self.app = app
        self.registry = registry
        self.context_path = context_path.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if self.context_path:
            if path != self.context_path and not path.startswith(self.context_path + "/"):
                await _json(send, 404, {"error": {"code": "NotFound", "message": f"No such path: {path}"}})
                return
            scope = dict(scope, root_path=self.context_path)
            path = path[len(self.context_path) :] or "/"
        if path.startswith("/_emulator") or path.startswith("/console"):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        self.registry.count(method, path)
        fault = self.registry.take(method, path)
        if fault is None:
            await self.app(scope, receive, send)
            return
        await self._apply(fault, scope, receive, send)

    async def _apply(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        if fault.action == "delay":
            # A slow server has the whole request before it is slow: read the body first, so a client that
            # gives up meanwhile does not make the request vanish (the server still acts on it).
            receive = await _buffered(receive)
            await asyncio.sleep(fault.delay)
            await self.app(scope, receive, send)
        elif fault.action == "reset":
            await abort_connection(send)
        elif fault.action == "reset_after":

            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)
            await abort_connection(send)
        elif fault.action == "malformed":
            body = fault.body if isinstance(fault.body, str) else '{"value": [ <html>Proxy error</html>'
            await _raw(send, 200, body.encode(), "application/json")
        else:
            headers = {}
            if fault.retry_after is not None:
                seconds = float(fault.retry_after)
                headers["retry-after"] = str(int(seconds)) if seconds.is_integer() else str(seconds)
            message = f"Injected fault: HTTP {fault.status}"
            payload = (
                fault.body
                if fault.body is not None
                else {"error": {"code": f"Http{fault.status}", "message": message}}
            )
            await _json(send, fault.status, payload, headers)


async def _json(send: Send, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
    body = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    await _raw(send, status, body, "application/json", headers)


async def _raw(
    send: Send, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None
) -> None:
    raw_headers = [(b"content-type", ctype.encode()), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


async def _buffered(receive: Receive) -> Receive:
    """Read the whole request body now; the returned ``receive`` replays it, then waits for a disconnect."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return await receive()

    return replay
