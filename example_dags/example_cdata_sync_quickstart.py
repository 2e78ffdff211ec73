"""Quickstart: replicate the demo shop into the warehouse, then build a revenue table there.

Runs against ``make demo``'s emulator (``--seed-demo``) or any CData Sync server with the same names.
The replication waits in the worker (blocking) and streams the CData Sync log into the task log.
"""

from __future__ import annotations

import os
from datetime import datetime

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef]

from airflow_provider_cdata_sync.operators.cdata_sync import (
    CDataSyncRunJobOperator,
    CDataSyncRunTransformationOperator,
)

# Seconds between status polls: 30 s suits real syncs; the test suite polls faster.
POLL_SECONDS = float(os.environ.get("CDATA_SYNC_EXAMPLE_POLL_SECONDS", "30"))

with DAG(
    dag_id="example_cdata_sync_quickstart",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["cdata_sync", "example"],
    doc_md=__doc__,
):
    replicate = CDataSyncRunJobOperator(
        task_id="replicate_shop",
        job="DemoReplication",
        check_interval=POLL_SECONDS,
        timeout=3600,  # cancel the run if it takes more than an hour
        deferrable=False,
    )
    build_revenue = CDataSyncRunTransformationOperator(
        task_id="build_customer_revenue",
        transformation="DemoCustomerRevenue",
        check_interval=POLL_SECONDS,
        deferrable=False,
    )
    replicate >> build_revenue
