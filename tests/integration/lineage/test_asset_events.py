"""Asset events from a real dag.test() of the example producer: one event per table the CData Sync run
wrote, through the task's AssetAlias, with the run id, records, status and end time in the extra; the
example consumer (scheduled on the warehouse's ``orders`` asset) is queued by the event."""

from __future__ import annotations

import os
from typing import Any

import ol_helpers  # noqa: F401  (OpenLineage configured as for the other tests of this folder)
import pytest

pytest.importorskip("airflow.sdk")


def _host(server: Any) -> str:
    return server.base_url.split("://", 1)[1].rstrip("/")


def test_the_producer_emits_one_asset_event_per_written_table_and_queues_the_consumer(
    cdata_sync_connection: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.asset import AssetAliasModel, AssetDagRunQueue, AssetEvent
    from airflow.utils import db
    from airflow.utils.session import create_session
    from sqlalchemy import select

    server = cdata_sync_connection
    host = _host(server)
    monkeypatch.setenv("CDATA_SYNC_EXAMPLE_SERVER", host)
    db.initdb()
    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert not bag.import_errors, bag.import_errors
    consumer = bag.get_dag("example_cdata_sync_assets_consumer")
    _unpaused_in_db(bag, consumer.dag_id)

    dag_run = bag.get_dag("example_cdata_sync_assets_producer").test()
    (ti,) = dag_run.get_task_instances()
    assert str(ti.state) == "success"
    job_id = next(j["id"] for j in server.state()["jobs"] if j["name"] == "DemoReplication")
    run = server.runs(job_id=job_id)[-1]
    warehouse = server.data_dir / "demo" / "warehouse.db"
    assert warehouse.exists()

    with create_session() as session:
        events = session.scalars(
            select(AssetEvent).where(
                AssetEvent.source_dag_id == "example_cdata_sync_assets_producer",
                AssetEvent.source_run_id == dag_run.run_id,
            )
        ).all()
        by_uri = {event.asset.uri: event for event in events}
        expected = {f"sqlite://{host}/demo/warehouse.db/{t['table']}": t for t in run["tasks"]}
        assert sorted(by_uri) == sorted(expected)
        for uri, task in expected.items():
            extra = by_uri[uri].extra
            assert extra["run_id"] == run["id"]
            assert extra["records"] == task["records_affected"] > 0
            assert extra["status"] == "Success"
            assert extra["end_time"] and extra["end_time"][:19] == run["end_time"][:19]
            assert extra["target"] == "DemoReplication"
            assert [alias.name for alias in by_uri[uri].source_aliases] == ["cdata_sync_demo_warehouse"]
        alias = session.scalar(
            select(AssetAliasModel).where(AssetAliasModel.name == "cdata_sync_demo_warehouse")
        )
        assert alias is not None
        assert {a.uri for a in alias.assets} >= set(expected)
        queued = session.scalars(
            select(AssetDagRunQueue).where(AssetDagRunQueue.target_dag_id == consumer.dag_id)
        ).all()
        assert queued, "the consumer scheduled on the orders asset was queued by the event"
        # The consumer's task reads the records count from its triggering event (the event just written).
        orders = by_uri[f"sqlite://{host}/demo/warehouse.db/orders"]
        report = consumer.get_task("report_orders").python_callable
        (seen,) = report(triggering_asset_events={orders.asset.uri: [orders]})
        assert seen["records"] == expected[orders.asset.uri]["records_affected"] == 10000


def _unpaused_in_db(bag: Any, dag_id: str) -> None:
    """Write the folder's DAGs to the metadata DB (what the DAG processor does) and unpause one: the
    scheduler queues runs of unpaused DAGs only."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import sync_bag_to_db
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    sync_bag_to_db(bag, bundle_name="dags-folder", bundle_version=None)
    with create_session() as session:
        model = session.get(DagModel, dag_id)
        assert model is not None
        model.is_paused = False
