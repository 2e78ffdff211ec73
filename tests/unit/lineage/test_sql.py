"""What REPLICATE and transformation queries read and write."""

from __future__ import annotations

import pytest

from airflow_provider_cdata_sync.lineage.sql import parse_replicate, tables_of_sql


@pytest.mark.parametrize(
    ("query", "destination", "source", "plain"),
    [
        ("REPLICATE [orders]", "orders", "orders", True),
        ("REPLICATE [orders];", "orders", "orders", True),
        ("REPLICATE [Orders_Copy] SELECT * FROM [dbo].[Orders]", "Orders_Copy", "dbo.Orders", True),
        ('REPLICATE "x" SELECT * FROM "y"', "x", "y", True),
        ("replicate [big] select id, name from [src] where id > 3", "big", "src", False),
        ("REPLICATE [j] SELECT * FROM [a] JOIN [b] ON a.id = b.id", "j", None, False),
        ("REPLICATE [t] WITH TruncateTableData = 'True'", "t", "t", True),
    ],
)
def test_replicate_queries(query: str, destination: str, source: str | None, plain: bool) -> None:
    parsed = parse_replicate(query)
    assert parsed is not None
    assert (parsed.destination, parsed.source, parsed.plain_copy) == (destination, source, plain)


def test_other_statements_are_not_replications() -> None:
    assert parse_replicate("SELECT 1") is None
    assert parse_replicate(None) is None


def test_transformation_sql_writes_and_reads() -> None:
    sql = (
        "DROP TABLE IF EXISTS customer_revenue; -- rebuilt each run\n"
        "CREATE TABLE customer_revenue AS SELECT c.customer_id, 'from x' AS note FROM customers c "
        "LEFT JOIN orders o ON o.customer_id = c.customer_id GROUP BY c.customer_id;"
        "INSERT INTO [dbo].[audit] SELECT * FROM customer_revenue; UPDATE stats SET n = 1"
    )
    found = tables_of_sql(sql)
    assert found.writes == ("customer_revenue", "dbo.audit", "stats")
    assert found.reads == ("customers", "orders")


def test_merge_and_create_or_replace() -> None:
    found = tables_of_sql("CREATE OR REPLACE TABLE a.b AS SELECT * FROM c; MERGE INTO d USING e ON 1=1")
    assert found.writes == ("a.b", "d")
    assert found.reads == ("c",)
