"""Fallbacks (list tables POST->GET, get job -> job list) and the retry policy, in both drivers."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cdata_fakes import FakeServer, body_of, params_of

from airflow_provider_cdata_sync.client import (
    CDataSyncClient,
    CDataSyncConflictError,
    CDataSyncLookupError,
    CDataSyncNotFoundError,
    CDataSyncOutcomeUnknownError,
    CDataSyncRateLimitError,
    CDataSyncServerError,
    CDataSyncTransportError,
    RetrySettings,
)
from airflow_provider_cdata_sync.client.http import ApiRequest, RetryPolicy, parse_retry_after

TABLES = "v2/connections/c1/tables"
JOBS = "v2/workspaces/default/jobs"
EXECUTE = "v2/jobs/j1/execute"
STATUS = "v2/jobs/j1/status"
RUN = {"id": "h-1", "status": "Queued"}


def status(code: int, **headers: str) -> Callable[[httpx.Request], httpx.Response]:
    """A reply factory (a fresh response each time it is used)."""
    return lambda _request: httpx.Response(code, json={"message": f"status {code}"}, headers=headers)


# ---------------------------------------------------------------------------------- fallbacks
def test_list_tables_posts_then_falls_back_to_get_on_405(server: FakeServer, client: CDataSyncClient) -> None:
    server.add("POST", TABLES, status(405))
    server.add("GET", TABLES, {"value": [{"name": "Account"}]})
    tables = client.connections.tables("c1", schema="dbo", include_table_types="TABLE", reset_metadata=False)
    assert [t.name for t in tables] == ["Account"]
    assert server.calls == [("POST", TABLES), ("GET", TABLES)]
    expected = {"schema": "dbo", "include_table_types": "TABLE", "reset_metadata": "false"}
    assert [params_of(r) for r in server.requests] == [expected, expected]


async def test_list_tables_fallback_in_the_async_client(server: FakeServer, async_client: Any) -> None:
    server.add("POST", TABLES, status(405))
    server.add("GET", TABLES, [{"name": "Account"}])
    assert [t.name for t in await async_client.connections.tables("c1")] == ["Account"]
    assert server.calls == [("POST", TABLES), ("GET", TABLES)]


def test_list_tables_does_not_fall_back_on_404(server: FakeServer, client: CDataSyncClient) -> None:
    server.add("POST", TABLES, status(404))
    with pytest.raises(CDataSyncNotFoundError, match="404"):
        client.connections.tables("c1")
    assert server.calls == [("POST", TABLES)]


@pytest.mark.parametrize("code", [404, 405])
def test_get_job_falls_back_to_the_job_list(code: int, server: FakeServer, client: CDataSyncClient) -> None:
    server.add("GET", "v2/jobs/j2", status(code))
    server.add("GET", JOBS, {"value": [{"JobId": "j1", "JobName": "A"}, {"JobId": "j2", "JobName": "B"}]})
    job = client.jobs.get("j2")
    assert (job.id, job.name) == ("j2", "B")
    assert server.calls == [("GET", "v2/jobs/j2"), ("GET", JOBS)]


async def test_get_job_fallback_in_the_async_client(server: FakeServer, async_client: Any) -> None:
    server.add("GET", "v2/jobs/j2", status(405))
    server.add("GET", "v2/workspaces/ws%202/jobs", [{"id": "j2", "name": "B"}])
    assert (await async_client.jobs.get("j2", workspace="ws 2")).name == "B"


def test_get_job_absent_lists_the_jobs(server: FakeServer, client: CDataSyncClient) -> None:
    server.add("GET", "v2/jobs/nope", status(404))
    server.add("GET", JOBS, [{"id": "j1", "name": "Nightly"}, {"id": "j2", "name": "Hourly"}])
    with pytest.raises(CDataSyncLookupError) as info:
        client.jobs.get("nope")
    message = str(info.value)
    assert "'nope'" in message and "Nightly (id j1)" in message and "Hourly (id j2)" in message


def test_get_job_other_errors_are_raised(server: FakeServer, client: CDataSyncClient) -> None:
    server.add("GET", "v2/jobs/j1", status(409))
    with pytest.raises(CDataSyncConflictError):
        client.jobs.get("j1")
    assert server.calls == [("GET", "v2/jobs/j1")]


# ------------------------------------------------------------------------------------ retries
def test_429_honours_retry_after_seconds(
    server: FakeServer, client: CDataSyncClient, sleeps: list[float]
) -> None:
    server.add("GET", STATUS, status(429, **{"Retry-After": "7"}), {"status": "Idle"})
    assert client.jobs.status("j1").status == "Idle"
    assert sleeps == [7.0]
    assert len(server.requests) == 2


async def test_429_honours_retry_after_in_the_async_client(
    server: FakeServer, async_client: Any, sleeps: list[float]
) -> None:
    server.add("GET", STATUS, status(429, **{"Retry-After": "3"}), status(429, **{"Retry-After": "0"}), {})
    await async_client.jobs.status("j1")
    assert sleeps == [3.0, 0.0]
    assert len(server.requests) == 3


def test_retry_after_is_capped(server: FakeServer, make_client: Any, sleeps: list[float]) -> None:
    client = make_client(retry=RetrySettings(max_retries=1, backoff_base=0.001, retry_after_max=10))
    server.add("GET", STATUS, status(429, **{"Retry-After": "3600"}), {})
    client.jobs.status("j1")
    assert sleeps == [10.0]


def test_429_on_execute_is_retried_it_was_not_acted_on(
    server: FakeServer, client: CDataSyncClient, sleeps: list[float]
) -> None:
    server.add("POST", EXECUTE, status(429, **{"Retry-After": "1"}), status(503), RUN)
    assert client.jobs.execute("j1", tasks=["t1"]).id == "h-1"
    assert len(server.requests) == 3
    assert [body_of(r) for r in server.requests] == [{"tasks": ["t1"]}] * 3
    assert sleeps[0] == 1.0 and len(sleeps) == 2


def test_parse_retry_after() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (parse_retry_after(future) or 0) <= 31
    past = email.utils.formatdate(time.time() - 30, usegmt=True)
    assert parse_retry_after(past) == 0.0


@pytest.mark.parametrize("code", [502, 503, 504, 500])
def test_get_is_retried_on_server_errors(
    code: int, server: FakeServer, client: CDataSyncClient, sleeps: list[float]
) -> None:
    server.add("GET", STATUS, status(code), status(code), {"status": "Running"})
    assert client.jobs.status("j1").status == "Running"
    assert len(server.requests) == 3 and len(sleeps) == 2


@pytest.mark.parametrize("code", [502, 504, 500])
def test_execute_is_not_retried_on_gateway_or_server_errors(
    code: int, server: FakeServer, client: CDataSyncClient, sleeps: list[float]
) -> None:
    server.add("POST", EXECUTE, status(code), RUN)
    with pytest.raises(CDataSyncServerError) as info:
        client.jobs.execute("j1")
    assert info.value.status_code == code
    assert len(server.requests) == 1 and sleeps == []
    if code != 500:
        assert "not repeated" in str(info.value)


async def test_execute_is_not_retried_on_502_in_the_async_client(
    server: FakeServer, async_client: Any, sleeps: list[float]
) -> None:
    server.add("POST", EXECUTE, status(502), RUN)
    with pytest.raises(CDataSyncServerError):
        await async_client.jobs.execute("j1")
    assert len(server.requests) == 1 and sleeps == []


def test_500_is_retried_for_get_only(
    server: FakeServer, client: CDataSyncClient, sleeps: list[float]
) -> None:
    server.add("PUT", "v2/jobs/j1", status(500), {})
    server.add("DELETE", "v2/jobs/j1", status(500), {})
    with pytest.raises(CDataSyncServerError):
        client.jobs.update("j1", name="x")
    with pytest.raises(CDataSyncServerError):
        client.jobs.delete("j1")
    assert len(server.requests) == 2 and sleeps == []


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.connections.tables("c1"),
        lambda c: c.connections.test("c1"),
        lambda c: c.connections.download_log("c1", "a.log"),
        lambda c: c.jobs.cancel("j1"),
        lambda c: c.jobs.update("j1", name="x"),
        lambda c: c.jobs.delete("j1"),
    ],
    ids=["list_tables", "test_connection", "download_log", "cancel_job", "update_job", "delete_job"],
)
def test_idempotent_requests_are_retried_on_gateway_errors(
    call: Callable[[Any], Any], client: CDataSyncClient, sleeps: list[float]
) -> None:
    attempts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request.method)
        return httpx.Response(
            502 if len(attempts) == 1 else 200, json=[] if request.method != "DELETE" else {}
        )

    client._http._transport = httpx.MockTransport(handler)
    call(client)
    assert len(attempts) == 2 and len(sleeps) == 1


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow connect")])
def test_connect_errors_are_retried_even_for_execute(
    error: Exception, server: FakeServer, client: CDataSyncClient, sleeps: list[float]
) -> None:
    server.add("POST", EXECUTE, error, error, RUN)
    assert client.jobs.execute("j1").id == "h-1"
    assert len(server.requests) == 3 and len(sleeps) == 2


async def test_connect_errors_are_retried_in_the_async_client(
    server: FakeServer, async_client: Any, sleeps: list[float]
) -> None:
    server.add("POST", EXECUTE, httpx.ConnectError("refused"), RUN)
    assert (await async_client.jobs.execute("j1")).id == "h-1"
    assert len(server.requests) == 2 and len(sleeps) == 1


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset"),
        httpx.WriteTimeout("write timed out"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_lost_answers_to_execute_are_not_retried(
    error: Exception, server: FakeServer, client: CDataSyncClient, sleeps: list[float]
) -> None:
    server.add("POST", EXECUTE, error, RUN)
    with pytest.raises(CDataSyncOutcomeUnknownError) as info:
        client.jobs.execute("j1")
    assert len(server.requests) == 1 and sleeps == []
    message = str(info.value)
    assert type(error).__name__ in message and "POST /ctx/api.rsc/v2/jobs/j1/execute" in message
    assert "not retried" in message
    assert (info.value.method, info.value.path) == ("POST", "/ctx/api.rsc/v2/jobs/j1/execute")


async def test_lost_answer_to_execute_in_the_async_client(
    server: FakeServer, async_client: Any, sleeps: list[float]
) -> None:
    server.add("POST", EXECUTE, httpx.ReadTimeout("timed out"), RUN)
    with pytest.raises(CDataSyncOutcomeUnknownError):
        await async_client.jobs.execute("j1")
    assert len(server.requests) == 1 and sleeps == []


@pytest.mark.parametrize(
    "error",
    [httpx.ReadTimeout("t"), httpx.RemoteProtocolError("p"), httpx.ReadError("r")],
    ids=lambda e: type(e).__name__,
)
def test_read_errors_on_get_are_retried(
    error: Exception, server: FakeServer, client: CDataSyncClient, sleeps: list[float]
) -> None:
    server.add("GET", STATUS, error, error, {"status": "Idle"})
    assert client.jobs.status("j1").status == "Idle"
    assert len(server.requests) == 3 and len(sleeps) == 2


@pytest.mark.parametrize("max_retries", [0, 1, 4])
def test_max_retries_is_respected(
    max_retries: int, server: FakeServer, make_client: Any, sleeps: list[float]
) -> None:
    client = make_client(retry=RetrySettings(max_retries=max_retries, backoff_base=0.001))
    server.add("GET", STATUS, status(503))
    with pytest.raises(CDataSyncServerError) as info:
        client.jobs.status("j1")
    assert info.value.status_code == 503
    assert len(server.requests) == max_retries + 1
    assert len(sleeps) == max_retries


def test_rate_limit_after_all_retries(server: FakeServer, make_client: Any, sleeps: list[float]) -> None:
    client = make_client(retry=RetrySettings(max_retries=2, backoff_base=0.001))
    server.add("POST", EXECUTE, status(429))
    with pytest.raises(CDataSyncRateLimitError, match="429"):
        client.jobs.execute("j1")
    assert len(server.requests) == 3


def test_transport_error_after_all_retries(server: FakeServer, make_client: Any, sleeps: list[float]) -> None:
    client = make_client(retry=RetrySettings(max_retries=2, backoff_base=0.001))
    server.add("GET", STATUS, httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(CDataSyncTransportError) as info:
        client.jobs.status("j1")
    assert not isinstance(info.value, CDataSyncOutcomeUnknownError)
    message = str(info.value)
    assert "after 3 attempts" in message and "Connection refused" in message and "8181" in message
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), "verify_ssl"),
        (httpx.ConnectError("[Errno -2] Name or service not known"), "host name could not be resolved"),
        (httpx.ReadTimeout("timed out"), "'timeout'"),
    ],
)
def test_transport_errors_suggest_a_fix(
    error: Exception, hint: str, server: FakeServer, make_client: Any
) -> None:
    client = make_client(retry=RetrySettings(max_retries=0))
    server.add("GET", STATUS, error)
    with pytest.raises(CDataSyncTransportError, match=hint):
        client.jobs.status("j1")


# ------------------------------------------------------------------------------------ backoff
def test_backoff_grows_and_is_capped() -> None:
    settings = RetrySettings(backoff_base=1.0, backoff_max=5.0)
    low = RetryPolicy(settings, rng=lambda: 0.0)
    high = RetryPolicy(settings, rng=lambda: 1.0)
    assert [low.backoff(n) for n in range(5)] == [0.5, 1.0, 2.0, 2.5, 2.5]
    assert [high.backoff(n) for n in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_backoff_has_jitter() -> None:
    values = iter([0.0, 0.5, 1.0])
    policy = RetryPolicy(RetrySettings(backoff_base=2.0), rng=lambda: next(values))
    assert [policy.backoff(1) for _ in range(3)] == [2.0, 3.0, 4.0]


def test_retry_decisions() -> None:
    policy = RetryPolicy(RetrySettings(max_retries=2, backoff_base=1.0), rng=lambda: 1.0)
    get, post = ApiRequest("GET", "x"), ApiRequest("POST", "x")
    safe_post = ApiRequest("POST", "x", idempotent=True)

    def reply(code: int, **headers: str) -> httpx.Response:
        return httpx.Response(code, headers=headers)

    assert policy.delay_after_response(get, reply(503), 0) == 1.0
    assert policy.delay_after_response(get, reply(503), 1) == 2.0
    assert policy.delay_after_response(get, reply(503), 2) is None  # out of retries
    assert policy.delay_after_response(post, reply(429, **{"Retry-After": "4"}), 0) == 4.0
    assert policy.delay_after_response(post, reply(502), 0) is None
    assert policy.delay_after_response(safe_post, reply(502), 0) == 1.0
    assert policy.delay_after_response(safe_post, reply(500), 0) is None
    for code in (400, 401, 403, 404, 405, 409, 422, 501):
        assert policy.delay_after_response(get, reply(code), 0) is None
    assert policy.delay_after_error(post, httpx.ConnectError("x"), 0) == 1.0
    assert policy.delay_after_error(post, httpx.PoolTimeout("x"), 0) == 1.0
    assert policy.delay_after_error(post, httpx.ReadTimeout("x"), 0) is None
    assert policy.delay_after_error(safe_post, httpx.ReadTimeout("x"), 0) == 1.0
    assert policy.delay_after_error(get, httpx.ReadError("x"), 2) is None


def test_the_client_sleeps_with_growing_backoff(
    server: FakeServer, make_client: Any, sleeps: list[float]
) -> None:
    client = make_client(retry=RetrySettings(max_retries=4, backoff_base=0.01, backoff_max=1.0))
    client._policy = RetryPolicy(client.config.retry, rng=lambda: 0.5)
    server.add("GET", STATUS, status(503), status(503), status(503), status(503), {})
    client.jobs.status("j1")
    assert sleeps == pytest.approx([0.0075, 0.015, 0.03, 0.06])


def test_default_retry_settings_sleep_for_real_but_briefly(server: FakeServer, make_client: Any) -> None:
    client = make_client(retry=RetrySettings(max_retries=1, backoff_base=0.01))
    server.add("GET", STATUS, status(503), {})
    started = time.monotonic()
    client.jobs.status("j1")
    assert 0.004 <= time.monotonic() - started < 1.0
