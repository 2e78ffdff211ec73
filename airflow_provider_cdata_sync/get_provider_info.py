"""Provider registration for Airflow (entry point ``apache_airflow_provider``). Imports nothing heavy."""

from __future__ import annotations

from typing import Any

from airflow_provider_cdata_sync import __version__
from airflow_provider_cdata_sync.connection_form import provider_info_connection_type

PACKAGE = "airflow_provider_cdata_sync"
HOOK_CLASS = f"{PACKAGE}.hooks.cdata_sync.CDataSyncHook"
INTEGRATION = "CData Sync"


def _modules(*names: str) -> list[dict[str, Any]]:
    return [{"integration-name": INTEGRATION, "python-modules": [f"{PACKAGE}.{name}" for name in names]}]


def get_provider_info() -> dict[str, Any]:
    """Describe the provider: package, connection type with its form, hooks, operators, sensors, triggers."""
    return {
        "package-name": "airflow-provider-cdata-sync",
        "name": "CData Sync",
        "description": "Run, watch and cancel CData Sync jobs, pipelines and transformations from Airflow.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://www.cdata.com/sync/",
                "tags": ["service"],
            }
        ],
        "hooks": _modules("hooks.cdata_sync"),
        "operators": _modules("operators.cdata_sync"),
        "sensors": _modules("sensors.cdata_sync"),
        "triggers": _modules("triggers.cdata_sync"),
        "extra-links": [
            f"{PACKAGE}.links.cdata_sync.CDataSyncJobLink",
            f"{PACKAGE}.links.cdata_sync.CDataSyncPipelineLink",
            f"{PACKAGE}.links.cdata_sync.CDataSyncTransformationLink",
        ],
        "connection-types": [provider_info_connection_type(HOOK_CLASS)],
    }
