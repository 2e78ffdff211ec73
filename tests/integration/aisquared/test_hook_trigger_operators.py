"""Hook (connection -> config, test_connection), trigger (serialisation, events, after) and the operators'
refusals and idempotency, against the emulator (no DAG run)."""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_cdata_sync.aisquared import AISquaredConfigError
from airflow_provider_cdata_sync.aisquared.client import sync_target
from airflow_provider_cdata_sync.hooks.aisquared import AISquaredHook, config_from_connection
from airflow_provider_cdata_sync.operators.aisquared import (
    AISquaredCreateSyncOperator,
    AISquaredRunSyncOperator,
)
from airflow_provider_cdata_sync.sensors.aisquared import AISquaredSyncRunSensor
from airflow_provider_cdata_sync.triggers.aisquared import AISquaredSyncRunTrigger
from tests.integration.aisquared.conftest import TOKEN, WORKSPACE

WS = {"workspace_id": "3"}  # required by every AI Squared call (API-FACTS)


def conn(**fields: Any) -> SimpleNamespace:
    base = {"conn_id": "c", "host": None, "port": None, "schema": None, "login": None, "password": "tok-123"}
    return SimpleNamespace(**{**base, "extra": WS, **fields})


def test_old_module_paths_still_work() -> None:
    from airflow_provider_cdata_sync.aisquared import hook, operators, sensors, triggers

    assert hook.AISquaredHook is AISquaredHook and hook.config_from_connection is config_from_connection
    assert operators.AISquaredRunSyncOperator is AISquaredRunSyncOperator
    assert operators.AISquaredCreateSyncOperator is AISquaredCreateSyncOperator
    assert sensors.AISquaredSyncRunSensor is AISquaredSyncRunSensor
    assert triggers.AISquaredSyncRunTrigger is AISquaredSyncRunTrigger


def test_connection_to_config() -> None:
    assert config_from_connection(conn()).api_root == "https://api.squared.ai/api/v1"
    assert config_from_connection(conn(host="api.squared.ai")).api_root == "https://api.squared.ai/api/v1"
    local = config_from_connection(conn(host="localhost", port=3000, extra=json.dumps({"workspace_id": 12})))
    assert (local.api_root, local.workspace_id) == ("http://localhost:3000/api/v1", "12")
    tuned = config_from_connection(
        conn(host="https://mw/api/v1", extra={**WS, "timeout": "5", "max_retries": 1})
    )
    assert (tuned.read_timeout, tuned.retry.max_retries) == (5.0, 1)
    with pytest.raises(AISquaredConfigError, match=r"Unknown extra field.*workspace"):
        config_from_connection(conn(extra={"workspace": "x"}))
    with pytest.raises(AISquaredConfigError, match=r"token"):
        config_from_connection(conn(password=None))
    with pytest.raises(AISquaredConfigError, match=r"workspace_id"):
        config_from_connection(conn(extra=None))
    # the user's email as login and password as password: the client logs in (no static token)
    login = config_from_connection(conn(login="me@example.com", password="pw-1"))
    assert login.logs_in and login.email == "me@example.com" and not login.token


def test_hook_test_connection(server, monkeypatch: pytest.MonkeyPatch) -> None:
    ok, message = AISquaredHook().test_connection()
    assert ok and server.api_url in message and WORKSPACE in message
    bad = {"conn_type": "aisquared", "host": server.api_url, "password": "nope-nope", "extra": WS}
    monkeypatch.setenv("AIRFLOW_CONN_AISQUARED_BAD", json.dumps(bad))
    ok, message = AISquaredHook("aisquared_bad").test_connection()
    assert not ok and "401" in message and "nope-nope" not in message


async def test_trigger_follows_a_run_to_its_event(server, make_sync, client) -> None:
    sync = make_sync()
    run = client.start_run(sync_target(sync))
    trigger = AISquaredSyncRunTrigger(
        conn_id="aisquared_default", target=sync_target(sync).to_dict(), run_id=run.id, poll_interval=0.05
    )
    path, kwargs = trigger.serialize()
    assert path.endswith("AISquaredSyncRunTrigger") and json.loads(json.dumps(kwargs)) == kwargs
    event = await asyncio.wait_for(anext(AISquaredSyncRunTrigger(**kwargs).run()), 10)
    assert event.payload["status"] == "success" and event.payload["run"]["total_rows"] == 250


async def test_trigger_times_out_and_waits_for_a_run_after(server, make_sync, client) -> None:
    sync = make_sync()
    target = sync_target(sync).to_dict()
    future = "2099-01-01T00:00:00+00:00"
    trigger = AISquaredSyncRunTrigger(
        conn_id="aisquared_default",
        target=target,
        after=future,
        poll_interval=0.05,
        end_time=time.time() + 0.3,
    )
    event = await asyncio.wait_for(anext(trigger.run()), 10)
    assert event.payload["status"] == "timeout" and "AI Squared" in event.payload["message"]


class FakeTI:
    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}
        self.task_id, self.map_index, self.start_date = "t", -1, None

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def test_run_operator_refuses_clearly(server, make_sync, client) -> None:
    scheduled = make_sync(
        schedule_type="interval", sync_interval=1, sync_interval_unit="days", stream_name="a"
    )
    with pytest.raises(AirflowFailException, match=r"own schedule.*AISquaredSyncRunSensor"):
        AISquaredRunSyncOperator(task_id="t", sync_id=scheduled.id).execute({"ti": FakeTI()})
    with pytest.raises(AirflowFailException, match=r"not found"):
        AISquaredRunSyncOperator(task_id="t", sync_id="999").execute({"ti": FakeTI()})
    server.set_speed(rows_per_second=100)
    busy = make_sync()
    active = client.start_run(sync_target(busy))
    with pytest.raises(AirflowFailException, match=r"already running.*reuse_active_run=True"):
        AISquaredRunSyncOperator(task_id="t", sync_id=busy.id).execute({"ti": FakeTI()})
    ti = FakeTI()
    follower = AISquaredRunSyncOperator(
        task_id="t",
        sync_id=busy.id,
        reuse_active_run=True,
        deferrable=False,
        check_interval=0.05,
        timeout=0.3,
    )
    with pytest.raises(AirflowException, match=r"timed out; the run was cancelled"):
        follower.execute({"ti": ti})
    assert ti.xcom["aisquared_run_id"] == active.id
    assert client.get_run(sync_target(busy), active.id).status == "canceled"


def test_run_operator_kill_cancels_and_failed_rows_limit(server, make_sync, client) -> None:
    sync = make_sync()
    operator = AISquaredRunSyncOperator(task_id="t", sync_id=sync.id, deferrable=False, check_interval=0.05)
    with pytest.raises(AirflowException, match=r"10 row\(s\) failed \(max_failed_rows=3\)"):
        AISquaredRunSyncOperator(
            task_id="t", sync_id=sync.id, deferrable=False, check_interval=0.05, max_failed_rows=3
        ).execute({"ti": FakeTI()})
    server.set_speed(rows_per_second=50)
    run = client.start_run(sync_target(sync))
    operator._active = (sync_target(sync), run.id)
    operator.on_kill()
    assert client.get_run(sync_target(sync), run.id).status == "canceled"


def test_deferrable_operator_defers_and_validates_events(server, make_sync) -> None:
    from airflow.providers.common.compat.sdk import TaskDeferred

    server.set_speed(rows_per_second=100)
    sync = make_sync()
    operator = AISquaredRunSyncOperator(task_id="t", sync_id=sync.id, deferrable=True, timeout=60)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute({"ti": FakeTI()})
    assert isinstance(deferred.value.trigger, AISquaredSyncRunTrigger)
    with pytest.raises(AirflowException, match=r"Unexpected event"):
        operator.execute_complete({}, {"status": "weird"})
    with pytest.raises(AirflowException, match=r"failed: boom"):
        operator.execute_complete(
            {}, {"status": "error", "target": sync_target(sync).to_dict(), "message": "boom"}
        )


def test_create_operator_is_idempotent(server, demo) -> None:
    definition = {
        "source_id": str(demo.source_id),
        "destination_id": demo.destination_id,
        "model_id": demo.customers_model_id,
        "stream_name": "crm_contacts",
        "schedule_type": "manual",
        "sync_mode": "full_refresh",
        "configuration": {"id": "id", "email": "email"},  # required non-empty (API-FACTS)
    }
    first = AISquaredCreateSyncOperator(task_id="c", definition=definition).execute({})
    again = AISquaredCreateSyncOperator(
        task_id="c", definition={**definition, "sync_mode": "incremental", "cursor_field": "updated_at"}
    ).execute({})
    assert first["created"] and not again["created"] and again["id"] == first["id"]
    assert again["sync_mode"] == "full_refresh"  # left as it is without update_existing
    updated = AISquaredCreateSyncOperator(
        task_id="c",
        definition={**definition, "sync_mode": "incremental", "cursor_field": "updated_at"},
        update_existing=True,
    ).execute({})
    assert updated["id"] == first["id"] and updated["sync_mode"] == "incremental"
    with pytest.raises(AirflowFailException, match=r"Unknown sync field"):
        AISquaredCreateSyncOperator(task_id="c", definition={**definition, "modle_id": 1}).execute({})
    with pytest.raises(AirflowFailException, match=r"non-empty 'configuration'"):
        AISquaredCreateSyncOperator(task_id="c", definition={**definition, "configuration": {}}).execute({})
    assert TOKEN not in json.dumps(first)
