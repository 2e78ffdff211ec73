"""The CData Sync API v2 client (Sync 26.x): workspaces, connections, jobs, transformations, pipelines and
users grouped by resource (``client.jobs.execute(...)``, ``client.connections.tables(...)``,
``client.pipelines.steps.move(...)``), plus the run control common to both API versions."""

from __future__ import annotations

from airflow_provider_cdata_sync.client.config import CDataRequestBuilder, ClientConfig
from airflow_provider_cdata_sync.client.errors import CDATA_SYNC, ServiceProfile
from airflow_provider_cdata_sync.client.http import Async, AsyncRunner, Sync, SyncRunner
from airflow_provider_cdata_sync.client.v2.connections import Connections
from airflow_provider_cdata_sync.client.v2.jobs import Jobs
from airflow_provider_cdata_sync.client.v2.pipelines import Pipelines
from airflow_provider_cdata_sync.client.v2.runs import RunsV2
from airflow_provider_cdata_sync.client.v2.transformations import Transformations
from airflow_provider_cdata_sync.client.v2.users import Users
from airflow_provider_cdata_sync.client.v2.workspaces import Workspaces


class CDataSyncClient(RunsV2, SyncRunner):
    """Synchronous CData Sync API v2 client (one keep-alive connection pool)::

        with CDataSyncClient(ClientConfig(base_url="http://sync:8181", token=token)) as client:
            job = client.jobs.resolve("NightlyLoad")
            run = client.jobs.execute(job.id)

    :param config: where the server is and how to authenticate.
    :param transport: another httpx transport (tests, proxies).
    """

    config: ClientConfig
    builder_class = CDataRequestBuilder
    default_profile: ServiceProfile = CDATA_SYNC
    workspaces: Workspaces[Sync]
    connections: Connections[Sync]
    jobs: Jobs[Sync]
    transformations: Transformations[Sync]
    pipelines: Pipelines[Sync]
    users: Users[Sync]


class AsyncCDataSyncClient(RunsV2, AsyncRunner):
    """Asynchronous CData Sync API v2 client, safe inside an event loop (triggers)::

        async with AsyncCDataSyncClient(config) as client:
            status = await client.jobs.status(job_id)

    :param config: where the server is and how to authenticate.
    :param transport: another httpx transport (tests, the poller's aiohttp pool).
    """

    config: ClientConfig
    builder_class = CDataRequestBuilder
    default_profile: ServiceProfile = CDATA_SYNC
    workspaces: Workspaces[Async]
    connections: Connections[Async]
    jobs: Jobs[Async]
    transformations: Transformations[Async]
    pipelines: Pipelines[Async]
    users: Users[Async]


__all__ = ["AsyncCDataSyncClient", "CDataSyncClient"]
