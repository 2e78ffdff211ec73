"""Test helpers for the client tests: a recording fake server on ``httpx.MockTransport``.

(A module with a unique name, so that test modules can import it; conftest modules cannot be imported
reliably when test directories are not packages.)
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from airflow_provider_cdata_sync.client import ClientConfig, RetrySettings

BASE_URL = "http://sync.test:8181/ctx"
API_ROOT_PATH = "/ctx/api.rsc/"
TOKEN = "s3cr3t-T0KEN-value"

Reply = Any  # httpx.Response | dict | list | str | Exception | Callable[[httpx.Request], Any]


class FakeServer:
    """A scripted server: replies are queued per (METHOD, path below api.rsc); every request is recorded.

    A reply is an ``httpx.Response``, a JSON-able value (answered with 200), an exception (raised by the
    transport, like a broken network), or a callable taking the request and returning one of those.
    The last reply queued for a route is repeated when the queue runs dry.
    """

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Reply]] = {}
        self.requests: list[httpx.Request] = []

    def add(self, method: str, path: str, *replies: Reply) -> FakeServer:
        self.routes.setdefault((method.upper(), path), []).extend(replies)
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        raw = request.url.raw_path.decode().split("?", 1)[0]
        assert raw.startswith(API_ROOT_PATH), raw
        key = (request.method, raw[len(API_ROOT_PATH) :])
        queue = self.routes.get(key)
        if not queue:
            return httpx.Response(404, json={"error": {"message": f"no route {key}"}})
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if callable(reply) and not isinstance(reply, httpx.Response):
            reply = reply(request)
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        return httpx.Response(200, json=reply)

    # -- what was sent ------------------------------------------------------------------------
    @property
    def calls(self) -> list[tuple[str, str]]:
        """(method, raw path below api.rsc) of every request, in order."""
        return [
            (r.method, r.url.raw_path.decode().split("?", 1)[0][len(API_ROOT_PATH) :]) for r in self.requests
        ]


def body_of(request: httpx.Request) -> Any:
    """The JSON body of a recorded request (None when it has none)."""
    content = request.read()
    return json.loads(content) if content else None


def params_of(request: httpx.Request) -> dict[str, str]:
    """The query parameters of a recorded request."""
    return dict(request.url.params)


def make_config(**overrides: Any) -> ClientConfig:
    """A config for the fake server with fast retries (no sleeping of any length worth noticing)."""
    values: dict[str, Any] = {
        "base_url": BASE_URL,
        "token": TOKEN,
        "retry": RetrySettings(max_retries=3, backoff_base=0.001, backoff_max=0.002),
    }
    values.update(overrides)
    return ClientConfig(**values)
