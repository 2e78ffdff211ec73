"""The synchronous and asynchronous CData Sync clients: the same operations, two drivers, two API versions."""

from __future__ import annotations

import dataclasses

import httpx

from airflow_provider_cdata_sync.client.config import ClientConfig, RetrySettings
from airflow_provider_cdata_sync.client.errors import CDataSyncMethodNotAllowedError, CDataSyncNotFoundError
from airflow_provider_cdata_sync.client.runner import AsyncRunner, SyncRunner
from airflow_provider_cdata_sync.client.runs import RunsApi
from airflow_provider_cdata_sync.client.v1 import RunsV1Api


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


class CDataSyncV1Client(RunsV1Api, SyncRunner):  # type: ignore[misc]  # config narrowed to ClientConfig
    """Synchronous client for servers that only speak the v1 OData API (before Sync 26.x)."""


class AsyncCDataSyncV1Client(RunsV1Api, AsyncRunner):  # type: ignore[misc]  # config narrowed to ClientConfig
    """Asynchronous v1 client."""


AnyClient = CDataSyncClient | CDataSyncV1Client
AnyAsyncClient = AsyncCDataSyncClient | AsyncCDataSyncV1Client


def _probe_config(config: ClientConfig) -> ClientConfig:
    return dataclasses.replace(config, retry=RetrySettings(max_retries=min(config.retry.max_retries, 2)))


def connect(config: ClientConfig, api_version: str | None = None) -> AnyClient:
    """A synchronous client for the configured API version; ``auto`` asks the server once (v2 if it
    answers ``GET /api.rsc/v2/workspaces``, v1 when that path does not exist)."""
    version = api_version or config.api_version
    if version == "v1":
        return CDataSyncV1Client(config)
    client = CDataSyncClient(config)
    if version == "auto":
        with CDataSyncClient(_probe_config(config)) as probe:
            try:
                probe.list_workspaces()
            except (CDataSyncNotFoundError, CDataSyncMethodNotAllowedError):
                client.close()
                return CDataSyncV1Client(config)
    return client


async def aconnect(
    config: ClientConfig, api_version: str | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> AnyAsyncClient:
    """The asynchronous counterpart of :func:`connect` (``transport``: another httpx transport)."""
    version = api_version or config.api_version
    if version == "v1":
        return AsyncCDataSyncV1Client(config, transport)
    if version == "auto":
        async with AsyncCDataSyncClient(_probe_config(config)) as probe:
            try:
                await probe.list_workspaces()
            except (CDataSyncNotFoundError, CDataSyncMethodNotAllowedError):
                return AsyncCDataSyncV1Client(config, transport)
    return AsyncCDataSyncClient(config, transport)
