"""The AI Squared demo: a shop database (source), a CRM database (destination) and two models."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import AISquaredEmulator


@dataclass
class Demo:
    """Ids and files of :func:`seed_demo`."""

    source_id: int
    destination_id: int
    customers_model_id: int
    broken_model_id: int
    source_db: Path
    destination_db: Path
    customers: int
    invalid_emails: int


def seed_demo(server: AISquaredEmulator, customers: int = 250, invalid_every: int = 25) -> Demo:
    """A shop database (customers; every ``invalid_every``-th has no email) and a CRM whose
    ``crm_contacts`` table requires an email, so those rows fail as records. Idempotent."""
    demo = server.data_dir / "aisquared-demo"
    demo.mkdir(parents=True, exist_ok=True)
    source_db, destination_db = demo / "shop.db", demo / "crm.db"
    conn = sqlite3.connect(source_db)
    conn.execute("DROP TABLE IF EXISTS customers")
    conn.execute(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, email TEXT, plan TEXT, updated_at TEXT)"
    )
    conn.executemany(
        "INSERT INTO customers VALUES (?, ?, ?, ?, ?)",
        [
            (
                i,
                f"Customer {i}",
                None if i % invalid_every == 0 else f"customer{i}@example.com",
                ("free", "pro", "enterprise")[i % 3],
                f"2026-01-{1 + i % 28:02d}T00:00:00",
            )
            for i in range(1, customers + 1)
        ],
    )
    conn.commit()
    conn.close()
    conn = sqlite3.connect(destination_db)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS crm_contacts "
        "(id INTEGER PRIMARY KEY, full_name TEXT, email TEXT NOT NULL, plan TEXT)"
    )
    conn.commit()
    conn.close()
    existing = {c["name"]: c["id"] for c in server.state.connectors.values()}
    source = existing.get("Shop database") or server.add_connector("Shop database", "source", source_db)
    destination = existing.get("CRM") or server.add_connector("CRM", "destination", destination_db)
    models = {m["name"]: m["id"] for m in server.state.models.values()}
    customers_model = models.get("Customers") or server.add_model(
        "Customers", source, "SELECT id, name, email, plan, updated_at FROM customers ORDER BY id", "id"
    )
    broken = models.get("Broken model") or server.add_model(
        "Broken model", source, "SELECT * FROM no_such_table"
    )
    return Demo(
        source,
        destination,
        customers_model,
        broken,
        source_db,
        destination_db,
        customers,
        customers // invalid_every,
    )
