"""A CData Sync API client with no Airflow imports: usable on its own, sync or async."""

from __future__ import annotations

from airflow_provider_cdata_sync.client.clients import AsyncCDataSyncClient, CDataSyncClient
from airflow_provider_cdata_sync.client.config import ClientConfig, RetrySettings
from airflow_provider_cdata_sync.client.errors import (
    CDataSyncAPIError,
    CDataSyncAuthenticationError,
    CDataSyncConfigError,
    CDataSyncConflictError,
    CDataSyncError,
    CDataSyncLookupError,
    CDataSyncMethodNotAllowedError,
    CDataSyncNotFoundError,
    CDataSyncOutcomeUnknownError,
    CDataSyncRateLimitError,
    CDataSyncResponseError,
    CDataSyncServerError,
    CDataSyncTransportError,
    CDataSyncUnsupportedError,
)
from airflow_provider_cdata_sync.client.status import RunState, normalise_state

__all__ = [
    "AsyncCDataSyncClient",
    "CDataSyncAPIError",
    "CDataSyncAuthenticationError",
    "CDataSyncClient",
    "CDataSyncConfigError",
    "CDataSyncConflictError",
    "CDataSyncError",
    "CDataSyncLookupError",
    "CDataSyncMethodNotAllowedError",
    "CDataSyncNotFoundError",
    "CDataSyncOutcomeUnknownError",
    "CDataSyncRateLimitError",
    "CDataSyncResponseError",
    "CDataSyncServerError",
    "CDataSyncTransportError",
    "CDataSyncUnsupportedError",
    "ClientConfig",
    "RetrySettings",
    "RunState",
    "normalise_state",
]
