"""Wait for a job that CData Sync schedules itself, then use its data.

``DemoScheduledReplication`` runs every 5 minutes inside Sync. This DAG does not start it: the sensor waits
until the job's history shows a successful run that started after ``since`` (default: the start of this DAG
run's data interval), failing fast if such a run failed.
"""

from __future__ import annotations

import os
from datetime import datetime

try:  # Airflow 3
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef]
    from airflow.models.param import Param  # type: ignore[no-redef]

from airflow_provider_cdata_sync.operators.cdata_sync import CDataSyncRunTransformationOperator
from airflow_provider_cdata_sync.sensors.cdata_sync import CDataSyncJobHistorySensor

# Seconds between status polls: 30 s suits real syncs; the test suite polls faster.
POLL_SECONDS = float(os.environ.get("CDATA_SYNC_EXAMPLE_POLL_SECONDS", "30"))

with DAG(
    dag_id="example_cdata_sync_history_sensor",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["cdata_sync", "example"],
    params={
        "since": Param(None, type=["null", "string"], description="ISO time; default: data interval start")
    },
    doc_md=__doc__,
):
    wait = CDataSyncJobHistorySensor(
        task_id="wait_for_scheduled_sync",
        job="DemoScheduledReplication",
        started_after="{{ params.since or data_interval_start or '' }}",
        fail_on_failure=True,
        deferrable=True,
        poke_interval=POLL_SECONDS,
        timeout=15 * 60,
    )
    refresh = CDataSyncRunTransformationOperator(
        task_id="refresh_revenue",
        transformation="DemoCustomerRevenue",
        check_interval=POLL_SECONDS,
    )
    wait >> refresh
