"""One deferred task per CData Sync job, with dynamic task mapping; then a report of all runs."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef]
    from airflow.decorators import task  # type: ignore[no-redef]

from airflow_provider_cdata_sync.operators.cdata_sync import CDataSyncRunJobOperator

# Seconds between status polls: 30 s suits real syncs; the test suite polls faster.
POLL_SECONDS = float(os.environ.get("CDATA_SYNC_EXAMPLE_POLL_SECONDS", "30"))

JOBS = ["DemoReplication", "DemoScheduledReplication"]

with DAG(
    dag_id="example_cdata_sync_dynamic_mapping",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["cdata_sync", "example"],
    doc_md=__doc__,
):
    runs = CDataSyncRunJobOperator.partial(
        task_id="run_job",
        deferrable=True,
        check_interval=POLL_SECONDS,
    ).expand(job=JOBS)

    @task
    def total_records(summaries: list[dict[str, Any]]) -> int:
        """Add up the records the runs moved."""
        total = sum(summary["records_affected"] or 0 for summary in summaries)
        print(f"{len(summaries)} job runs moved {total} records")
        return total

    total_records(runs.output)
