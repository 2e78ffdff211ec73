"""AI Squared (open-source Multiwoven) syncs: trigger, watch and cancel sync runs from Airflow.

The client (no Airflow imports) shares the CData Sync client's transport, drivers, retry policy and
run-control engine::

    from airflow_provider_cdata_sync.aisquared import AISquaredClient, AISquaredConfig

Airflow parts: ``hooks.aisquared.AISquaredHook``, ``operators.aisquared``, ``sensors.aisquared``,
``triggers.aisquared`` (the old ``aisquared.hook``/``operators``/``sensors``/``triggers`` paths still work).
A local emulator for tests ships separately (distribution ``cdata-sync-emulator``):
``cdata_sync_emulator.aisquared.AISquaredEmulator``.
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
    AISquaredUnsupportedError,
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
    "AISquaredUnsupportedError",
    "AsyncAISquaredClient",
    "Sync",
    "SyncRecord",
    "SyncRun",
    "run_state",
]
