"""End-to-end: the AI Squared example DAG and the test DAGs run with dag.test() against the emulator."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from cdata_sync_emulator.aisquared import AISquaredEmulator, Demo
from cdata_sync_emulator.testing import count_rows

from airflow_provider_cdata_sync.aisquared.client import sync_target
from airflow_provider_cdata_sync.client.control import CLOCK_SKEW

pytestmark = pytest.mark.e2e


def test_dag_folder_parses_the_aisquared_dags(airflow_db: None) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert not bag.import_errors
    assert {"example_aisquared_sync", "e2e_aisquared_blocking", "e2e_aisquared_sensor_after"} <= set(
        bag.dag_ids
    )


def test_example_dag_creates_runs_deferred_and_confirms(
    server: AISquaredEmulator, demo: Demo, run_dag
) -> None:
    server.set_speed(rows_per_second=500)  # about half a second of copying: the wait is really deferred
    result = run_dag("example_aisquared_sync")

    assert result.states == {"create_sync": "success", "run_sync": "success", "confirm_run": "success"}
    created = result.xcom("create_sync")
    assert created["created"] is True and created["stream_name"] == "crm_contacts"
    summary = result.xcom("run_sync")
    good = demo.customers - demo.invalid_emails
    assert summary["status"] == "success" and summary["total_rows"] == demo.customers
    assert (summary["successful_rows"], summary["failed_rows"]) == (good, demo.invalid_emails)
    assert len(summary["failed_records"]) == 10 and "NOT NULL" in summary["failed_records"][0]["error"]
    assert result.xcom("run_sync", "aisquared_run_id") == summary["run_id"]
    assert result.xcom("confirm_run")["run_id"] == summary["run_id"]
    assert count_rows(demo.destination_db, "crm_contacts") == good
    assert "Deferring until run" in result.output
    assert f"{demo.customers} queried, {demo.customers} processed: {good} successful" in result.output
    assert "NOT NULL constraint failed: crm_contacts.email" in result.output

    again = run_dag("example_aisquared_sync")  # idempotent: the sync is reused, a second run made
    assert again.states["run_sync"] == "success"
    assert again.xcom("create_sync")["created"] is False
    assert again.xcom("create_sync")["id"] == created["id"]
    assert len(server.runs(created["id"])) == 2


def test_blocking_run_and_clear_failures(server: AISquaredEmulator, make_sync, client, run_dag) -> None:
    sync = make_sync()
    result = run_dag("e2e_aisquared_blocking", conf={"sync_id": sync.id})
    assert result.states == {"run": "success"}
    assert result.xcom("run")["run_id"] == server.runs(sync.id)[-1]["id"].__str__()
    assert "ended success" in result.output

    client.syncs.disable(sync.id)
    failed = run_dag("e2e_aisquared_blocking", conf={"sync_id": sync.id})
    assert failed.states == {"run": "failed"}
    assert "is disabled" in failed.output


def test_blocking_timeout_cancels_the_run(server: AISquaredEmulator, make_sync, run_dag) -> None:
    server.set_speed(rows_per_second=20)
    sync = make_sync()
    result = run_dag("e2e_aisquared_blocking_timeout", conf={"sync_id": sync.id})
    assert result.states == {"run": "failed"}
    assert "timed out; the run was cancelled" in result.output
    assert server.runs(sync.id)[-1]["status"] == "canceled"


def test_deferred_timeout_cancels_the_run(server: AISquaredEmulator, make_sync, run_dag) -> None:
    server.set_speed(rows_per_second=20)
    sync = make_sync()
    result = run_dag("e2e_aisquared_deferred_timeout", conf={"sync_id": sync.id})
    assert result.states == {"run": "failed"}
    assert "Timed out waiting for AI Squared" in result.output
    assert server.runs(sync.id)[-1]["status"] == "canceled"


def test_deferred_execution_timeout_cancels_the_run(server: AISquaredEmulator, make_sync, run_dag) -> None:
    server.set_speed(rows_per_second=20)
    sync = make_sync()
    result = run_dag("e2e_aisquared_deferred_execution_timeout", conf={"sync_id": sync.id})
    assert result.states == {"run": "failed"}
    assert server.runs(sync.id)[-1]["status"] == "canceled"


def test_sensor_waits_for_the_next_run_after_a_time(
    server: AISquaredEmulator, make_sync, client, run_dag
) -> None:
    sync = make_sync()
    old = client.start_run(sync_target(sync))
    server.wait_idle(10)
    time.sleep(0.1)
    # started_after allows for clock skew between Airflow and the server: place it so that only the new
    # run started after (started_after - CLOCK_SKEW).
    after = datetime.now(UTC) + CLOCK_SKEW - timedelta(seconds=0.05)
    server.set_speed(rows_per_second=500)
    new = client.start_run(sync_target(sync))  # runs while the sensor waits
    result = run_dag("e2e_aisquared_sensor_after", conf={"sync_id": sync.id, "after": after.isoformat()})
    assert result.states == {"wait": "success"}
    assert result.xcom("wait")["run_id"] == new.id != old.id
