"""Pytest-free helpers for tests that need an emulator with a small job (import them from conftest files).

Example::

    with CDataSyncEmulator(tmp_path, token="t0ken") as server:
        pair = seed_small_job(server, rows=50)
        run = httpx.post(f"{server.api_url}/v2/jobs/{pair.job_id}/execute", headers=server.headers).json()
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .server import CDataSyncEmulator


@dataclass
class SmallJob:
    """Ids and paths of the resources created by :func:`seed_small_job`."""

    source_id: str
    destination_id: str
    job_id: str
    task_ids: list[str]
    source_db: Path
    destination_db: Path
    tables: list[str] = field(default_factory=list)


def make_source_db(path: Path, tables: dict[str, int]) -> None:
    """Write a SQLite file with tables ``{name: rows}``.

    Each table is ``(id INTEGER PRIMARY KEY, name TEXT, amount REAL)``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    for name, rows in tables.items():
        conn.execute(f'DROP TABLE IF EXISTS "{name}"')
        conn.execute(f'CREATE TABLE "{name}" (id INTEGER PRIMARY KEY, name TEXT, amount REAL)')
        conn.executemany(
            f'INSERT INTO "{name}" VALUES (?, ?, ?)',
            [(i, f"{name}-{i}", i * 1.5) for i in range(1, rows + 1)],
        )
    conn.commit()
    conn.close()


def seed_small_job(
    server: CDataSyncEmulator,
    *,
    rows: int = 20,
    tables: dict[str, int] | None = None,
    name: str = "SmallJob",
    prefix: str = "",
    job_settings: dict[str, Any] | None = None,
    extra_queries: list[str] | None = None,
) -> SmallJob:
    """Create a source DB, SQLite source/destination connections and a job with one task per table.

    Works directly on the emulator's service (no HTTP), so it is fast and independent of any client.
    """
    core = server._core()
    tables = tables or {"accounts": rows, "contacts": rows}
    source_db = core.data_dir / f"{prefix}{name.lower()}-source.db"
    destination_db = core.data_dir / f"{prefix}{name.lower()}-dest.db"
    make_source_db(source_db, tables)
    service = core.service
    src = service.create_connection(
        "default",
        {"name": f"{prefix}{name}Source", "connector": "SQLite", "properties": {"Database": str(source_db)}},
    )
    dst = service.create_connection(
        "default",
        {
            "name": f"{prefix}{name}Dest",
            "connector": "SQLite",
            "properties": {"Database": str(destination_db)},
        },
    )
    queries = [f"REPLICATE [{t}]" for t in tables] + list(extra_queries or [])
    job = service.create_job(
        "default",
        {
            "name": f"{prefix}{name}",
            "source_connection_id": src["id"],
            "destination_connection_id": dst["id"],
            "queries": queries,
            **(job_settings or {}),
        },
    )
    task_ids = [t["id"] for t in service.tasks("job", job["id"])]
    return SmallJob(src["id"], dst["id"], job["id"], task_ids, source_db, destination_db, list(tables))


def count_rows(db: Path, table: str) -> int:
    """Rows in a table of a SQLite file (0 when the table does not exist)."""
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


@contextmanager
def running_emulator(data_dir: Path, token: str = "t0ken", **options: Any) -> Iterator[CDataSyncEmulator]:
    """``with running_emulator(tmp_path) as server:`` — an emulator without the scheduler thread."""
    options.setdefault("scheduler", False)
    with CDataSyncEmulator(data_dir, token, **options) as server:
        yield server
