"""The lineage of an AI Squared (Multiwoven) sync run: the tables the sync's model reads on its source
connector (inputs) and the destination stream it writes (output, rows = successful rows). Connectors and
models are read from the list endpoints (one call each, cached for the run). No Airflow import."""

from __future__ import annotations

import builtins
import logging
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_cdata_sync.aisquared.models import Sync, SyncRun
from airflow_provider_cdata_sync.client.http import ApiRequest, Call, D, Resource, operation
from airflow_provider_cdata_sync.client.models import SyncModel
from airflow_provider_cdata_sync.lineage.model import LineageDataset, RunLineage, TaskOutcome
from airflow_provider_cdata_sync.lineage.naming import ConnectionInfo, dataset_name
from airflow_provider_cdata_sync.lineage.sql import tables_of_sql

log = logging.getLogger(__name__)

SERVICE = "AI Squared"


class Connector(SyncModel):
    """A source or destination connector (``configuration`` holds host, database... per connector)."""

    id: str | None = None
    name: str | None = None
    connector_type: str | None = None
    connector_name: str | None = None
    configuration: dict[str, Any] | None = None


class Model(SyncModel):
    """A model: a query on a source connector."""

    id: str | None = None
    name: str | None = None
    connector_id: str | None = None
    query: str | None = None
    query_type: str | None = None
    primary_key: str | None = None


class Catalog(Resource[D]):
    """The connectors and models of the workspace (read-only, for lineage)."""

    @operation
    def connectors(self) -> Call[builtins.list[Connector]]:
        """Every connector."""
        return (yield from self._many(ApiRequest("GET", "connectors", params={"per_page": 100}), Connector))

    @operation
    def models(self) -> Call[builtins.list[Model]]:
        """Every model."""
        return (yield from self._many(ApiRequest("GET", "models", params={"per_page": 100}), Model))


def _server(client: Any) -> str:
    url = str(getattr(getattr(client, "config", None), "base_url", "") or "")
    return urlsplit(url).netloc or url or "localhost"


class AISquaredLineage:
    """Builds :class:`RunLineage` for sync runs of one AI Squared server (one instance per run).

    :param client: a synchronous :class:`~airflow_provider_cdata_sync.aisquared.client.AISquaredClient`.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.server = _server(client)
        self._catalog: Catalog[Any] = Catalog(client)
        self._connectors: dict[str, Connector] | None = None
        self._models: dict[str, Model] | None = None

    def _lookup(self, lineage: RunLineage, what: str) -> dict[str, Any]:
        cached = self._connectors if what == "connectors" else self._models
        if cached is not None:
            return cached
        try:
            items = getattr(self._catalog, what)()
        except Exception as exc:
            lineage.problems.append(f"{what}: {exc}")
            items = []
        found = {str(item.id): item for item in items}
        if what == "connectors":
            self._connectors = found
        else:
            self._models = found
        return found

    def _info(self, connector: Connector | None, fallback_name: str) -> ConnectionInfo:
        if connector is None:
            return ConnectionInfo(name=fallback_name, connector=None, server=self.server)
        return ConnectionInfo(
            name=connector.name or fallback_name,
            connector=connector.connector_name,
            properties=dict(connector.configuration or {}),
            server=self.server,
            id=str(connector.id),
        )

    def build(self, sync: Sync, run: SyncRun | None) -> RunLineage:
        """The lineage of a sync run (``run`` None: the sync's datasets, no counts)."""
        lineage = RunLineage(
            service=SERVICE,
            kind="sync",
            target_id=str(sync.id),
            target_name=sync.name or sync.stream_name or str(sync.id),
            run_id=str(run.id) if run and run.id else None,
            status=run.status if run else None,
            state=run.state.value if run else "unknown",
            server=self.server,
            records=run.successful_rows if run else None,
            error=run.error_text if run else None,
            start_time=run.started if run else None,
            end_time=run.end_time if run else None,
        )
        if run is not None:
            lineage.extra = {
                key: getattr(run, key)
                for key in ("total_query_rows", "successful_rows", "failed_rows", "skipped_rows")
                if getattr(run, key) is not None
            }
            lineage.tasks.append(
                TaskOutcome(
                    task=str(sync.stream_name or sync.id),
                    status=run.status,
                    records=run.successful_rows,
                    error=run.error_text,
                    table=sync.stream_name,
                    kind="sync",
                )
            )
        connectors = self._lookup(lineage, "connectors")
        models = self._lookup(lineage, "models")
        source = self._info(connectors.get(str(sync.source_id)), f"source-{sync.source_id}")
        destination = self._info(
            connectors.get(str(sync.destination_id)), f"destination-{sync.destination_id}"
        )
        model = models.get(str(sync.model_id))
        reads = tables_of_sql(model.query).reads if model and model.query else ()
        for table in reads or (f"model:{model.name if model and model.name else sync.model_id}",):
            lineage.add_input(LineageDataset(dataset_name(source, table), source.name, tasks=[str(sync.id)]))
        if sync.stream_name:
            ok = run is None or run.state.value in ("success", "warning")
            lineage.add_output(
                LineageDataset(
                    dataset_name(destination, sync.stream_name),
                    destination.name,
                    rows=run.successful_rows if run else None,
                    tasks=[str(sync.id)],
                    ok=ok,
                )
            )
        return lineage
