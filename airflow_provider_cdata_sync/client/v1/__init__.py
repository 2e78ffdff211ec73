"""The CData Sync API v1 client (OData 4.0, name keys, all Sync versions): jobs, connections, tasks,
transformations, users, history and workspaces grouped by resource (``client.jobs.execute(...)``,
``client.connections.tables(...)``), plus the run control common to both API versions. Pipelines need v2."""

from __future__ import annotations

from airflow_provider_cdata_sync.client.config import CDataRequestBuilder, ClientConfig
from airflow_provider_cdata_sync.client.errors import CDATA_SYNC, ServiceProfile
from airflow_provider_cdata_sync.client.http import Async, AsyncRunner, Sync, SyncRunner
from airflow_provider_cdata_sync.client.v1.connections import Connections
from airflow_provider_cdata_sync.client.v1.history import History
from airflow_provider_cdata_sync.client.v1.jobs import Jobs
from airflow_provider_cdata_sync.client.v1.runs import V2_ONLY, RunsV1
from airflow_provider_cdata_sync.client.v1.tasks import Tasks
from airflow_provider_cdata_sync.client.v1.transformations import Transformations
from airflow_provider_cdata_sync.client.v1.users import Users
from airflow_provider_cdata_sync.client.v1.workspaces import Workspaces


class CDataSyncV1Client(RunsV1, SyncRunner):
    """Synchronous client for the v1 OData API (servers before Sync 26.x)::

        with CDataSyncV1Client(ClientConfig(base_url="http://sync:8181", token=token)) as client:
            client.jobs.execute("NightlyLoad")

    :param config: where the server is and how to authenticate.
    :param transport: another httpx transport (tests, proxies).
    """

    config: ClientConfig
    builder_class = CDataRequestBuilder
    default_profile: ServiceProfile = CDATA_SYNC
    jobs: Jobs[Sync]
    connections: Connections[Sync]
    tasks: Tasks[Sync]
    transformations: Transformations[Sync]
    users: Users[Sync]
    history: History[Sync]
    workspaces: Workspaces[Sync]


class AsyncCDataSyncV1Client(RunsV1, AsyncRunner):
    """Asynchronous v1 client, safe inside an event loop (triggers).

    :param config: where the server is and how to authenticate.
    :param transport: another httpx transport.
    """

    config: ClientConfig
    builder_class = CDataRequestBuilder
    default_profile: ServiceProfile = CDATA_SYNC
    jobs: Jobs[Async]
    connections: Connections[Async]
    tasks: Tasks[Async]
    transformations: Transformations[Async]
    users: Users[Async]
    history: History[Async]
    workspaces: Workspaces[Async]


__all__ = ["V2_ONLY", "AsyncCDataSyncV1Client", "CDataSyncV1Client"]
