"""Assets, producer side: replicate the demo shop into the warehouse and emit one asset event per table
written, through an ``AssetAlias`` (the tables are known only when the run ends).

Each event's URI names the destination table the OpenLineage way (docs/lineage.md), e.g.
``sqlite://localhost:8181/demo/warehouse.db/orders`` for the demo warehouse; its extra holds the CData
Sync run id, the records written to that table, the run's status and its end time. With the
``[openlineage]`` extra installed and a transport configured, the same run is also sent to OpenLineage.
"""

from __future__ import annotations

import os
from datetime import datetime

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef]

from airflow_provider_cdata_sync.operators.cdata_sync import CDataSyncRunJobOperator

POLL_SECONDS = float(os.environ.get("CDATA_SYNC_EXAMPLE_POLL_SECONDS", "30"))

with DAG(
    dag_id="example_cdata_sync_assets_producer",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["cdata_sync", "example", "assets"],
    doc_md=__doc__,
):
    CDataSyncRunJobOperator(
        task_id="replicate_shop",
        job="DemoReplication",
        asset_alias="cdata_sync_demo_warehouse",  # one asset event per table written
        check_interval=POLL_SECONDS,
        deferrable=False,
    )
