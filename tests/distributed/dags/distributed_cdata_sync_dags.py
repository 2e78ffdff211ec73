"""DAGs used only by the distributed tests (tests/distributed): many deferred job runs at once, and one
blocking job run on a Celery worker."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_cdata_sync.operators.cdata_sync import CDataSyncRunJobOperator

#: Seconds between status polls of the deferred waits (the shared poller's interval).
FLEET_CHECK_INTERVAL = 5

with DAG(
    "distributed_fleet",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    max_active_tasks=1000,
    params={"jobs": Param([], type="array", description="CData Sync job names, one mapped task each")},
):

    @task
    def job_names(params: dict[str, Any] | None = None) -> list[str]:
        return list((params or {})["jobs"])

    @task
    def count_successes(summaries: list[dict[str, Any]]) -> int:
        succeeded = [s for s in summaries if s["status"] == "success"]
        print(f"{len(succeeded)} of {len(summaries)} job runs succeeded")
        return len(succeeded)

    runs = CDataSyncRunJobOperator.partial(
        task_id="run_job", deferrable=True, check_interval=FLEET_CHECK_INTERVAL, retries=0
    ).expand(job=job_names())
    count_successes(runs.output)

with DAG(
    "distributed_blocking",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    params={"job": Param("DemoReplication", type="string")},
):
    CDataSyncRunJobOperator(
        task_id="run_blocking",
        job="{{ params.job }}",
        deferrable=False,
        check_interval=2,
        retries=1,
        retry_delay=timedelta(seconds=2),
    )
