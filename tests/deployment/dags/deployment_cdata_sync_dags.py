"""DAGs used only by the deployment tests: a run through the connection saved in the UI's form."""

from __future__ import annotations

from datetime import datetime, timedelta

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef]

from airflow_provider_cdata_sync.operators.cdata_sync import CDataSyncRunJobOperator

with DAG(
    "deployment_cdata_sync_ui_connection", start_date=datetime(2026, 1, 1), schedule=None, catchup=False
):
    CDataSyncRunJobOperator(
        task_id="run_with_ui_connection",
        job="DemoReplication",
        tasks=["products"],
        cdata_sync_conn_id="cdata_sync_ui",
        deferrable=True,
        check_interval=1,
    )

# A blocking wait with a retry: the deployment test SIGKILLs the task's process while it waits, and the retry
# must follow the same remote run (Airflow 3.3: the run id is kept in the task state store).
with DAG("deployment_cdata_sync_durable", start_date=datetime(2026, 1, 1), schedule=None, catchup=False):
    CDataSyncRunJobOperator(
        task_id="run_blocking",
        job="DemoReplication",
        deferrable=False,
        check_interval=1,
        retries=1,
        retry_delay=timedelta(seconds=1),
    )
