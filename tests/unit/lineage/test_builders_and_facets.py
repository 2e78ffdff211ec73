"""The CData Sync lineage builder on a fake client (bounded, cached calls; prefix and schema; partial
lineage when calls fail), and the OpenLineage facets and asset events built from its result."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from airflow_provider_cdata_sync.client.control import Target
from airflow_provider_cdata_sync.client.models import Column, Connection, Job, Run, Task
from airflow_provider_cdata_sync.lineage.assets import asset_events
from airflow_provider_cdata_sync.lineage.cdata_sync import CDataSyncLineage


class Calls:
    def __init__(self, owner: FakeClient, name: str) -> None:
        self.owner, self.name = owner, name

    def __getattr__(self, method: str) -> Any:
        def call(*args: Any) -> Any:
            self.owner.calls.append((self.name, method, args))
            return self.owner.answer(self.name, method, *args)

        return call


class FakeClient:
    """Answers like a v2 client: a job PG -> Snowflake with two tasks."""

    class config:
        base_url = "https://sync.example.com:8181"

    def __init__(self, broken_columns: bool = False) -> None:
        self.calls: list[tuple[str, str, tuple[Any, ...]]] = []
        self.broken_columns = broken_columns
        self.jobs = Calls(self, "jobs")
        self.jobs.tasks = Calls(self, "tasks")  # type: ignore[attr-defined]
        self.connections = Calls(self, "connections")

    def answer(self, resource: str, method: str, *args: Any) -> Any:
        if (resource, method) == ("jobs", "get"):
            return Job.model_validate(
                {
                    "JobId": "j1",
                    "JobName": "PgToSnow",
                    "Source": {"Id": "c-src", "Name": "Shop"},
                    "Destination": {"Id": "c-dst", "Name": "Warehouse"},
                    "TableNamePrefix": "stg_",
                    "DestinationSchema": "RAW",
                }
            )
        if (resource, method) == ("tasks", "list"):
            return [
                Task(id="t1", query="REPLICATE [orders]"),
                Task(id="t2", query="REPLICATE [big] SELECT id FROM [public].[huge]"),
            ]
        if (resource, method) == ("connections", "get"):
            if args[0] == "c-src":
                return Connection(
                    id="c-src",
                    name="Shop",
                    connector="PostgreSQL",
                    properties={"Server": "pg", "Database": "shop"},
                )
            return Connection(
                id="c-dst",
                name="Warehouse",
                connector="Snowflake",
                properties={"Account": "org-acct", "Database": "DW"},
            )
        if (resource, method) == ("connections", "columns"):
            if self.broken_columns:
                raise RuntimeError("columns are not offered")
            return [Column(name="id", data_type="INTEGER"), Column(name="total", data_type="REAL")]
        raise AssertionError((resource, method, args))


RUN = Run.model_validate(
    {
        "Id": "77",
        "Status": "Failed",
        "RecordsAffected": 12,
        "RunEndDate": "2026-01-01T10:00:00Z",
        "Tasks": [
            {"TaskId": "t1", "Table": "orders", "Status": "Success", "RecordsAffected": 12},
            {"TaskId": "t2", "Table": "big", "Status": "Failed", "Error": "too big"},
        ],
    }
)
TARGET = Target("job", "j1", "PgToSnow", "default", (), "v2")


def test_a_job_run_names_sources_and_prefixed_destinations_with_counts() -> None:
    client = FakeClient()
    lineage = CDataSyncLineage(client).build(TARGET, RUN)
    assert [(d.dataset.namespace, d.dataset.name) for d in lineage.inputs] == [
        ("postgres://pg:5432", "shop.public.orders"),
        ("postgres://pg:5432", "shop.public.huge"),
    ]
    outputs = {d.dataset.name: d for d in lineage.outputs}
    assert sorted(outputs) == ["DW.RAW.stg_big", "DW.RAW.stg_orders"]
    orders = outputs["DW.RAW.stg_orders"]
    assert (orders.rows, orders.ok, orders.dataset.namespace) == (12, True, "snowflake://org-acct")
    assert orders.column_sources["id"] == [("postgres://pg:5432", "shop.public.orders", "id")]
    assert outputs["DW.RAW.stg_big"].ok is False
    assert outputs["DW.RAW.stg_big"].column_sources == {}  # not a plain copy
    assert ("connections", "columns", ("c-dst", "RAW.stg_orders")) in client.calls
    assert [t.error for t in lineage.tasks] == [None, "too big"]


def test_calls_are_cached_and_bounded() -> None:
    client = FakeClient()
    builder = CDataSyncLineage(client, max_calls=4)
    lineage = builder.build(TARGET, RUN)
    assert len(client.calls) == 4
    assert any("budget" in p for p in lineage.problems)
    client2 = FakeClient()
    CDataSyncLineage(client2).build(TARGET, RUN)
    gets = [c for c in client2.calls if c[:2] == ("connections", "get")]
    assert len(gets) == 2  # one per connection, whatever the number of tasks


def test_failing_column_calls_make_lineage_partial_not_broken() -> None:
    lineage = CDataSyncLineage(FakeClient(broken_columns=True)).build(TARGET, RUN)
    assert len(lineage.outputs) == 2 and not lineage.outputs[0].columns
    assert any("columns are not offered" in p for p in lineage.problems)


def test_asset_events_are_for_tables_written_successfully() -> None:
    lineage = CDataSyncLineage(FakeClient()).build(TARGET, RUN)
    ((uri, extra),) = asset_events(lineage)
    assert uri == "snowflake://org-acct/DW.RAW.stg_orders"
    assert extra["run_id"] == "77" and extra["records"] == 12 and extra["status"] == "Failed"
    assert extra["end_time"] == datetime(2026, 1, 1, 10, tzinfo=UTC).isoformat()


def test_openlineage_facets_serialise_with_the_client() -> None:
    pytest.importorskip("openlineage.client")
    from openlineage.client.serde import Serde

    from airflow_provider_cdata_sync.lineage.facets import input_dataset, output_dataset, run_facets

    lineage = CDataSyncLineage(FakeClient()).build(TARGET, RUN)
    facets = {k: Serde.to_dict(v) for k, v in run_facets(lineage, failed=True).items()}
    assert facets["cdataSync"]["runId"] == "77"
    assert facets["cdataSync"]["tasks"][1] == {
        "task": "t2",
        "kind": "job",
        "table": "big",
        "status": "Failed",
        "error": "too big",
    }
    assert facets["cdataSync"]["_schemaURL"].endswith("#the-cdatasync-run-facet")
    assert facets["externalQuery"] == {**facets["externalQuery"], "externalQueryId": "77"}
    assert "too big" in facets["errorMessage"]["message"]
    out = Serde.to_dict(output_dataset(lineage.outputs[0]))
    assert out["outputFacets"]["outputStatistics"]["rowCount"] == 12
    fields = out["facets"]["schema"]["fields"]
    assert [(f["name"], f["type"]) for f in fields] == [("id", "INTEGER"), ("total", "REAL")]
    assert out["facets"]["columnLineage"]["fields"]["id"]["inputFields"][0]["field"] == "id"
    assert Serde.to_dict(input_dataset(lineage.inputs[0]))["facets"]["dataSource"]["name"] == "Shop"


def test_without_a_run_the_operator_lineage_is_empty() -> None:
    pytest.importorskip("airflow.providers.openlineage")
    from airflow_provider_cdata_sync.lineage.facets import operator_lineage

    empty = operator_lineage(None)
    assert (empty.inputs, empty.outputs, empty.run_facets) == ([], [], {})
