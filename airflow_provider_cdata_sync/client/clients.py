"""The synchronous and asynchronous CData Sync clients: the same operations, two drivers."""

from __future__ import annotations

from airflow_provider_cdata_sync.client.runner import AsyncRunner, SyncRunner
from airflow_provider_cdata_sync.client.runs import RunsApi


class CDataSyncClient(RunsApi, SyncRunner):  # type: ignore[misc]  # config narrowed to ClientConfig
    """Synchronous CData Sync client (one keep-alive connection pool)::

    with CDataSyncClient(ClientConfig(base_url="http://sync:8181", token=token)) as client:
        job = client.resolve_job("NightlyLoad")
        run = client.execute_job(job.id)
    """


class AsyncCDataSyncClient(RunsApi, AsyncRunner):  # type: ignore[misc]  # config narrowed to ClientConfig
    """Asynchronous CData Sync client, safe inside an event loop (triggers)::

    async with AsyncCDataSyncClient(config) as client:
        status = await client.get_job_status(job_id)
    """
