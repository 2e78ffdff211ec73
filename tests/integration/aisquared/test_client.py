"""The AI Squared client against the emulator over loopback: every endpoint, sync and async, paging,
JSON:API envelopes, clear errors, retries (shared policy) and secrets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest
from cdata_sync_emulator.aisquared import AISquaredEmulator, Demo
from cdata_sync_emulator.testing import count_rows

from airflow_provider_cdata_sync.aisquared import (
    AISquaredAPIError,
    AISquaredAuthenticationError,
    AISquaredClient,
    AISquaredConfig,
    AISquaredConfigError,
    AISquaredNotFoundError,
    AISquaredResponseError,
    AISquaredSyncNotRunnableError,
    AISquaredTransportError,
    Sync,
    run_state,
)
from airflow_provider_cdata_sync.aisquared.client import sync_target
from airflow_provider_cdata_sync.aisquared.errors import AISquaredOutcomeUnknownError
from airflow_provider_cdata_sync.client import APIError, CDataSyncAPIError, RetrySettings, RunState
from tests.integration.aisquared.conftest import TOKEN, WORKSPACE, config


def wait_done(client: AISquaredClient, sync: Sync, run_id: str | None):
    assert run_id
    run = client.get_run(sync_target(sync), run_id)
    while not run.state.is_terminal:
        time.sleep(0.02)
        run = client.get_run(sync_target(sync), run_id)
    return run


def test_config_defaults_and_validation() -> None:
    ws = {"workspace_id": "7"}  # required: every AI Squared call names its workspace (API-FACTS)
    assert AISquaredConfig(token="x", **ws).api_root == "https://api.squared.ai/api/v1"
    assert AISquaredConfig(base_url="http://mw:3000", token="x", **ws).api_root == "http://mw:3000/api/v1"
    assert AISquaredConfig(base_url="https://u:p@h/api/v1/", token="x", **ws).api_root == "https://h/api/v1"
    with pytest.raises(AISquaredConfigError, match=r"token"):
        AISquaredConfig(**ws)
    with pytest.raises(AISquaredConfigError, match=r"workspace_id"):
        AISquaredConfig(token="x")
    with pytest.raises(AISquaredConfigError, match=r"http"):
        AISquaredConfig(base_url="ftp://x", token="x", **ws)
    assert "tok-4711" not in repr(AISquaredConfig(token="tok-4711", **ws))
    # email (login) + password instead of a static token: the client logs in itself, never showing it
    login = AISquaredConfig(email="me@example.com", password="pw-4711", **ws)
    assert login.logs_in and not login.token and "pw-4711" not in repr(login)
    with pytest.raises(AISquaredConfigError, match=r"password"):
        AISquaredConfig(email="me@example.com", **ws)


def test_sync_crud_enable_and_configurations(client: AISquaredClient, make_sync: Callable[..., Sync]) -> None:
    sync = make_sync(cursor_field="updated_at", sync_mode="incremental", name="contacts")
    assert sync.id and sync.source_id and sync.schedule_type == "manual" and sync.sync_mode == "incremental"
    assert sync.enabled and sync.is_manual and sync.cursor_field == "updated_at"
    assert client.syncs.get(sync.id) == sync
    assert [s.id for s in client.syncs.list()] == [sync.id]
    updated = client.syncs.update(sync.id, {"sync_mode": "full_refresh"})
    assert updated.sync_mode == "full_refresh"
    assert client.syncs.disable(sync.id).enabled is False
    assert client.syncs.enable(sync.id).enabled is True
    # the server's enable is not idempotent (400 "cannot transition"): the client returns the sync as it is
    assert client.syncs.enable(sync.id).enabled is True
    assert "mapping_types" in str(client.syncs.configurations())
    client.syncs.delete(sync.id)
    with pytest.raises(AISquaredNotFoundError, match=r"404 on GET /api/v1/syncs/\d+: Sync \d+ was not found"):
        client.syncs.get(sync.id)


def test_create_sends_every_field_and_validates(client: AISquaredClient, make_sync, demo: Demo) -> None:
    sync = make_sync(
        schedule_type="interval", sync_interval="15", sync_interval_unit="minutes", cron_expression=None
    )
    assert sync.sync_interval == 15 and sync.sync_interval_unit == "minutes"
    cron = make_sync(schedule_type="cron_expression", cron_expression="0 * * * *", stream_name="other")
    assert cron.cron_expression == "0 * * * *"
    with pytest.raises(AISquaredConfigError, match=r"Unknown sync field"):
        make_sync(stream="typo")
    with pytest.raises(AISquaredConfigError, match=r"lacks stream_name"):
        make_sync(stream_name="")
    with pytest.raises(AISquaredAPIError, match=r"422.*cursor_field can't be blank"):
        make_sync(sync_mode="incremental")


def test_manual_run_copies_rows_and_records(client: AISquaredClient, make_sync, demo: Demo, server) -> None:
    server.set_speed(rows_per_second=250)  # about a second of copying: the found run is still going
    sync = make_sync()
    run = client.start_run(sync_target(sync))
    assert run.id and run.sync_id == sync.id and run.state.is_active
    run = wait_done(client, sync, run.id)
    assert run.status == "success" and run.state is RunState.SUCCESS
    assert (run.total_query_rows, run.total_rows) == (demo.customers, demo.customers)
    assert (run.successful_rows, run.failed_rows) == (
        demo.customers - demo.invalid_emails,
        demo.invalid_emails,
    )
    assert count_rows(demo.destination_db, "crm_contacts") == demo.customers - demo.invalid_emails
    failed = client.records.list(sync.id, run.id, "failed")
    assert len(failed) == demo.invalid_emails  # emulator pages 10 at a time when asked for 100: all pages
    assert all(r.failed and "NOT NULL constraint failed: crm_contacts.email" in r.error_text for r in failed)
    assert len(client.records.list(sync.id, run.id, limit=25, per_page=10)) == 25
    assert len(client.records.list(sync.id, run.id)) == demo.customers
    target = sync_target(sync)
    latest = client.latest_run(target)
    assert latest is not None and latest.id == run.id and client.current_run(target) is None


def test_runs_are_paged_newest_first_with_status_filter(client: AISquaredClient, make_sync, demo) -> None:
    sync = make_sync()
    ids = []
    for _ in range(3):
        ids.append(wait_done(client, sync, client.start_run(sync_target(sync)).id).id)
    failing = make_sync(model_id=demo.broken_model_id, configuration={"id": "id"}, stream_name="x")
    bad = wait_done(client, failing, client.start_run(sync_target(failing)).id)
    assert bad.status == "failed" and "no_such_table" in (bad.error or "")
    assert [r.id for r in client.runs.list(sync.id, per_page=2)] == ids[::-1]
    assert [r.id for r in client.runs.list(sync.id, page=2, per_page=2)] == ids[:1]
    assert client.runs.list(sync.id, "failed") == []
    assert [r.id for r in client.runs.list(failing.id, "failed")] == [bad.id]


def test_424_disabled_scheduled_and_active(client: AISquaredClient, make_sync, server) -> None:
    sync = make_sync()
    client.syncs.disable(sync.id)
    with pytest.raises(AISquaredSyncNotRunnableError, match=r"424 on POST /api/v1/schedule_syncs.*disabled"):
        client.runs.trigger(sync.id)
    scheduled = make_sync(
        schedule_type="interval", sync_interval=1, sync_interval_unit="hours", stream_name="s"
    )
    with pytest.raises(AISquaredSyncNotRunnableError, match=r"not manual"):
        client.runs.trigger(scheduled.id)
    server.set_speed(rows_per_second=50)
    running = make_sync(stream_name="crm_contacts")
    target = sync_target(running)
    run = client.start_run(target)
    with pytest.raises(AISquaredSyncNotRunnableError, match=r"already has an active run") as caught:
        client.runs.trigger(running.id)
    # the shared (service-neutral) API error, with its status; AI Squared errors are a family of their own
    assert isinstance(caught.value, APIError) and not isinstance(caught.value, CDataSyncAPIError)
    assert caught.value.status_code == 424
    current = client.current_run(target)
    assert current is not None and current.id == run.id
    assert client.cancel_run(target) is True
    assert wait_done(client, running, run.id).status == "canceled"
    assert client.cancel_run(target) is False  # nothing left to cancel


def test_auth_workspace_and_secrets(server: AISquaredEmulator) -> None:
    with (
        AISquaredClient(config(server, token="wrong-token-123")) as bad,
        pytest.raises(AISquaredAuthenticationError, match=r"401.*bearer token") as caught,
    ):
        bad.syncs.list()
    assert "wrong-token-123" not in str(caught.value)
    with (
        AISquaredClient(config(server, workspace_id="other")) as other,
        pytest.raises(AISquaredAuthenticationError, match=r"403.*Workspace-Id"),
    ):
        other.test_access()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": [], "links": {"next": None}})

    with AISquaredClient(config(server), transport=httpx.MockTransport(handler)) as mocked:
        assert mocked.syncs.list() == []
    assert (
        seen[0].headers["Authorization"] == f"Bearer {TOKEN}" and seen[0].headers["Workspace-Id"] == WORKSPACE
    )
    assert TOKEN not in str(seen[0].url)


def test_error_bodies_and_garbage(server: AISquaredEmulator) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/syncs/1"):
            body = {"errors": [{"status": "422", "title": "Unprocessable", "detail": "stream_name is bad"}]}
            return httpx.Response(422, json=body)
        return httpx.Response(200, text="<html>proxy</html>")

    with AISquaredClient(config(server), transport=httpx.MockTransport(handler)) as mocked:
        with pytest.raises(AISquaredAPIError, match=r"422 on GET /api/v1/syncs/1: stream_name is bad"):
            mocked.syncs.get(1)
        with pytest.raises(AISquaredResponseError, match=r"AI Squared to GET /api/v1/syncs.*not JSON"):
            mocked.syncs.list()


def test_shared_retry_policy(client: AISquaredClient, server: AISquaredEmulator, make_sync) -> None:
    sync = make_sync()
    server.inject_fault(r"/syncs/\d+$", status=503, count=2, method="GET")
    assert client.syncs.get(sync.id).id == sync.id  # retried twice
    server.inject_fault(r"/schedule_syncs$", status=502, method="POST")
    with pytest.raises(AISquaredAPIError, match=r"502.*not repeated"):
        client.runs.trigger(sync.id)  # a POST is not repeated after a gateway error
    server.inject_fault(r"/schedule_syncs$", action="reset_after", method="POST")
    with pytest.raises(AISquaredOutcomeUnknownError, match=r"AI Squared|may already have taken effect"):
        client.runs.trigger(sync.id)
    assert server.stats()["calls"][f"GET /api/v1/syncs/{sync.id}"] == 3


def test_unreachable_server_is_a_clear_error() -> None:
    quick = AISquaredConfig(
        base_url="http://127.0.0.1:9",
        token="tok-unreachable",
        workspace_id=WORKSPACE,
        retry=RetrySettings(max_retries=0),
    )
    with (
        AISquaredClient(quick) as unreachable,
        pytest.raises(
            AISquaredTransportError, match=r"Could not reach AI Squared for GET /api/v1/syncs/1"
        ) as e,
    ):
        unreachable.syncs.get(1)
    assert "8181" not in str(e.value) and "CData" not in str(e.value)


async def test_async_client_serves_the_same_operations(aclient, make_sync, demo: Demo) -> None:
    sync = make_sync()
    target = sync_target(sync)
    assert (await aclient.syncs.get(sync.id)).id == sync.id
    run = await aclient.start_run(target)
    while not run.state.is_terminal:
        await asyncio.sleep(0.02)
        run = await aclient.get_run(target, run.id)
    assert run.status == "success"
    assert len(await aclient.records.list(sync.id, run.id, "failed", limit=3)) == 3
    assert [r.id for r in await aclient.runs_since(target, run.start_time)] == [run.id]


def test_run_states() -> None:
    assert [run_state(s) for s in ("pending", "started", "querying", "queued", "in_progress")] == [
        RunState.QUEUED,
        RunState.RUNNING,
        RunState.RUNNING,
        RunState.QUEUED,
        RunState.RUNNING,
    ]
    assert all(run_state(s).is_active for s in ("pending", "started", "querying", "queued", "in_progress"))
    # API-FACTS: paused is not active (the server's own active list leaves it out), and never success
    paused = run_state("paused")
    assert not paused.is_active and not paused.is_terminal and paused is not RunState.SUCCESS
    assert run_state("success") is RunState.SUCCESS and run_state("canceled") is RunState.CANCELLED
    assert run_state("failed").is_failure and run_state("weird") is RunState.UNKNOWN
