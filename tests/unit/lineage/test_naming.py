"""Dataset names from connection properties, per the OpenLineage naming spec, and their asset URIs."""

from __future__ import annotations

import pytest

from airflow_provider_cdata_sync.lineage.naming import (
    ConnectionInfo,
    asset_uri,
    dataset_name,
    parse_connection_string,
    parse_scheme_uri,
    system_of,
)


def conn(connector: str | None, server: str = "sync.example.com:8181", name: str = "Conn", **props: str):
    return ConnectionInfo(name=name, connector=connector, properties=props, server=server)


@pytest.mark.parametrize(
    ("connector", "props", "table", "schema", "namespace", "name"),
    [
        (
            "PostgreSQL",
            {"Server": "DB.example.com", "Database": "shop"},
            "orders",
            None,
            "postgres://db.example.com:5432",
            "shop.public.orders",
        ),
        (
            "PostgreSQL",
            {"Server": "db", "Port": "6543", "Database": "shop"},
            "orders",
            "raw",
            "postgres://db:6543",
            "shop.raw.orders",
        ),
        (
            "PostgreSQL",
            {"SERVER": "db", "data base": "shop"},
            "[sales].[orders]",
            "raw",
            "postgres://db:5432",
            "shop.sales.orders",
        ),
        ("MySQL", {"Server": "my", "Database": "crm"}, "contacts", None, "mysql://my:3306", "crm.contacts"),
        (
            "MariaDB",
            {"Host": "my:3307", "Database": "crm"},
            "contacts",
            None,
            "mysql://my:3307",
            "crm.contacts",
        ),
        (
            "SQLServer",
            {"Server": "mssql,1444", "Database": "dw"},
            "Orders",
            None,
            "sqlserver://mssql:1444",
            "dw.dbo.Orders",
        ),
        (
            "AzureSQL",
            {"Server": "box\\SQLEXPRESS", "Initial Catalog": "dw"},
            "[dbo].[Orders]",
            None,
            "sqlserver://box:1433",
            "dw.dbo.Orders",
        ),
        (
            "Snowflake",
            {"URL": "https://myorg-acct1.snowflakecomputing.com", "Database": "DW"},
            "ORDERS",
            None,
            "snowflake://myorg-acct1",
            "DW.PUBLIC.ORDERS",
        ),
        (
            "Snowflake",
            {"Account": "MYORG_ACCT1", "Database": "DW", "Schema": "RAW"},
            "ORDERS",
            None,
            "snowflake://myorg-acct1",
            "DW.RAW.ORDERS",
        ),
        (
            "GoogleBigQuery",
            {"ProjectId": "proj", "DatasetId": "ds"},
            "orders",
            None,
            "bigquery",
            "proj.ds.orders",
        ),
        ("BigQuery", {"ProjectId": "proj"}, "orders", "staging", "bigquery", "proj.staging.orders"),
        (
            "Redshift",
            {"Server": "examplecluster.abc123.us-west-2.redshift.amazonaws.com", "Database": "dev"},
            "orders",
            None,
            "redshift://examplecluster.us-west-2:5439",
            "dev.public.orders",
        ),
        ("AmazonS3", {"URI": "s3://bucket/landing"}, "orders", None, "s3://bucket", "landing/orders"),
        ("CSV", {"URI": "s3://bucket/landing/"}, "orders", None, "s3://bucket", "landing/orders.csv"),
        (
            "CSV",
            {"Folder": "/data/out"},
            "orders",
            None,
            "file://sync.example.com:8181",
            "/data/out/orders.csv",
        ),
        (
            "CSV",
            {"Folder": "/data/out"},
            "orders",
            "raw",
            "file://sync.example.com:8181",
            "/data/out/raw_orders.csv",
        ),
        (
            "SQLite",
            {"Database": "/var/lib/shop.db"},
            "orders",
            None,
            "sqlite://sync.example.com:8181/var/lib/shop.db",
            "orders",
        ),
        (
            "SQLite",
            {"Database": "demo/warehouse.db"},
            "orders",
            "raw",
            "sqlite://sync.example.com:8181/demo/warehouse.db",
            "raw_orders",
        ),
        (
            "Oracle",
            {"Server": "ora", "ServiceName": "ORCL", "Schema": "HR"},
            "EMP",
            None,
            "oracle://ora:1521",
            "ORCL.HR.EMP",
        ),
    ],
)
def test_names_follow_the_openlineage_naming_spec(
    connector: str, props: dict[str, str], table: str, schema: str | None, namespace: str, name: str
) -> None:
    found = dataset_name(conn(connector, **props), table, schema=schema)
    assert (found.namespace, found.name) == (namespace, name)


@pytest.mark.parametrize(
    ("connector", "props"),
    [
        ("Salesforce", {"User": "me"}),  # a system the spec does not name
        (None, {}),  # the connection could not be read
        ("PostgreSQL", {"Database": "shop"}),  # no server: not enough to name it
        ("Snowflake", {"Database": "DW"}),  # no account
    ],
)
def test_other_connections_get_the_stable_cdata_sync_namespace(connector: str | None, props: dict) -> None:
    found = dataset_name(conn(connector, name="My CRM", **props), "[Account]")
    assert (found.namespace, found.name) == ("cdata-sync://sync.example.com:8181/My%20CRM", "Account")
    assert found.uri == "cdata-sync://sync.example.com:8181/My%20CRM/Account"
    assert parse_scheme_uri(found.uri) == ("sync.example.com:8181", "My CRM", "Account")


def test_the_server_may_be_given_as_a_url() -> None:
    found = dataset_name(conn("Salesforce", server="https://sync.example.com:8181/"), "Lead")
    assert found.namespace == "cdata-sync://sync.example.com:8181/Conn"


def test_connector_types_map_to_systems() -> None:
    assert [system_of(c) for c in ("PostgreSQL", "Amazon Redshift", "Azure Synapse", "JSON", "Jira")] == [
        "postgres",
        "redshift",
        "sqlserver",
        "file",
        "unknown",
    ]


def test_v1_connection_strings_are_read_as_properties() -> None:
    props = parse_connection_string("Server=db;Port=5433;Database='shop';Password=x")
    assert props == {"Server": "db", "Port": "5433", "Database": "shop", "Password": "x"}


@pytest.mark.parametrize(
    ("connector", "props", "uri"),
    [
        ("PostgreSQL", {"Server": "db", "Database": "shop"}, "postgres://db:5432/shop/public/orders"),
        ("MySQL", {"Server": "my", "Database": "crm"}, "mysql://my:3306/crm/orders"),
        ("BigQuery", {"ProjectId": "p", "DatasetId": "d"}, "bigquery://p/d/orders"),
        ("AmazonS3", {"URI": "s3://bucket/landing"}, "s3://bucket/landing/orders"),
        ("CSV", {"Folder": "/out"}, "file://sync.example.com:8181/out/orders.csv"),
        ("CSV", {"URI": "file:///out"}, "file:///out/orders.csv"),
        ("SQLite", {"Database": "/db/w.db"}, "sqlite://sync.example.com:8181/db/w.db/orders"),
        ("Snowflake", {"Account": "org-acct", "Database": "DW"}, "snowflake://org-acct/DW.PUBLIC.orders"),
    ],
)
def test_asset_uris_are_the_providers_forms_or_namespace_slash_name(
    connector: str, props: dict, uri: str
) -> None:
    assert asset_uri(dataset_name(conn(connector, **props), "orders")) == uri


def test_postgres_and_file_asset_uris_convert_back_to_the_same_openlineage_dataset() -> None:
    """Airflow's own converters (postgres, common-io) turn our asset URIs into our OpenLineage names."""
    pytest.importorskip("airflow.providers.openlineage")
    pytest.importorskip("airflow.sdk", reason="Airflow 3's Asset (2.11 converts Datasets another way)")
    from airflow.providers.openlineage.utils.utils import translate_airflow_asset
    from airflow.sdk import Asset

    for connector, props, table in (
        ("PostgreSQL", {"Server": "db", "Database": "shop"}, "orders"),
        ("CSV", {"URI": "file:///out"}, "orders"),
        ("Salesforce", {}, "Lead"),  # our own cdata-sync scheme, registered in the provider info
    ):
        named = dataset_name(conn(connector, **props), table)
        translated = translate_airflow_asset(Asset(uri=named.uri), None)
        assert translated is not None, named.uri
        assert (translated.namespace, translated.name) == (named.namespace, named.name)
