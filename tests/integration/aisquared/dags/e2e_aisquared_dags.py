"""DAGs used only by the AI Squared end-to-end tests (the sync id comes in the run's conf)."""

from __future__ import annotations

from datetime import datetime, timedelta

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef]

from airflow_provider_cdata_sync.operators.aisquared import AISquaredRunSyncOperator
from airflow_provider_cdata_sync.sensors.aisquared import AISquaredSyncRunSensor

START = datetime(2026, 1, 1)
SYNC = "{{ params.sync_id }}"
PARAMS = {"sync_id": "0", "after": ""}

with DAG("e2e_aisquared_blocking", start_date=START, schedule=None, catchup=False, params=PARAMS):
    AISquaredRunSyncOperator(task_id="run", sync_id=SYNC, deferrable=False, check_interval=0.1)

with DAG("e2e_aisquared_blocking_timeout", start_date=START, schedule=None, catchup=False, params=PARAMS):
    AISquaredRunSyncOperator(task_id="run", sync_id=SYNC, deferrable=False, check_interval=0.1, timeout=1)

with DAG("e2e_aisquared_deferred_timeout", start_date=START, schedule=None, catchup=False, params=PARAMS):
    AISquaredRunSyncOperator(task_id="run", sync_id=SYNC, deferrable=True, check_interval=0.1, timeout=1)

with DAG(
    "e2e_aisquared_deferred_execution_timeout", start_date=START, schedule=None, catchup=False, params=PARAMS
):
    AISquaredRunSyncOperator(
        task_id="run",
        sync_id=SYNC,
        deferrable=True,
        check_interval=0.1,
        execution_timeout=timedelta(seconds=4),
    )

with DAG("e2e_aisquared_sensor_after", start_date=START, schedule=None, catchup=False, params=PARAMS):
    AISquaredSyncRunSensor(
        task_id="wait",
        sync_id=SYNC,
        started_after="{{ params.after }}",
        poke_interval=0.1,
        timeout=30,
        deferrable=True,
    )

with DAG("e2e_aisquared_deferred", start_date=START, schedule=None, catchup=False, params=PARAMS):
    AISquaredRunSyncOperator(task_id="run", sync_id=SYNC, deferrable=True, check_interval=0.2)
