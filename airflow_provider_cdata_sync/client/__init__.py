"""A CData Sync API client with no Airflow imports: usable on its own, sync or async."""

from __future__ import annotations

from airflow_provider_cdata_sync.client.clients import (
    AnyAsyncClient,
    AnyClient,
    AsyncCDataSyncClient,
    AsyncCDataSyncV1Client,
    CDataSyncClient,
    CDataSyncV1Client,
    aconnect,
    connect,
)
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
    "AnyAsyncClient",
    "AnyClient",
    "AsyncCDataSyncClient",
    "AsyncCDataSyncV1Client",
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
    "CDataSyncV1Client",
    "ClientConfig",
    "RetrySettings",
    "RunState",
    "aconnect",
    "connect",
    "normalise_state",
]
