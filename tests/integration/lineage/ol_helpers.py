"""OpenLineage's file transport for the dag.test() runs of this folder, and the events it wrote, parsed
back into the OpenLineage client's own event model (``openlineage.client.event_v2``, ``facet_v2``):
an event that does not fit the model fails the test.

Importing this module configures the transport (before Airflow reads ``[openlineage]``, which it caches).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

EVENTS = Path(tempfile.mkdtemp(prefix="cdata-sync-ol-")) / "events.jsonl"
os.environ["AIRFLOW__OPENLINEAGE__TRANSPORT"] = json.dumps(
    {"type": "file", "log_file_path": str(EVENTS), "append": True}
)
os.environ["AIRFLOW__OPENLINEAGE__NAMESPACE"] = "cdata-sync-tests"
os.environ.pop("AIRFLOW__OPENLINEAGE__DISABLED", None)


def raw_events() -> list[dict[str, Any]]:
    """Every event written so far, as JSON."""
    if not EVENTS.exists():
        return []
    return [json.loads(line) for line in EVENTS.read_text().splitlines() if line.strip()]


def events_of(job_name: str, event_type: str | None = None) -> list[dict[str, Any]]:
    """The events of one OpenLineage job (``<dag_id>.<task_id>``), optionally of one type."""
    return [
        e
        for e in raw_events()
        if e.get("job", {}).get("name") == job_name and (event_type is None or e["eventType"] == event_type)
    ]


def _facet(cls: Any, data: dict[str, Any], **nested: Any) -> Any:
    values = {k: v for k, v in data.items() if not k.startswith("_")}
    values.update(nested)
    facet = cls(**values)
    facet._producer = data.get("_producer", "")
    return facet


def _dataset_facets(facets: dict[str, Any]) -> dict[str, Any]:
    from openlineage.client.facet_v2 import column_lineage_dataset as cl
    from openlineage.client.facet_v2 import datasource_dataset, schema_dataset

    out: dict[str, Any] = {}
    for key, data in facets.items():
        if key == "schema":
            fields = [schema_dataset.SchemaDatasetFacetFields(**f) for f in data.get("fields", [])]
            out[key] = _facet(schema_dataset.SchemaDatasetFacet, data, fields=fields)
        elif key == "dataSource":
            out[key] = _facet(datasource_dataset.DatasourceDatasetFacet, data)
        elif key == "columnLineage":
            fields = {
                column: cl.Fields(
                    inputFields=[
                        cl.InputField(
                            namespace=i["namespace"],
                            name=i["name"],
                            field=i["field"],
                            transformations=[cl.Transformation(**t) for t in i.get("transformations", [])],
                        )
                        for i in value["inputFields"]
                    ],
                    transformationDescription=value.get("transformationDescription"),
                    transformationType=value.get("transformationType"),
                )
                for column, value in data["fields"].items()
            }
            out[key] = _facet(cl.ColumnLineageDatasetFacet, data, fields=fields, dataset=[])
    return out


def parse(event: dict[str, Any]) -> Any:
    """A JSON event as an ``openlineage.client.event_v2.RunEvent`` (our facets typed, the rest kept)."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import (
        error_message_run,
        external_query_run,
        output_statistics_output_dataset,
    )

    from airflow_provider_cdata_sync.lineage.facets import CDataSyncRunFacet

    run_facets: dict[str, Any] = {}
    for key, data in event["run"].get("facets", {}).items():
        cls = {
            "cdataSync": CDataSyncRunFacet,
            "externalQuery": external_query_run.ExternalQueryRunFacet,
            "errorMessage": error_message_run.ErrorMessageRunFacet,
        }.get(key)
        if cls is not None:
            run_facets[key] = _facet(cls, data)
    inputs = [
        InputDataset(namespace=d["namespace"], name=d["name"], facets=_dataset_facets(d.get("facets", {})))
        for d in event.get("inputs", [])
    ]
    outputs = []
    for d in event.get("outputs", []):
        stats = d.get("outputFacets", {}).get("outputStatistics")
        output_facets = (
            {
                "outputStatistics": _facet(
                    output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet, stats
                )
            }
            if stats
            else {}
        )
        outputs.append(
            OutputDataset(
                namespace=d["namespace"],
                name=d["name"],
                facets=_dataset_facets(d.get("facets", {})),
                outputFacets=output_facets,
            )
        )
    return RunEvent(
        eventType=RunState(event["eventType"]),
        eventTime=event["eventTime"],
        run=Run(runId=event["run"]["runId"], facets=run_facets),
        job=Job(namespace=event["job"]["namespace"], name=event["job"]["name"]),
        producer=event["producer"],
        inputs=inputs,
        outputs=outputs,
    )


def round_trip(event: dict[str, Any]) -> dict[str, Any]:
    """Parse with the client's model and serialise again with its own serde."""
    from openlineage.client.serde import Serde

    return Serde.to_dict(parse(event))


def outputs_by_name(event: Any) -> dict[str, Any]:
    """Output datasets of a parsed event by name."""
    return {d.name: d for d in event.outputs}
