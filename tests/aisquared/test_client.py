"""The AI Squared client against the emulator over loopback: every endpoint, sync and async, paging,
JSON:API envelopes, clear errors, retries (shared policy) and secrets."""

from __future__ import annotations

import asyncio
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
from airflow_provider_cdata_sync.aisquared.errors import AISquaredOutcomeUnknownError
from airflow_provider_cdata_sync.client import CDataSyncAPIError, RetrySettings, RunState
from tests.aisquared.conftest import TOKEN, WORKSPACE, config


def wait_done(client: AISquaredClient, sync: Sync, run_id: str | None):
    run = client.get_run(sync.id, run_id)
    while not run.state.is_terminal:
        asyncio.run(asyncio.sleep(0.02))
        run = client.get_run(sync.id, run_id)
    return run


def test_config_defaults_and_validation() -> None:
    assert AISquaredConfig(token="x").api_root == "https://api.squared.ai/api/v1"
    assert AISquaredConfig(base_url="http://mw:3000", token="x").api_root == "http://mw:3000/api/v1"
    assert AISquaredConfig(base_url="https://u:p@h/api/v1/", token="x").api_root == "https://h/api/v1"
    with pytest.raises(AISquaredConfigError, match=r"token"):
        AISquaredConfig()
    with pytest.raises(AISquaredConfigError, match=r"http"):
        AISquaredConfig(base_url="ftp://x", token="x")
    assert "tok-4711" not in repr(AISquaredConfig(token="tok-4711"))


def test_sync_crud_enable_and_configurations(client: AISquaredClient, make_sync: Callable[..., Sync]) -> None:
    sync = make_sync(cursor_field="updated_at", sync_mode="incremental", name="contacts")
    assert sync.id and sync.source_id and sync.schedule_type == "manual" and sync.sync_mode == "incremental"
    assert sync.enabled and sync.is_manual and sync.cursor_field == "updated_at"
    assert client.get_sync(sync.id) == sync
    assert [s.id for s in client.list_syncs()] == [sync.id]
    updated = client.update_sync(sync.id, {"sync_mode": "full_refresh"})
    assert updated.sync_mode == "full_refresh"
    assert client.disable_sync(sync.id).enabled is False
    assert client.enable_sync(sync.id).enabled is True
    assert "mapping_types" in str(client.sync_configurations())
    client.delete_sync(sync.id)
    with pytest.raises(AISquaredNotFoundError, match=r"404 on GET /api/v1/syncs/\d+: Sync \d+ was not found"):
        client.get_sync(sync.id)


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


def test_manual_run_copies_rows_and_records(client: AISquaredClient, make_sync, demo: Demo) -> None:
    sync = make_sync()
    run = client.start_run(sync.id, poll=0.02)
    assert run.id and run.sync_id == sync.id and run.state.is_active
    run = wait_done(client, sync, run.id)
    assert run.status == "success" and run.state is RunState.SUCCESS
    assert (run.total_query_rows, run.total_rows) == (demo.customers, demo.customers)
    assert (run.successful_rows, run.failed_rows) == (
        demo.customers - demo.invalid_emails,
        demo.invalid_emails,
    )
    assert count_rows(demo.destination_db, "crm_contacts") == demo.customers - demo.invalid_emails
    failed = client.list_records(sync.id, run.id, "failed")
    assert len(failed) == demo.invalid_emails  # emulator pages 10 at a time when asked for 100: all pages
    assert all(r.failed and "NOT NULL constraint failed: crm_contacts.email" in r.error_text for r in failed)
    assert len(client.list_records(sync.id, run.id, limit=25, per_page=10)) == 25
    assert len(client.list_records(sync.id, run.id)) == demo.customers
    assert client.latest_run(sync.id).id == run.id and client.current_run(sync.id) is None


def test_runs_are_paged_newest_first_with_status_filter(client: AISquaredClient, make_sync, demo) -> None:
    sync = make_sync()
    ids = []
    for _ in range(3):
        ids.append(wait_done(client, sync, client.start_run(sync.id, poll=0.02).id).id)
    failing = make_sync(model_id=demo.broken_model_id, configuration={}, stream_name="x")
    bad = wait_done(client, failing, client.start_run(failing.id, poll=0.02).id)
    assert bad.status == "failed" and "no_such_table" in (bad.error or "")
    assert [r.id for r in client.list_runs(sync.id, per_page=2)] == ids[::-1]
    assert [r.id for r in client.list_runs(sync.id, page=2, per_page=2)] == ids[:1]
    assert client.list_runs(sync.id, "failed") == []
    assert [r.id for r in client.list_runs(failing.id, "failed")] == [bad.id]


def test_424_disabled_scheduled_and_active(client: AISquaredClient, make_sync, server) -> None:
    sync = make_sync()
    client.disable_sync(sync.id)
    with pytest.raises(AISquaredSyncNotRunnableError, match=r"424 on POST /api/v1/schedule_syncs.*disabled"):
        client.trigger_run(sync.id)
    scheduled = make_sync(
        schedule_type="interval", sync_interval=1, sync_interval_unit="hours", stream_name="s"
    )
    with pytest.raises(AISquaredSyncNotRunnableError, match=r"not manual"):
        client.trigger_run(scheduled.id)
    server.set_speed(rows_per_second=50)
    running = make_sync(stream_name="crm_contacts")
    run = client.start_run(running.id, poll=0.02)
    with pytest.raises(AISquaredSyncNotRunnableError, match=r"already has an active run") as caught:
        client.trigger_run(running.id)
    assert isinstance(caught.value, CDataSyncAPIError) and caught.value.status_code == 424
    assert client.current_run(running.id).id == run.id
    assert client.cancel_run(running.id) is True
    assert wait_done(client, running, run.id).status == "canceled"
    assert client.cancel_run(running.id) is False  # nothing left to cancel


def test_auth_workspace_and_secrets(server: AISquaredEmulator) -> None:
    with (
        AISquaredClient(config(server, token="wrong-token-123")) as bad,
        pytest.raises(AISquaredAuthenticationError, match=r"401.*bearer token") as caught,
    ):
        bad.list_syncs()
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
        assert mocked.list_syncs() == []
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
            mocked.get_sync(1)
        with pytest.raises(AISquaredResponseError, match=r"AI Squared to GET /api/v1/syncs.*not JSON"):
            mocked.list_syncs()


def test_shared_retry_policy(client: AISquaredClient, server: AISquaredEmulator, make_sync) -> None:
    sync = make_sync()
    server.inject_fault(r"/syncs/\d+$", status=503, count=2, method="GET")
    assert client.get_sync(sync.id).id == sync.id  # retried twice
    server.inject_fault(r"/schedule_syncs$", status=502, method="POST")
    with pytest.raises(AISquaredAPIError, match=r"502.*not repeated"):
        client.trigger_run(sync.id)  # a POST is not repeated after a gateway error
    server.inject_fault(r"/schedule_syncs$", action="reset_after", method="POST")
    with pytest.raises(AISquaredOutcomeUnknownError, match=r"AI Squared|may already have taken effect"):
        client.trigger_run(sync.id)
    assert server.stats()["calls"][f"GET /api/v1/syncs/{sync.id}"] == 3


def test_unreachable_server_is_a_clear_error() -> None:
    quick = AISquaredConfig(
        base_url="http://127.0.0.1:9", token="tok-unreachable", retry=RetrySettings(max_retries=0)
    )
    with (
        AISquaredClient(quick) as unreachable,
        pytest.raises(
            AISquaredTransportError, match=r"Could not reach AI Squared for GET /api/v1/syncs/1"
        ) as e,
    ):
        unreachable.get_sync(1)
    assert "8181" not in str(e.value) and "CData" not in str(e.value)


async def test_async_client_serves_the_same_operations(aclient, make_sync, demo: Demo) -> None:
    sync = make_sync()
    assert (await aclient.get_sync(sync.id)).id == sync.id
    run = await aclient.start_run(sync.id, poll=0.02)
    while not run.state.is_terminal:
        await asyncio.sleep(0.02)
        run = await aclient.get_run(sync.id, run.id)
    assert run.status == "success"
    assert len(await aclient.list_records(sync.id, run.id, "failed", limit=3)) == 3
    assert [r.id for r in await aclient.runs_since(sync.id, run.start_time)] == [run.id]


def test_run_states() -> None:
    assert [run_state(s) for s in ("pending", "started", "querying", "queued", "in_progress", "paused")] == [
        RunState.QUEUED,
        RunState.RUNNING,
        RunState.RUNNING,
        RunState.QUEUED,
        RunState.RUNNING,
        RunState.QUEUED,
    ]
    assert run_state("success") is RunState.SUCCESS and run_state("canceled") is RunState.CANCELLED
    assert run_state("failed").is_failure and run_state("weird") is RunState.UNKNOWN
