"""Assets, consumer side: runs each time the producer's replication wrote the warehouse's ``orders``
table, and reads the records count from the asset event that triggered it.

The asset URI is the table's dataset name (docs/lineage.md): for the demo warehouse on an emulator at
``localhost:8181``, ``sqlite://localhost:8181/demo/warehouse.db/orders``; set
``CDATA_SYNC_EXAMPLE_SERVER`` to the Sync server's host:port when it runs elsewhere.
"""

from __future__ import annotations

import os
from datetime import datetime

try:  # Airflow 3
    from airflow.sdk import DAG, Asset, task
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef]
    from airflow.datasets import Dataset as Asset  # type: ignore[no-redef]
    from airflow.decorators import task  # type: ignore[no-redef]

SERVER = os.environ.get("CDATA_SYNC_EXAMPLE_SERVER", "localhost:8181")
ORDERS = Asset(f"sqlite://{SERVER}/demo/warehouse.db/orders")

with DAG(
    dag_id="example_cdata_sync_assets_consumer",
    start_date=datetime(2026, 1, 1),
    schedule=[ORDERS],
    catchup=False,
    tags=["cdata_sync", "example", "assets"],
    doc_md=__doc__,
):

    @task
    def report_orders(**context):  # type: ignore[no-untyped-def]
        """Log (and return) what the triggering event says about the replication of orders."""
        events = context.get("triggering_asset_events") or context.get("triggering_dataset_events") or {}
        seen = []
        for _asset, asset_events in events.items():
            for event in asset_events:
                extra = event.extra or {}
                print(
                    f"orders: {extra.get('records')} record(s) written by CData Sync run "
                    f"{extra.get('run_id')} ({extra.get('status')}, ended {extra.get('end_time')})"
                )
                seen.append(extra)
        return seen

    report_orders()
