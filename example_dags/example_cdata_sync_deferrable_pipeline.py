"""A CData Sync pipeline (replication, then transformation) waited for in the triggerer.

While the pipeline runs, the task frees its worker slot; the trigger polls asynchronously. The remote log
comes back into this task's log when it resumes. The summary is read downstream from XCom.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef]
    from airflow.decorators import task  # type: ignore[no-redef]

from airflow_provider_cdata_sync.operators.cdata_sync import CDataSyncRunPipelineOperator

# Seconds between status polls: 30 s suits real syncs; the test suite polls faster.
POLL_SECONDS = float(os.environ.get("CDATA_SYNC_EXAMPLE_POLL_SECONDS", "30"))

with DAG(
    dag_id="example_cdata_sync_deferrable_pipeline",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["cdata_sync", "example"],
    doc_md=__doc__,
):
    run_pipeline = CDataSyncRunPipelineOperator(
        task_id="run_pipeline",
        pipeline="DemoPipeline",
        deferrable=True,
        check_interval=POLL_SECONDS,
        execution_timeout=timedelta(hours=2),  # the run is cancelled before Airflow gives up
    )

    @task
    def report(summary: dict[str, Any]) -> str:
        """Print what the pipeline did."""
        line = f"{summary['name']}: {summary['status']}, run {summary['run_id']}"
        print(line)
        return line

    report(run_pipeline.output)
