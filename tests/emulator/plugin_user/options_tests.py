"""A user's tests: the options apply, the connections are set, and each test finds the emulators clean."""

import json
import os

import httpx


def test_options_and_connections(cdata_sync_connection, aisquared_connection):
    assert cdata_sync_connection.token == "my-cdata-token"
    jobs = httpx.get(
        f"{cdata_sync_connection.api_url}/v2/workspaces/default/jobs", headers=cdata_sync_connection.headers
    )
    assert jobs.json()["value"] == []  # seed_demo off
    cdata = json.loads(os.environ["AIRFLOW_CONN_CDATA_SYNC_DEFAULT"])
    assert cdata == {
        "conn_type": "cdata_sync",
        "host": cdata_sync_connection.base_url,
        "password": "my-cdata-token",
    }
    aisquared = json.loads(os.environ["AIRFLOW_CONN_AISQUARED_DEFAULT"])
    assert aisquared == {
        "conn_type": "aisquared",
        "host": aisquared_connection.api_url,
        "password": "my-aisquared-token",
        "extra": {"workspace_id": "42"},
    }
    cdata_sync_connection.inject_fault(r"/api\.rsc/v2/workspaces", count=5)
    cdata_sync_connection.set_speed(min_run_seconds=9)
    aisquared_connection.inject_fault(r"/api/v1/syncs", count=5)
    aisquared_connection.set_speed(step_seconds=9)


def test_the_next_test_finds_them_clean(cdata_sync_emulator, aisquared_emulator):
    assert "AIRFLOW_CONN_CDATA_SYNC_DEFAULT" not in os.environ
    assert "AIRFLOW_CONN_AISQUARED_DEFAULT" not in os.environ
    assert cdata_sync_emulator.faults() == []
    assert cdata_sync_emulator.core.engine.speed.min_run_seconds == 0.0
    assert aisquared_emulator.faults.list() == []
    assert aisquared_emulator.engine.speed.step_seconds == 0.05
