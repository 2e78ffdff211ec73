"""Issue 15 on a real Airflow 3.3: the assets producer example replicates the demo shop; its asset events
(one per table written, through an AssetAlias) create the consumer's DAG run, whose task reads the records
count from the triggering event; Airflow's REST API shows the events with their extra; and the OpenLineage
events the task sent (file transport) parse in the OpenLineage client's own model, with the tables written
and their row counts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.deployment.harness import AirflowDeployment, wait_for

pytestmark = pytest.mark.deployment

PRODUCER = "example_cdata_sync_assets_producer"
CONSUMER = "example_cdata_sync_assets_consumer"


def dag_runs(airflow: AirflowDeployment, dag_id: str) -> list[dict[str, Any]]:
    return list(
        airflow.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100}).json()["dag_runs"]
    )


def test_the_producers_asset_events_run_the_consumer_and_reach_openlineage(
    airflow: AirflowDeployment,
) -> None:
    from tests.integration.lineage.ol_helpers import outputs_by_name, parse

    consumer_runs_before = len(dag_runs(airflow, CONSUMER))
    run_id = airflow.trigger(PRODUCER)
    assert airflow.wait_run(PRODUCER, run_id, timeout=180) == "success"
    remote = next(r for r in reversed(airflow.emulator.runs()) if r.get("status") == "Success")
    orders_records = next(t["records_affected"] for t in remote["tasks"] if t["table"] == "orders")

    created = wait_for(
        "the consumer's DAG run",
        lambda: dag_runs(airflow, CONSUMER)[consumer_runs_before:] or None,
        timeout=90,
    )
    consumer_run = created[0]["dag_run_id"]
    assert airflow.wait_run(CONSUMER, consumer_run, timeout=120) == "success"

    events = airflow.api("GET", "/api/v2/assets/events", params={"limit": 100}).json()["asset_events"]
    ours = [e for e in events if e["source_dag_id"] == PRODUCER and e["source_run_id"] == run_id]
    by_table = {e["uri"].rsplit("/", 1)[-1]: e for e in ours}
    assert {"customers", "orders", "order_items", "products"} <= set(by_table), sorted(by_table)
    orders = by_table["orders"]
    assert (
        orders["extra"]["records"] == orders_records and orders["extra"]["status"] == "Success"
    )  # the server's word
    assert str(orders["extra"]["run_id"]) == str(remote["id"])
    assert consumer_run in [r.get("run_id", r.get("dag_run_id")) for r in orders["created_dagruns"]]
    log = airflow.task_log(CONSUMER, consumer_run, "report_orders")
    assert f"orders: {orders_records} record(s) written by CData Sync run {remote['id']}" in log

    lines = airflow.openlineage_events.read_text().splitlines() if airflow.openlineage_events.exists() else []
    complete = [
        e
        for e in map(json.loads, lines)
        if e["eventType"] == "COMPLETE" and e["job"]["name"] == f"{PRODUCER}.replicate_shop"
    ]
    assert complete, f"no COMPLETE OpenLineage event among {len(lines)} written"
    event = parse(complete[-1])  # the OpenLineage client's own model accepts it
    written = {name.rsplit(".", 1)[-1].rsplit("/", 1)[-1]: d for name, d in outputs_by_name(event).items()}
    assert written["orders"].outputFacets["outputStatistics"].rowCount == orders_records
    assert event.run.facets["cdataSync"].runId == str(remote["id"])
