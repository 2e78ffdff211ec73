"""SQLite-backed document store holding all emulator state (survives restarts).

Every resource is a JSON document keyed by ``(kind, id)`` with an optional parent id and an
ordering number. One connection guarded by one re-entrant lock keeps access thread-safe: the
HTTP handlers, the run threads and the scheduler all share it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

STATE_FILE = "emulator-state.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    parent TEXT,
    ord INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS docs_parent ON docs (kind, parent, ord);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class Store:
    """Thread-safe JSON document store in ``<data_dir>/emulator-state.db``."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / STATE_FILE
        self.lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        with self.lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database connection."""
        with self.lock:
            self._conn.close()

    def put(self, kind: str, doc: dict[str, Any], parent: str | None = None, ord_: int = 0) -> dict[str, Any]:
        """Insert or replace a document (its ``id`` field is the key)."""
        with self.lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO docs (kind, id, parent, ord, data) VALUES (?, ?, ?, ?, ?)",
                (kind, str(doc["id"]), parent, ord_, json.dumps(doc)),
            )
        return doc

    def get(self, kind: str, ident: str) -> dict[str, Any] | None:
        """One document, or None."""
        with self.lock:
            row = self._conn.execute(
                "SELECT data FROM docs WHERE kind = ? AND id = ?", (kind, ident)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def parent_of(self, kind: str, ident: str) -> str | None:
        """The parent id stored with a document."""
        with self.lock:
            row = self._conn.execute(
                "SELECT parent FROM docs WHERE kind = ? AND id = ?", (kind, ident)
            ).fetchone()
        return row[0] if row else None

    def list(self, kind: str, parent: str | None = None, desc: bool = False) -> list[dict[str, Any]]:
        """Documents of a kind (optionally of one parent) ordered by ``ord`` then insertion."""
        order = "DESC" if desc else "ASC"
        with self.lock:
            if parent is None:
                rows = self._conn.execute(
                    f"SELECT data FROM docs WHERE kind = ? ORDER BY ord {order}, rowid {order}", (kind,)
                ).fetchall()
            else:
                rows = self._conn.execute(
                    "SELECT data FROM docs WHERE kind = ? AND parent = ? "
                    f"ORDER BY ord {order}, rowid {order}",
                    (kind, parent),
                ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def last(self, kind: str, parent: str) -> dict[str, Any] | None:
        """The document with the highest ``ord`` of a parent (the newest run)."""
        with self.lock:
            row = self._conn.execute(
                "SELECT data FROM docs WHERE kind = ? AND parent = ? ORDER BY ord DESC, rowid DESC LIMIT 1",
                (kind, parent),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def delete(self, kind: str, ident: str) -> None:
        """Delete one document."""
        with self.lock:
            self._conn.execute("DELETE FROM docs WHERE kind = ? AND id = ?", (kind, ident))

    def delete_children(self, kind: str, parent: str) -> None:
        """Delete every document of a kind under one parent."""
        with self.lock:
            self._conn.execute("DELETE FROM docs WHERE kind = ? AND parent = ?", (kind, parent))

    def next_number(self, name: str, start: int) -> int:
        """A persistent counter: returns ``start`` the first time, then increments."""
        with self.lock:
            row = self._conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
            value = start if row is None else int(row[0]) + 1
            self._conn.execute("INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)", (name, value))
        return value

    def wipe(self) -> None:
        """Remove every document and counter (used by ``POST /_emulator/reset``)."""
        with self.lock:
            self._conn.execute("DELETE FROM docs")
            self._conn.execute("DELETE FROM counters")
