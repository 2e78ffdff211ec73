"""Demo content (``--seed-demo``): a source shop database, a warehouse, jobs, a transformation, a pipeline.

Idempotent: resources are found by name and created only when missing; the source database is
generated only when its file does not exist. Data is deterministic (``random.Random(42)``).
"""

from __future__ import annotations

import random
import sqlite3
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from .common import Core

DEMO_TABLES = ("customers", "products", "orders", "order_items")
_FIRST = ("Ana", "Ben", "Chloe", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Liam")
_LAST = ("Smith", "Garcia", "Okafor", "Nguyen", "Müller", "Rossi", "Tanaka", "Dubois", "Kowalski", "O'Brien")
_CITIES = ("Lisbon", "Austin", "Lagos", "Hanoi", "Berlin", "Milan", "Osaka", "Lyon", "Krakow", "Dublin")
_CATEGORIES = ("Books", "Games", "Garden", "Kitchen", "Music", "Outdoor", "Toys")

REVENUE_SQL = (
    "DROP TABLE IF EXISTS customer_revenue; "
    "CREATE TABLE customer_revenue AS SELECT c.customer_id, c.name, c.country, "
    "count(o.order_id) AS order_count, round(coalesce(sum(o.total), 0), 2) AS revenue "
    "FROM customers c LEFT JOIN orders o ON o.customer_id = c.customer_id GROUP BY c.customer_id"
)


def build_source_db(path: Path, scale: float = 1.0) -> None:
    """Write the demo shop database (customers ~2,000, orders ~10,000, products 200, items ~20,000)."""
    rnd = random.Random(42)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, city TEXT,
                                country TEXT, created_at TEXT);
        CREATE TABLE products (product_id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT, price REAL);
        CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, order_date TEXT,
                             status TEXT, total REAL);
        CREATE TABLE order_items (order_item_id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL,
                                  product_id INTEGER NOT NULL, quantity INTEGER, unit_price REAL);
        """
    )
    n_customers, n_products, n_orders = int(2000 * scale), int(200 * scale) or 1, int(10000 * scale)
    start = date(2025, 1, 1)
    customers = []
    for cid in range(1, n_customers + 1):
        first, last = rnd.choice(_FIRST), rnd.choice(_LAST)
        city = rnd.choice(_CITIES)
        created = start + timedelta(days=rnd.randrange(365))
        email = f"{first}.{last}{cid}@example.com".lower().replace("'", "")
        customers.append((cid, f"{first} {last}", email, city, city[:2].upper(), created.isoformat()))
    products = [
        (pid, f"{rnd.choice(_CATEGORIES)} item {pid}", rnd.choice(_CATEGORIES), round(rnd.uniform(2, 200), 2))
        for pid in range(1, n_products + 1)
    ]
    prices = {p[0]: p[3] for p in products}
    orders: list[tuple[Any, ...]] = []
    items: list[tuple[Any, ...]] = []
    for oid in range(1, n_orders + 1):
        lines = [(rnd.randint(1, n_products), rnd.randint(1, 5)) for _ in range(2)]
        item_base = len(items)
        for number, (pid, qty) in enumerate(lines):
            items.append((item_base + number + 1, oid, pid, qty, prices[pid]))
        total = round(sum(prices[p] * q for p, q in lines), 2)
        day = start + timedelta(days=rnd.randrange(540))
        status = rnd.choices(("shipped", "delivered", "cancelled", "pending"), (5, 10, 1, 2))[0]
        orders.append((oid, rnd.randint(1, n_customers), day.isoformat(), status, total))
    conn.executemany("INSERT INTO customers VALUES (?,?,?,?,?,?)", customers)
    conn.executemany("INSERT INTO products VALUES (?,?,?,?)", products)
    conn.executemany("INSERT INTO orders VALUES (?,?,?,?,?)", orders)
    conn.executemany("INSERT INTO order_items VALUES (?,?,?,?,?)", items)
    conn.commit()
    conn.close()


def _by_name(core: Core, kind: str, name: str) -> dict[str, Any] | None:
    return next((d for d in core.store.list(kind, "default") if d["name"] == name), None)


def seed_demo(core: Core, scale: float = 1.0) -> dict[str, str]:
    """Create the demo resources that are missing; returns ``{name: id}``."""
    service = core.service
    source = core.data_dir / "demo" / "source.db"
    if not source.exists():
        build_source_db(source, scale)
    warehouse = core.data_dir / "demo" / "warehouse.db"
    if not warehouse.exists():
        sqlite3.connect(warehouse).close()
    ids: dict[str, str] = {}

    def ensure(kind: str, name: str, create: Any) -> dict[str, Any]:
        doc = _by_name(core, kind, name) or create()
        ids[name] = doc["id"]
        return doc

    src = ensure(
        "connection",
        "DemoSource",
        lambda: service.create_connection(
            "default",
            {"name": "DemoSource", "connector": "SQLite", "properties": {"Database": "demo/source.db"}},
        ),
    )
    dst = ensure(
        "connection",
        "DemoWarehouse",
        lambda: service.create_connection(
            "default",
            {"name": "DemoWarehouse", "connector": "SQLite", "properties": {"Database": "demo/warehouse.db"}},
        ),
    )
    pair = {
        "source_connection_id": src["id"],
        "destination_connection_id": dst["id"],
        "truncate_table_data": True,
    }
    job = ensure(
        "job",
        "DemoReplication",
        lambda: service.create_job(
            "default",
            {
                "name": "DemoReplication",
                "type": "Standard",
                **pair,
                "queries": [f"REPLICATE [{t}]" for t in DEMO_TABLES],
            },
        ),
    )
    ensure(
        "job",
        "DemoBrokenReplication",
        lambda: service.create_job(
            "default",
            {
                "name": "DemoBrokenReplication",
                **pair,
                "continue_on_error": False,
                "queries": [
                    "REPLICATE [customers]",
                    "REPLICATE [invoices] SELECT * FROM [invoices]",
                    "REPLICATE [products]",
                ],
            },
        ),
    )
    ensure(
        "job",
        "DemoScheduledReplication",
        lambda: service.create_job(
            "default",
            {
                "name": "DemoScheduledReplication",
                **pair,
                "queries": ["REPLICATE [products]"],
                "schedule": {"enabled": True, "cron": "*/5 * * * *"},
            },
        ),
    )
    transformation = ensure(
        "transformation",
        "DemoCustomerRevenue",
        lambda: service.create_transformation(
            "default", {"name": "DemoCustomerRevenue", "connection_id": dst["id"], "queries": [REVENUE_SQL]}
        ),
    )
    ensure(
        "pipeline",
        "DemoPipeline",
        lambda: service.create_pipeline(
            "default",
            {
                "name": "DemoPipeline",
                "labels": ["demo"],
                "steps": [{"job_id": job["id"]}, {"transformation_id": transformation["id"]}],
                "events": [
                    {
                        "name": "NotifySuccess",
                        "trigger": "on_success",
                        "action": "log",
                        "message": "DemoPipeline finished: warehouse and revenue are fresh.",
                    },
                    {
                        "name": "NotifyFailure",
                        "trigger": "on_failure",
                        "action": "log",
                        "message": "DemoPipeline failed: check the step runs.",
                    },
                ],
            },
        ),
    )
    return ids
