"""Run the CData Sync job chosen in the Airflow UI's trigger form (optionally only some of its tables)."""

from __future__ import annotations

import os
from datetime import datetime

try:  # Airflow 3
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef]
    from airflow.models.param import Param  # type: ignore[no-redef]

from airflow_provider_cdata_sync.operators.cdata_sync import CDataSyncRunJobOperator

# Seconds between status polls: 30 s suits real syncs; the test suite polls faster.
POLL_SECONDS = float(os.environ.get("CDATA_SYNC_EXAMPLE_POLL_SECONDS", "30"))

with DAG(
    dag_id="example_cdata_sync_params",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["cdata_sync", "example"],
    render_template_as_native_obj=True,  # so that the tasks list renders as a list
    params={
        "job": Param(
            "DemoReplication",
            type="string",
            title="CData Sync job",
            description="Name or id of the job to run.",
            examples=["DemoReplication", "DemoScheduledReplication", "DemoBrokenReplication"],
        ),
        "tasks": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Only these tables",
            description="Task ids or table names; empty runs every task.",
        ),
    },
    doc_md=__doc__,
):
    CDataSyncRunJobOperator(
        task_id="run_chosen_job",
        job="{{ params.job }}",
        tasks="{{ params.tasks }}",
        deferrable=True,
        check_interval=POLL_SECONDS,
    )
