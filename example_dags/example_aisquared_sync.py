"""AI Squared (Multiwoven): create a manual sync from the shop database into the CRM (idempotently), run
it while waiting in the triggerer, then confirm the run with a sensor.

Runs against the AI Squared emulator (``AISquaredEmulator(..., seed_demo=True)``: source 1, destination
2, model 1) or any AI Squared workspace: set the params to your connector and model ids. The connection
``aisquared_default`` holds the API base URL, the bearer token and the workspace id.
"""

from __future__ import annotations

import os
from datetime import datetime

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef]

from airflow_provider_cdata_sync.aisquared.operators import (
    AISquaredCreateSyncOperator,
    AISquaredRunSyncOperator,
)
from airflow_provider_cdata_sync.aisquared.sensors import AISquaredSyncRunSensor

# Seconds between status polls: 30 s suits real syncs; the test suite polls faster.
POLL_SECONDS = float(os.environ.get("AISQUARED_EXAMPLE_POLL_SECONDS", "30"))
SYNC_ID = "{{ ti.xcom_pull(task_ids='create_sync')['id'] }}"

with DAG(
    dag_id="example_aisquared_sync",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["aisquared", "example"],
    doc_md=__doc__,
    params={"source_id": 1, "destination_id": 2, "model_id": 1, "stream_name": "crm_contacts"},
):
    create = AISquaredCreateSyncOperator(
        task_id="create_sync",
        definition={
            "source_id": "{{ params.source_id }}",
            "destination_id": "{{ params.destination_id }}",
            "model_id": "{{ params.model_id }}",
            "stream_name": "{{ params.stream_name }}",
            "schedule_type": "manual",
            "sync_mode": "full_refresh",
            # model column -> destination field
            "configuration": {"id": "id", "name": "full_name", "email": "email", "plan": "plan"},
        },
    )
    run = AISquaredRunSyncOperator(
        task_id="run_sync",
        sync_id=SYNC_ID,
        deferrable=True,  # wait in the triggerer, not in a worker slot
        check_interval=POLL_SECONDS,
        timeout=3600,  # cancel the run if it takes more than an hour
        max_failed_rows=50,  # a few rejected records are fine; more fail the task
    )
    confirm = AISquaredSyncRunSensor(
        task_id="confirm_run",
        sync_id=SYNC_ID,
        run_id="{{ ti.xcom_pull(task_ids='run_sync', key='aisquared_run_id') }}",
        poke_interval=POLL_SECONDS,
        timeout=600,
    )
    create >> run >> confirm
