"""AI Squared (open-source Multiwoven) syncs: trigger, watch and cancel sync runs from Airflow.

The client (no Airflow imports) reuses the CData Sync client's transport, drivers and retry policy::

    from airflow_provider_cdata_sync.aisquared import AISquaredClient, AISquaredConfig

Airflow parts: ``aisquared.hook.AISquaredHook``, ``aisquared.operators``, ``aisquared.sensors``,
``aisquared.triggers``; a local emulator: ``aisquared.emulator.AISquaredEmulator``.
"""

from __future__ import annotations

from airflow_provider_cdata_sync.aisquared.client import AISquaredClient, AsyncAISquaredClient
from airflow_provider_cdata_sync.aisquared.config import DEFAULT_BASE_URL, AISquaredConfig
from airflow_provider_cdata_sync.aisquared.errors import (
    AISquaredAPIError,
    AISquaredAuthenticationError,
    AISquaredConfigError,
    AISquaredError,
    AISquaredNotFoundError,
    AISquaredResponseError,
    AISquaredRunNotFoundError,
    AISquaredSyncNotRunnableError,
    AISquaredTransportError,
)
from airflow_provider_cdata_sync.aisquared.models import Sync, SyncRecord, SyncRun, run_state

__all__ = [
    "DEFAULT_BASE_URL",
    "AISquaredAPIError",
    "AISquaredAuthenticationError",
    "AISquaredClient",
    "AISquaredConfig",
    "AISquaredConfigError",
    "AISquaredError",
    "AISquaredNotFoundError",
    "AISquaredResponseError",
    "AISquaredRunNotFoundError",
    "AISquaredSyncNotRunnableError",
    "AISquaredTransportError",
    "AsyncAISquaredClient",
    "Sync",
    "SyncRecord",
    "SyncRun",
    "run_state",
]
