"""Provider registration for Airflow (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_cdata_sync import __version__
from airflow_provider_cdata_sync.connection_form import provider_info_connection_type

HOOK_CLASS = "airflow_provider_cdata_sync.hooks.cdata_sync.CDataSyncHook"


def get_provider_info() -> dict[str, Any]:
    """Describe the provider: package, connection type with its form, hooks, operators, sensors, triggers."""
    return {
        "package-name": "airflow-provider-cdata-sync",
        "name": "CData Sync",
        "description": "Run, watch and cancel CData Sync jobs, pipelines and transformations from Airflow.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "CData Sync",
                "external-doc-url": "https://www.cdata.com/sync/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "CData Sync",
                "python-modules": ["airflow_provider_cdata_sync.hooks.cdata_sync"],
            }
        ],
        "connection-types": [provider_info_connection_type(HOOK_CLASS)],
    }
