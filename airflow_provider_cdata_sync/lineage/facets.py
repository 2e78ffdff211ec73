"""OpenLineage datasets and facets of a run's :class:`~.model.RunLineage`, and the ``OperatorLineage`` the
run operators return. Needs the ``[openlineage]`` extra (``openlineage-python``); the operators import
this module only inside their OpenLineage methods, so nothing else depends on it.

Facets: ``schema`` (the table's columns), ``dataSource`` (the connection), ``outputStatistics`` (rows =
records affected), ``columnLineage`` (plain copies), ``externalQuery`` (the remote run id), ``cdataSync``
(ours: the run, its status and its tasks' records and errors) and ``errorMessage`` (failed runs).
"""

from __future__ import annotations

from typing import Any, ClassVar

import attr
from openlineage.client.event_v2 import InputDataset, OutputDataset
from openlineage.client.facet_v2 import (
    RunFacet,
    column_lineage_dataset,
    datasource_dataset,
    error_message_run,
    external_query_run,
    output_statistics_output_dataset,
    schema_dataset,
)

from airflow_provider_cdata_sync.lineage.model import LineageDataset, RunLineage

#: Where the ``cdataSync`` run facet is described.
FACET_SCHEMA_URL = "https://github.com/cdata-sync/airflow-provider-cdata-sync/blob/main/docs/lineage.md#the-cdatasync-run-facet"
#: Most tasks listed in the ``cdataSync`` facet (the rest are counted).
MAX_FACET_TASKS = 500


@attr.define
class CDataSyncRunFacet(RunFacet):
    """The ``cdataSync`` run facet: what ran on the CData Sync (or AI Squared) server and how it ended.

    :param service: ``CData Sync`` or ``AI Squared``.
    :param kind: ``job``, ``transformation``, ``pipeline`` or ``sync``.
    :param targetId: / :param targetName: what ran.
    :param runId: the remote run (history) id.
    :param status: the run's status as the server gave it; :param state: normalised.
    :param recordsAffected: the run's records affected (AI Squared: rows written).
    :param tasks: per task (pipeline: per step) ``task``, ``table``, ``status``, ``records``, ``error``.
    :param problems: what lineage could not read (the datasets are then partial).
    """

    service: str
    kind: str
    targetId: str
    targetName: str
    runId: str | None
    status: str | None
    state: str
    server: str
    recordsAffected: int | None = None
    error: str | None = None
    startTime: str | None = None
    endTime: str | None = None
    tasks: list[dict[str, Any]] = attr.field(factory=list)
    tasksOmitted: int = 0
    problems: list[str] = attr.field(factory=list)
    extra: dict[str, Any] = attr.field(factory=dict)

    _additional_skip_redact: ClassVar[list[str]] = ["service", "kind", "targetId", "runId", "status", "state"]

    @staticmethod
    def _get_schema() -> str:
        return FACET_SCHEMA_URL


def _dataset_facets(item: LineageDataset) -> dict[str, Any]:
    facets: dict[str, Any] = {
        "dataSource": datasource_dataset.DatasourceDatasetFacet(
            name=item.source_name, uri=item.dataset.namespace
        )
    }
    if item.columns:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=c.name, type=c.data_type) for c in item.columns
            ]
        )
    return facets


def input_dataset(item: LineageDataset) -> InputDataset:
    """An OpenLineage input dataset."""
    return InputDataset(
        namespace=item.dataset.namespace, name=item.dataset.name, facets=_dataset_facets(item)
    )


def output_dataset(item: LineageDataset) -> OutputDataset:
    """An OpenLineage output dataset, with its row count and column lineage."""
    facets = _dataset_facets(item)
    if item.column_sources:
        facets["columnLineage"] = column_lineage_dataset.ColumnLineageDatasetFacet(
            fields={
                column: column_lineage_dataset.Fields(
                    inputFields=[
                        column_lineage_dataset.InputField(
                            namespace=namespace,
                            name=name,
                            field=source_column,
                            transformations=[
                                column_lineage_dataset.Transformation(
                                    type="DIRECT", subtype="IDENTITY", description="copied as is"
                                )
                            ],
                        )
                        for namespace, name, source_column in sources
                    ],
                    transformationDescription="copied as is",
                    transformationType="IDENTITY",
                )
                for column, sources in item.column_sources.items()
            }
        )
    output_facets: dict[str, Any] = {}
    if item.rows is not None:
        output_facets["outputStatistics"] = (
            output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=item.rows)
        )
    return OutputDataset(
        namespace=item.dataset.namespace, name=item.dataset.name, facets=facets, outputFacets=output_facets
    )


def run_facets(lineage: RunLineage, *, failed: bool = False) -> dict[str, RunFacet]:
    """The run facets: ``cdataSync``, ``externalQuery`` (when the run id is known), ``errorMessage``
    (failed runs)."""
    tasks = [
        {
            key: value
            for key, value in (
                ("task", task.task),
                ("kind", task.kind),
                ("table", task.table),
                ("status", task.status),
                ("records", task.records),
                ("error", task.error),
                ("runId", task.run_id),
            )
            if value is not None
        }
        for task in lineage.tasks[:MAX_FACET_TASKS]
    ]
    facets: dict[str, RunFacet] = {
        "cdataSync": CDataSyncRunFacet(
            service=lineage.service,
            kind=lineage.kind,
            targetId=lineage.target_id,
            targetName=lineage.target_name,
            runId=lineage.run_id,
            status=lineage.status,
            state=lineage.state,
            server=lineage.server,
            recordsAffected=lineage.records,
            error=lineage.error,
            startTime=lineage.start_time.isoformat() if lineage.start_time else None,
            endTime=lineage.end_time.isoformat() if lineage.end_time else None,
            tasks=tasks,
            tasksOmitted=max(len(lineage.tasks) - MAX_FACET_TASKS, 0),
            problems=list(lineage.problems),
            extra=dict(lineage.extra),
        )
    }
    if lineage.run_id:
        source = "aisquared" if lineage.service == "AI Squared" else "cdata-sync"
        facets["externalQuery"] = external_query_run.ExternalQueryRunFacet(
            externalQueryId=str(lineage.run_id), source=f"{source}://{lineage.server}"
        )
    if failed or lineage.state in ("failed", "cancelled"):
        errors = [lineage.error] if lineage.error else []
        errors += [
            f"{t.table or t.task}: {t.error}" for t in lineage.tasks if t.error and t.error not in errors
        ]
        message = (
            "; ".join(errors)
            or f"{lineage.service} {lineage.kind} run {lineage.run_id} ended {lineage.status}"
        )
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=message, programmingLanguage="SQL"
        )
    return facets


def operator_lineage(lineage: RunLineage | None, *, failed: bool = False) -> Any:
    """The ``OperatorLineage`` of a run (empty when there is no run to describe)."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    if lineage is None:
        return OperatorLineage()
    return OperatorLineage(
        inputs=[input_dataset(item) for item in lineage.inputs],
        outputs=[output_dataset(item) for item in lineage.outputs],
        run_facets=run_facets(lineage, failed=failed),
    )
