"""Error mapping, token hygiene and authentication."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from cdata_fakes import TOKEN, FakeServer

from airflow_provider_cdata_sync.client import (
    CDataSyncAPIError,
    CDataSyncAuthenticationError,
    CDataSyncConflictError,
    CDataSyncError,
    CDataSyncMethodNotAllowedError,
    CDataSyncNotFoundError,
    CDataSyncResponseError,
    CDataSyncServerError,
    RetrySettings,
)

STATUS = "v2/jobs/j1/status"
EXECUTE = "v2/jobs/j1/execute"


def reply(code: int, body: Any = None, text: str | None = None) -> Any:
    if text is not None:
        return lambda _r: httpx.Response(code, text=text)
    return lambda _r: httpx.Response(code, json=body)


# ------------------------------------------------------------------------------- mapping
@pytest.mark.parametrize("code", [401, 403])
def test_auth_errors_say_to_check_the_token(code: int, server: FakeServer, client: Any) -> None:
    server.add("GET", STATUS, reply(code, {"error": {"code": "401", "message": "Unauthorized"}}))
    with pytest.raises(CDataSyncAuthenticationError) as info:
        client.jobs.status("j1")
    error = info.value
    assert error.status_code == code and error.server_message == "Unauthorized"
    message = str(error)
    assert f"CData Sync API error {code} on GET /ctx/api.rsc/v2/jobs/j1/status: Unauthorized" in message
    assert "Check the auth token" in message and "password" in message
    assert len(server.requests) == 1  # never retried


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (404, CDataSyncNotFoundError),
        (405, CDataSyncMethodNotAllowedError),
        (409, CDataSyncConflictError),
        (400, CDataSyncAPIError),
        (422, CDataSyncAPIError),
        (501, CDataSyncServerError),
    ],
)
def test_status_codes_map_to_errors(code: int, cls: type[Exception], server: FakeServer, client: Any) -> None:
    server.add("PUT", "v2/jobs/j1", reply(code, {"message": "nope"}))
    with pytest.raises(cls) as info:
        client.jobs.update("j1", name="x")
    assert type(info.value) is cls
    assert info.value.status_code == code  # type: ignore[attr-defined]
    assert (info.value.method, info.value.path) == ("PUT", "/ctx/api.rsc/v2/jobs/j1")  # type: ignore[attr-defined]
    assert str(code) in str(info.value) and "nope" in str(info.value)


def test_every_error_is_a_cdata_sync_error() -> None:
    for cls in (
        CDataSyncAPIError,
        CDataSyncNotFoundError,
        CDataSyncResponseError,
        CDataSyncAuthenticationError,
    ):
        assert issubclass(cls, CDataSyncError)


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"code": "InvalidJob", "message": "Job is running and cannot be updated."}},
        {"message": "Job is running and cannot be updated."},
        {"Message": "Job is running and cannot be updated."},
        {"detail": "Job is running and cannot be updated."},
        {"error": "Job is running and cannot be updated."},
        {"errors": [{"status": "400", "title": "Bad", "detail": "Job is running and cannot be updated."}]},
        "Job is running and cannot be updated.",
    ],
    ids=["error.message", "message", "Message", "detail", "error-string", "json-api", "json-string"],
)
def test_400_shows_the_server_message(body: Any, server: FakeServer, client: Any) -> None:
    server.add("PUT", "v2/jobs/j1", reply(400, body))
    with pytest.raises(CDataSyncAPIError) as info:
        client.jobs.update("j1", name="x")
    assert info.value.server_message.endswith("Job is running and cannot be updated.")
    assert "400 on PUT /ctx/api.rsc/v2/jobs/j1" in str(info.value)


def test_non_json_error_body_is_shown_as_text(server: FakeServer, client: Any) -> None:
    server.add("DELETE", "v2/jobs/j1", reply(400, text="<html>Bad request: job is in use</html>"))
    with pytest.raises(CDataSyncAPIError, match="job is in use"):
        client.jobs.delete("j1")


def test_error_without_a_body(server: FakeServer, client: Any) -> None:
    server.add("DELETE", "v2/jobs/j1", lambda _r: httpx.Response(409))
    with pytest.raises(CDataSyncConflictError, match=r"\(no message\)"):
        client.jobs.delete("j1")


@pytest.mark.parametrize("call", [lambda c: c.jobs.status("j1"), lambda c: c.jobs.list()])
def test_non_json_success_body_raises_a_response_error(call: Any, server: FakeServer, client: Any) -> None:
    server.add("GET", STATUS, reply(200, text="<html>Login page</html>"))
    server.add("GET", "v2/workspaces/default/jobs", reply(200, text="<html>Login page</html>"))
    with pytest.raises(CDataSyncResponseError) as info:
        call(client)
    assert "not JSON" in str(info.value) and "<html>Login page" in str(info.value)


async def test_non_json_success_body_in_the_async_client(server: FakeServer, async_client: Any) -> None:
    server.add("GET", STATUS, reply(200, text="oops"))
    with pytest.raises(CDataSyncResponseError, match="not JSON"):
        await async_client.jobs.status("j1")


# ------------------------------------------------------------------------------ the token
def all_text(error: BaseException) -> str:
    """Everything a user could see of an error: message, repr, string attributes, and its causes."""
    parts = [str(error), repr(error)]
    parts += [str(value) for value in vars(error).values()]
    if error.__cause__ is not None and error.__cause__ is not error:
        parts.append(all_text(error.__cause__))
    return "\n".join(parts)


@pytest.mark.parametrize(
    ("method", "path", "call", "response"),
    [
        (
            "GET",
            STATUS,
            lambda c: c.jobs.status("j1"),
            reply(401, {"error": {"message": f"bad token {TOKEN}"}}),
        ),
        ("GET", STATUS, lambda c: c.jobs.status("j1"), reply(403, text=f"Forbidden for token={TOKEN}")),
        (
            "GET",
            STATUS,
            lambda c: c.jobs.status("j1"),
            reply(400, {"detail": f"x-cdata-authtoken: {TOKEN}"}),
        ),
        ("GET", STATUS, lambda c: c.jobs.status("j1"), reply(503, {"message": f"{TOKEN} overloaded"})),
        ("POST", EXECUTE, lambda c: c.jobs.execute("j1"), reply(502, text=f"gateway saw {TOKEN}")),
        ("GET", STATUS, lambda c: c.jobs.status("j1"), reply(200, text=f"not json {TOKEN}")),
        ("GET", STATUS, lambda c: c.jobs.status("j1"), reply(200, {"tasks": f"{TOKEN}"})),
        ("GET", STATUS, lambda c: c.jobs.status("j1"), httpx.ConnectError(f"refused {TOKEN}")),
        ("POST", EXECUTE, lambda c: c.jobs.execute("j1"), httpx.ReadTimeout(f"timeout {TOKEN}")),
    ],
    ids=[
        "401",
        "403-text",
        "400",
        "503",
        "502-post",
        "non-json-200",
        "bad-shape-200",
        "connect",
        "read-timeout",
    ],
)
def test_the_token_never_appears_in_errors(
    method: str, path: str, call: Any, response: Any, server: FakeServer, make_client: Any
) -> None:
    client = make_client(retry=RetrySettings(max_retries=1, backoff_base=0.0001))
    server.add(method, path, response)
    with pytest.raises(CDataSyncError) as info:
        call(client)
    assert TOKEN not in all_text(info.value)
    assert "***" in str(info.value)
    for request in server.requests:
        assert TOKEN not in str(request.url)


def test_the_token_is_not_in_the_config_repr(client: Any) -> None:
    assert TOKEN not in repr(client.config)


# ---------------------------------------------------------------------------------- auth
def test_header_auth_by_default(server: FakeServer, client: Any) -> None:
    server.add("GET", "v2/workspaces", [])
    client.workspaces.list()
    request = server.requests[0]
    assert request.headers["x-cdata-authtoken"] == TOKEN
    assert "authorization" not in request.headers
    assert TOKEN not in str(request.url) and "authtoken" not in str(request.url).lower()
    assert request.headers["user-agent"] == "airflow-provider-cdata-sync"


@pytest.mark.parametrize(("user", "sent_user"), [("alice", "alice"), (None, "airflow")])
def test_basic_auth(user: str | None, sent_user: str, server: FakeServer, make_client: Any) -> None:
    client = make_client(auth_mode="basic", user=user)
    server.add("GET", "v2/workspaces", [])
    client.workspaces.list()
    request = server.requests[0]
    expected = base64.b64encode(f"{sent_user}:{TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert "x-cdata-authtoken" not in request.headers
    assert TOKEN not in str(request.url)


async def test_basic_auth_in_the_async_client(server: FakeServer, make_async_client: Any) -> None:
    client = make_async_client(auth_mode="basic", user="bob")
    server.add("GET", "v2/workspaces", [])
    await client.workspaces.list()
    assert server.requests[0].headers["authorization"].startswith("Basic ")
    assert "x-cdata-authtoken" not in server.requests[0].headers


@pytest.mark.parametrize("code", [301, 302, 307, 308])
def test_redirects_are_not_followed_and_not_mistaken_for_success(
    code: int, server: FakeServer, client: Any
) -> None:
    """A redirect could carry the token header to another host: the client does not follow it, and a
    redirected execute must not look like a started run."""
    location = "https://sync.test:8443/ctx/api.rsc/v2/jobs/j1/execute"
    server.add("POST", EXECUTE, lambda _r: httpx.Response(code, headers={"Location": location}))
    with pytest.raises(CDataSyncAPIError) as info:
        client.jobs.execute("j1")
    assert info.value.status_code == code
    assert location in str(info.value) and "host" in str(info.value)
    assert len(server.requests) == 1
