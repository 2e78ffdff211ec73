"""A client for the API version a server speaks: v2, v1, or ``auto`` (ask the server once)."""

from __future__ import annotations

import dataclasses

import httpx

from airflow_provider_cdata_sync.client.config import ClientConfig
from airflow_provider_cdata_sync.client.errors import CDataSyncMethodNotAllowedError, CDataSyncNotFoundError
from airflow_provider_cdata_sync.client.http import RetrySettings
from airflow_provider_cdata_sync.client.v1 import AsyncCDataSyncV1Client, CDataSyncV1Client
from airflow_provider_cdata_sync.client.v2 import AsyncCDataSyncClient, CDataSyncClient

#: A synchronous client of either API version: the run-control operations are the same on both.
RunClient = CDataSyncClient | CDataSyncV1Client
AsyncRunClient = AsyncCDataSyncClient | AsyncCDataSyncV1Client


def _probe_config(config: ClientConfig) -> ClientConfig:
    return dataclasses.replace(config, retry=RetrySettings(max_retries=min(config.retry.max_retries, 2)))


def detect_api_version(config: ClientConfig) -> str:
    """``v2`` when the server answers ``GET /api.rsc/v2/workspaces``, ``v1`` when that path does not exist.

    :param config: the server.
    """
    with CDataSyncClient(_probe_config(config)) as probe:
        try:
            probe.workspaces.list()
        except (CDataSyncNotFoundError, CDataSyncMethodNotAllowedError):
            return "v1"
    return "v2"


async def adetect_api_version(config: ClientConfig) -> str:
    """The asynchronous counterpart of :func:`detect_api_version`.

    :param config: the server.
    """
    async with AsyncCDataSyncClient(_probe_config(config)) as probe:
        try:
            await probe.workspaces.list()
        except (CDataSyncNotFoundError, CDataSyncMethodNotAllowedError):
            return "v1"
    return "v2"


def connect(config: ClientConfig, api_version: str | None = None) -> RunClient:
    """A synchronous client for the configured API version (``auto`` asks the server once).

    :param config: the server.
    :param api_version: ``v1``, ``v2`` or ``auto``; the configuration's by default.
    """
    version = api_version or config.api_version
    if version == "auto":
        version = detect_api_version(config)
    return CDataSyncV1Client(config) if version == "v1" else CDataSyncClient(config)


async def aconnect(
    config: ClientConfig, api_version: str | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncRunClient:
    """The asynchronous counterpart of :func:`connect`.

    :param config: the server.
    :param api_version: ``v1``, ``v2`` or ``auto``; the configuration's by default.
    :param transport: another httpx transport (the poller's aiohttp pool).
    """
    version = api_version or config.api_version
    if version == "auto":
        version = await adetect_api_version(config)
    if version == "v1":
        return AsyncCDataSyncV1Client(config, transport)
    return AsyncCDataSyncClient(config, transport)
