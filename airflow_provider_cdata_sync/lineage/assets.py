"""Airflow assets of replicated tables: one asset event per destination table a run wrote, added through
the ``AssetAlias`` outlets of the task (the tables are known only at run time), and the ``cdata-sync``
URI scheme (handler, factory, OpenLineage converter) registered in the provider info's ``asset-uris``
(``dataset-uris`` on Airflow 2.11) for tables whose system the naming spec does not cover.

Airflow is imported inside the functions only.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_provider_cdata_sync.lineage.model import RunLineage
from airflow_provider_cdata_sync.lineage.naming import SCHEME, parse_scheme_uri

if TYPE_CHECKING:
    from urllib.parse import SplitResult

log = logging.getLogger(__name__)


def _asset_classes() -> tuple[Any, Any]:
    try:
        from airflow.sdk import Asset, AssetAlias
    except ImportError:  # Airflow 2.11: Datasets
        from airflow.datasets import Dataset as Asset  # type: ignore[no-redef]
        from airflow.datasets import DatasetAlias as AssetAlias  # type: ignore[no-redef]
    return Asset, AssetAlias


def asset_events(lineage: RunLineage) -> list[tuple[str, dict[str, Any]]]:
    """``(uri, extra)`` per destination table the run wrote successfully: the extra holds the run id,
    records (the rows written to that table), status and end time, and what ran."""
    end = lineage.end_time.isoformat() if lineage.end_time else None
    events = []
    for item in lineage.outputs:
        if not item.ok:
            continue
        extra = {
            "service": lineage.service,
            "kind": lineage.kind,
            "target": lineage.target_name,
            "target_id": lineage.target_id,
            "run_id": lineage.run_id,
            "status": lineage.status,
            "records": item.rows,
            "end_time": end,
            "namespace": item.dataset.namespace,
            "name": item.dataset.name,
        }
        events.append((item.dataset.uri, extra))
    return events


def aliases_of(outlets: Any) -> list[Any]:
    """The ``AssetAlias`` objects among a task's outlets."""
    _, alias_class = _asset_classes()
    return [outlet for outlet in outlets or [] if isinstance(outlet, alias_class)]


def emit_asset_events(context: Any, outlets: Any, lineage: RunLineage | None) -> int:
    """Add one asset event per written table to every ``AssetAlias`` outlet; returns how many."""
    aliases = aliases_of(outlets)
    if not aliases or lineage is None:
        return 0
    asset_class, _ = _asset_classes()
    outlet_events = context["outlet_events"]
    added = 0
    for uri, extra in asset_events(lineage):
        for alias in aliases:
            try:
                asset = asset_class(uri=uri)
            except (ValueError, TypeError) as exc:  # a URI a provider's normalizer refuses
                log.warning("No asset event for %s: %s", uri, exc)
                continue
            outlet_events[alias].add(asset, extra=extra)
            added += 1
    return added


def alias(name: str) -> Any:
    """An ``AssetAlias`` (``DatasetAlias`` on Airflow 2.11) by name."""
    _, alias_class = _asset_classes()
    return alias_class(name)


# ------------------------------------------------------------------ the cdata-sync:// URI scheme
def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's URI handler for ``cdata-sync://<server>/<connection>/<table>``: all three are needed."""
    parse_scheme_uri(uri.geturl())
    return uri


def create_asset(*, server: str, connection: str, table: str, extra: dict[str, Any] | None = None) -> Any:
    """The asset of a table named with the fallback namespace (the hook lineage collector's factory)."""
    asset_class, _ = _asset_classes()
    uri = f"{SCHEME}://{server}/{quote(connection, safe='')}/{quote(table, safe='.')}"
    return asset_class(uri=uri, extra=extra) if extra else asset_class(uri=uri)


def convert_asset_to_openlineage(asset: Any, lineage_context: Any) -> Any:
    """``cdata-sync://<server>/<connection>/<table>`` as the OpenLineage dataset it names: namespace
    ``cdata-sync://<server>/<connection>``, name ``<table>``."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    server, connection, table = parse_scheme_uri(asset.uri)
    return Dataset(namespace=f"{SCHEME}://{server}/{quote(connection, safe='')}", name=table)
