"""DAGs used only by the end-to-end tests: timeouts that must cancel the remote run, and sensors."""

from __future__ import annotations

from datetime import datetime, timedelta

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef]

from airflow_provider_cdata_sync.operators.cdata_sync import CDataSyncRunJobOperator
from airflow_provider_cdata_sync.sensors.cdata_sync import CDataSyncJobSensor

START = datetime(2026, 1, 1)

with DAG("e2e_blocking_timeout", start_date=START, schedule=None, catchup=False):
    CDataSyncRunJobOperator(
        task_id="run", job="DemoReplication", timeout=2, check_interval=0.5, deferrable=False
    )

with DAG("e2e_deferred_timeout", start_date=START, schedule=None, catchup=False):
    CDataSyncRunJobOperator(
        task_id="run", job="DemoReplication", timeout=2, check_interval=0.5, deferrable=True
    )

with DAG("e2e_deferred_execution_timeout", start_date=START, schedule=None, catchup=False):
    CDataSyncRunJobOperator(
        task_id="run",
        job="DemoReplication",
        check_interval=0.5,
        deferrable=True,
        execution_timeout=timedelta(seconds=6),
    )

with DAG("e2e_job_sensor", start_date=START, schedule=None, catchup=False, params={"deferrable": False}):
    CDataSyncJobSensor(task_id="wait_poke", job="DemoReplication", poke_interval=0.5, timeout=60)
    CDataSyncJobSensor(
        task_id="wait_deferred", job="DemoReplication", poke_interval=0.5, timeout=60, deferrable=True
    )
