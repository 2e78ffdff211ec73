"""Provider registration for Airflow (entry point ``apache_airflow_provider``). Imports nothing heavy."""

from __future__ import annotations

from typing import Any

from airflow_provider_cdata_sync import __version__
from airflow_provider_cdata_sync.connection_form import (
    aisquared_connection_type,
    provider_info_connection_type,
)

PACKAGE = "airflow_provider_cdata_sync"
HOOK_CLASS = f"{PACKAGE}.hooks.cdata_sync.CDataSyncHook"
INTEGRATION = "CData Sync"
AISQUARED = "AI Squared"


def _modules(kind: str) -> list[dict[str, Any]]:
    return [
        {"integration-name": INTEGRATION, "python-modules": [f"{PACKAGE}.{kind}.cdata_sync"]},
        {"integration-name": AISQUARED, "python-modules": [f"{PACKAGE}.{kind}.aisquared"]},
    ]


def _uri_scheme(kind: str) -> list[dict[str, Any]]:
    """Our ``cdata-sync://<server>/<connection>/<table>`` URIs (``asset-uris``; ``dataset-uris`` on 2.11)."""
    assets = f"{PACKAGE}.lineage.assets"
    return [
        {
            "schemes": ["cdata-sync"],
            "handler": f"{assets}.sanitize_uri",
            "factory": f"{assets}.create_asset",
            "to_openlineage_converter": f"{assets}.convert_asset_to_openlineage",
        }
    ]


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
            },
            {
                "integration-name": AISQUARED,
                "external-doc-url": "https://docs.squared.ai/",
                "tags": ["service"],
            },
        ],
        "hooks": _modules("hooks"),
        "operators": _modules("operators"),
        "sensors": _modules("sensors"),
        "triggers": _modules("triggers"),
        "extra-links": [
            f"{PACKAGE}.links.cdata_sync.CDataSyncJobLink",
            f"{PACKAGE}.links.cdata_sync.CDataSyncPipelineLink",
            f"{PACKAGE}.links.cdata_sync.CDataSyncTransformationLink",
        ],
        "asset-uris": _uri_scheme("asset"),
        "dataset-uris": _uri_scheme("dataset"),
        "connection-types": [provider_info_connection_type(HOOK_CLASS), aisquared_connection_type()],
    }
