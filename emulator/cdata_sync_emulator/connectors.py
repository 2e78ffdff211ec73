"""The two emulated connectors, SQLite and CSV, and the parser of REPLICATE task queries.

Both connectors are real: they open the files named by the connection properties, list what
is really there and move rows. Reads of a CSV source load the folder's files into an in-memory
SQLite database so that the task's ``SELECT`` (with its WHERE clause) runs unchanged.
"""

from __future__ import annotations

import csv
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .util import get_ci

CONNECTORS = ("SQLite", "CSV")


class ConnectorError(Exception):
    """A connector failure whose message is shown in run records and logs."""


@dataclass
class Column:
    """A column as listed by the tables/columns endpoints."""

    name: str
    data_type: str
    is_nullable: bool = True
    is_key: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The API shape ``{"name","data_type","is_nullable","is_key"}``."""
        return {
            "name": self.name,
            "data_type": self.data_type,
            "is_nullable": self.is_nullable,
            "is_key": self.is_key,
        }


@dataclass
class ReplicateQuery:
    """A parsed ``REPLICATE [Dest] [SELECT ... FROM [Src] ...]`` task query."""

    destination: str
    select: str
    source_table: str | None


_IDENT = r"(?:\[[^\]]+\]|\"[^\"]+\"|`[^`]+`|[\w$.]+)"
_REPLICATE = re.compile(rf"^\s*REPLICATE\s+((?:{_IDENT}\.)*{_IDENT})\s*(.*?)\s*;?\s*$", re.I | re.S)
_FROM = re.compile(rf"\bFROM\s+((?:{_IDENT}\.)*{_IDENT})", re.I)


def unquote_ident(text: str) -> str:
    """``[schema].[Table]`` -> ``Table``: the last part without its brackets or quotes."""
    parts = re.findall(_IDENT, text.strip())
    last = parts[-1] if parts else text.strip()
    if last[:1] in '["`' and len(last) >= 2:
        return last[1:-1]
    return last.split(".")[-1]


def quote(name: str) -> str:
    """Quote an identifier for SQLite."""
    return '"' + name.replace('"', '""') + '"'


def parse_replicate(query: str) -> ReplicateQuery:
    """Parse a task query; raises :class:`ConnectorError` for anything but REPLICATE."""
    match = _REPLICATE.match(query or "")
    if not match:
        raise ConnectorError(f"Unsupported task query (expected REPLICATE [Table] ...): {query!r}")
    dest = unquote_ident(match.group(1))
    rest = match.group(2).strip()
    if not rest:
        return ReplicateQuery(dest, f"SELECT * FROM {quote(dest)}", dest)
    if not rest.upper().startswith("SELECT"):
        raise ConnectorError(f"Unsupported task query (expected SELECT after the table name): {query!r}")
    source = _FROM.search(rest)
    return ReplicateQuery(dest, rest, unquote_ident(source.group(1)) if source else None)


def destination_table(query: str) -> str | None:
    """The destination table named by a task query, or None when it cannot be parsed."""
    try:
        return parse_replicate(query).destination
    except ConnectorError:
        return None


def split_sql(script: str) -> list[str]:
    """Split a script on ``;`` outside quotes (transformation tasks may hold several statements)."""
    statements: list[str] = []
    current: list[str] = []
    quote_char = ""
    for char in script:
        if quote_char:
            if char == quote_char:
                quote_char = ""
        elif char in "'\"[":
            quote_char = "]" if char == "[" else char
        elif char == ";":
            statements.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    statements.append("".join(current).strip())
    return [s for s in statements if s]


def _infer_type(values: Sequence[Any]) -> str:
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return "TEXT"
    if kinds <= {int, bool}:
        return "INTEGER"
    if kinds <= {int, float}:
        return "REAL"
    if kinds == {bytes}:
        return "BLOB"
    return "TEXT"


class Connector:
    """Base class of the emulated connectors."""

    name = "base"

    def test(self, as_source: bool) -> str:
        """Really open the data store; raise :class:`ConnectorError` when that fails."""
        raise NotImplementedError

    def tables(self) -> list[dict[str, Any]]:
        """Tables and views: ``{"name","schema","type"}``."""
        raise NotImplementedError

    def columns(self, table: str) -> list[Column]:
        """Columns of one table; raises :class:`ConnectorError` when it does not exist."""
        raise NotImplementedError

    def read(self, select: str, batch_size: int) -> tuple[list[Column], Iterator[list[tuple[Any, ...]]]]:
        """Run a SELECT on the source; the columns and an iterator of row batches."""
        raise NotImplementedError

    def prepare_table(
        self, table: str, columns: list[Column], *, truncate: bool, drop: bool, alter_schema: bool
    ) -> None:
        """Create/alter/truncate/drop the destination table before rows are written."""
        raise NotImplementedError

    def write(self, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> int:
        """Write (upsert by key where there is one) a batch of rows; the number written."""
        raise NotImplementedError

    def run_sql(self, sql: str) -> int:
        """Run transformation SQL (several statements allowed); the number of rows changed."""
        raise ConnectorError(f"The {self.name} connector does not run transformation SQL.")

    def close(self) -> None:
        """Release the underlying connection."""


class SQLiteConnector(Connector):
    """A SQLite database file (property ``Database``)."""

    name = "SQLite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def _connect(self, create: bool) -> sqlite3.Connection:
        if self._conn is None:
            if not create and not self.path.exists():
                raise ConnectorError(f"SQLite database file not found: {self.path}")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        return self._conn

    def close(self) -> None:
        """Close the SQLite connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def test(self, as_source: bool) -> str:
        """Open the file (a source must exist; a destination is created)."""
        try:
            conn = self._connect(create=not as_source)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            raise ConnectorError(f"Cannot open SQLite database {self.path}: {exc}") from exc
        return f"Connected to SQLite database {self.path}"

    def tables(self) -> list[dict[str, Any]]:
        """Tables and views of the database."""
        rows = (
            self._connect(False)
            .execute(
                "SELECT name, type FROM sqlite_master WHERE type IN ('table','view') "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
            .fetchall()
        )
        return [{"name": n, "schema": "main", "type": t.upper()} for n, t in rows]

    def _table_info(self, conn: sqlite3.Connection, table: str) -> list[Column]:
        info = conn.execute(f"PRAGMA table_info({quote(table)})").fetchall()
        return [Column(r[1], r[2] or "TEXT", not r[3] and not r[5], bool(r[5])) for r in info]

    def columns(self, table: str) -> list[Column]:
        """Columns from ``PRAGMA table_info``."""
        cols = self._table_info(self._connect(False), table)
        if not cols:
            raise ConnectorError(f"Table '{table}' was not found in {self.path.name}.")
        return cols

    def read(self, select: str, batch_size: int) -> tuple[list[Column], Iterator[list[tuple[Any, ...]]]]:
        """Run the SELECT on the database file."""
        conn = self._connect(False)
        return _read_cursor(conn, select, batch_size, lambda t: self._table_info(conn, t))

    def prepare_table(
        self, table: str, columns: list[Column], *, truncate: bool, drop: bool, alter_schema: bool
    ) -> None:
        """Create the table if missing, add missing columns, truncate or drop as configured."""
        conn = self._connect(True)
        if drop:
            conn.execute(f"DROP TABLE IF EXISTS {quote(table)}")
        existing = {c.name.lower() for c in self._table_info(conn, table)}
        if not existing:
            defs = [f"{quote(c.name)} {c.data_type}" for c in columns]
            keys = [quote(c.name) for c in columns if c.is_key]
            if keys:
                defs.append(f"PRIMARY KEY ({', '.join(keys)})")
            conn.execute(f"CREATE TABLE {quote(table)} ({', '.join(defs)})")
        else:
            missing = [c for c in columns if c.name.lower() not in existing]
            if missing and not alter_schema:
                names = ", ".join(c.name for c in missing)
                raise ConnectorError(
                    f"Destination table '{table}' lacks column(s) {names} and alter_schema is false."
                )
            for col in missing:
                conn.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(col.name)} {col.data_type}")
            if truncate:
                conn.execute(f"DELETE FROM {quote(table)}")
        conn.commit()

    def write(self, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> int:
        """``INSERT OR REPLACE`` so that keyed tables are upserted like a Sync merge."""
        conn = self._connect(True)
        marks = ", ".join("?" for _ in columns)
        names = ", ".join(quote(c) for c in columns)
        conn.executemany(f"INSERT OR REPLACE INTO {quote(table)} ({names}) VALUES ({marks})", rows)
        conn.commit()
        return len(rows)

    def run_sql(self, sql: str) -> int:
        """Run each statement; the rows changed (or created by CREATE TABLE AS SELECT)."""
        conn = self._connect(False)
        changed = 0
        try:
            for statement in split_sql(sql):
                before = conn.total_changes
                cursor = conn.execute(statement)
                changed += max(conn.total_changes - before, 0)
                created = re.match(
                    r"\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\S+)\s+AS\b", statement, re.I
                )
                if created and cursor.rowcount <= 0:
                    table = unquote_ident(created.group(1))
                    changed += conn.execute(f"SELECT count(*) FROM {quote(table)}").fetchone()[0]
            conn.commit()
        except sqlite3.Error as exc:
            conn.rollback()
            raise ConnectorError(str(exc)) from exc
        return changed


def _read_cursor(
    conn: sqlite3.Connection, select: str, batch_size: int, table_info: Any
) -> tuple[list[Column], Iterator[list[tuple[Any, ...]]]]:
    """Execute ``select`` and describe its columns from the source table (or the first rows)."""
    try:
        cursor = conn.execute(select)
    except sqlite3.Error as exc:
        raise ConnectorError(str(exc)) from exc
    names = [d[0] for d in cursor.description or []]
    first = cursor.fetchmany(batch_size)
    source = _FROM.search(select)
    known: dict[str, Column] = {}
    if source:
        known = {c.name.lower(): c for c in table_info(unquote_ident(source.group(1)))}
    columns = []
    for pos, name in enumerate(names):
        col = known.get(name.lower())
        if col is not None:
            columns.append(Column(name, col.data_type, col.is_nullable, col.is_key))
        else:
            columns.append(Column(name, _infer_type([row[pos] for row in first])))
    source_keys = {name for name, col in known.items() if col.is_key}
    if {c.name.lower() for c in columns if c.is_key} != source_keys:
        for col in columns:
            col.is_key = False  # a partial key would merge distinct rows: no key at all then

    def batches() -> Iterator[list[tuple[Any, ...]]]:
        rows = first
        while rows:
            yield [tuple(r) for r in rows]
            rows = cursor.fetchmany(batch_size)

    return columns, batches()


def _convert(text: str) -> Any:
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


class CSVConnector(Connector):
    """A folder of ``<table>.csv`` files with a header row (property ``Folder``)."""

    name = "CSV"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._memory: sqlite3.Connection | None = None

    def close(self) -> None:
        """Drop the in-memory copy used for reads."""
        if self._memory is not None:
            self._memory.close()
            self._memory = None

    def _file(self, table: str) -> Path:
        return self.folder / f"{table}.csv"

    def _require_folder(self) -> None:
        if not self.folder.is_dir():
            raise ConnectorError(f"CSV folder not found: {self.folder}")

    def test(self, as_source: bool) -> str:
        """A source folder must exist; a destination folder is created."""
        if not as_source:
            self.folder.mkdir(parents=True, exist_ok=True)
        self._require_folder()
        return f"Connected to CSV folder {self.folder}"

    def tables(self) -> list[dict[str, Any]]:
        """One table per ``*.csv`` file."""
        self._require_folder()
        return [{"name": p.stem, "schema": "", "type": "TABLE"} for p in sorted(self.folder.glob("*.csv"))]

    def _load(self, table: str) -> tuple[list[str], list[list[Any]]]:
        path = self._file(table)
        if not path.exists():
            raise ConnectorError(f"Table '{table}' was not found: no file {path.name} in {self.folder}.")
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            rows = [[_convert(v) for v in row] for row in reader]
        return header, rows

    def columns(self, table: str) -> list[Column]:
        """Header columns with types inferred from the values."""
        header, rows = self._load(table)
        return [
            Column(name, _infer_type([r[i] for r in rows[:200] if i < len(r)]))
            for i, name in enumerate(header)
        ]

    def _memory_db(self) -> sqlite3.Connection:
        if self._memory is None:
            self._require_folder()
            conn = sqlite3.connect(":memory:", check_same_thread=False)
            for path in sorted(self.folder.glob("*.csv")):
                header, rows = self._load(path.stem)
                cols = ", ".join(f"{quote(c.name)} {c.data_type}" for c in self.columns(path.stem))
                conn.execute(f"CREATE TABLE {quote(path.stem)} ({cols})")
                marks = ", ".join("?" for _ in header)
                conn.executemany(
                    f"INSERT INTO {quote(path.stem)} VALUES ({marks})",
                    [(r + [None] * len(header))[: len(header)] for r in rows],
                )
            self._memory = conn
        return self._memory

    def read(self, select: str, batch_size: int) -> tuple[list[Column], Iterator[list[tuple[Any, ...]]]]:
        """Run the SELECT on an in-memory copy of the folder."""
        conn = self._memory_db()

        def info(table: str) -> list[Column]:
            rows = conn.execute(f"PRAGMA table_info({quote(table)})").fetchall()
            return [Column(r[1], r[2] or "TEXT") for r in rows]

        return _read_cursor(conn, select, batch_size, info)

    def _header(self, table: str) -> list[str]:
        path = self._file(table)
        if not path.exists():
            return []
        with path.open(newline="", encoding="utf-8") as handle:
            return next(csv.reader(handle), [])

    def prepare_table(
        self, table: str, columns: list[Column], *, truncate: bool, drop: bool, alter_schema: bool
    ) -> None:
        """Create the file with its header, extend the header, truncate or drop."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._file(table)
        if drop and path.exists():
            path.unlink()
        header = self._header(table)
        wanted = [c.name for c in columns]
        if not header or truncate:
            self._rewrite(path, header or wanted, [])
            header = header or wanted
        missing = [n for n in wanted if n not in header]
        if missing and not alter_schema:
            raise ConnectorError(
                f"Destination table '{table}' lacks column(s) {', '.join(missing)} and alter_schema is false."
            )
        if missing:
            _, rows = self._load(table)
            self._rewrite(path, header + missing, rows)

    def _rewrite(self, path: Path, header: list[str], rows: list[list[Any]]) -> None:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows([(r + [None] * len(header))[: len(header)] for r in rows])

    def write(self, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> int:
        """Append rows in the file's header order."""
        header = self._header(table)
        positions = [columns.index(h) if h in columns else None for h in header]
        with self._file(table).open("a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            for row in rows:
                writer.writerow(["" if p is None or row[p] is None else row[p] for p in positions])
        return len(rows)


def open_connector(connection: dict[str, Any], data_dir: Path) -> Connector:
    """Build the connector named by a connection document; relative paths live in the data dir."""
    props = connection.get("properties") or {}
    kind = str(connection.get("connector") or "").lower()
    if "sqlite" in kind:
        location = get_ci(props, "Database", "Data Source", "DataSource", "File", "Path")
        if not location:
            raise ConnectorError(f"Connection '{connection.get('name')}' has no 'Database' property.")
        return SQLiteConnector(_resolve(str(location), data_dir))
    if "csv" in kind:
        location = get_ci(props, "Folder", "URI", "DataSource", "Data Source", "Path")
        if not location:
            raise ConnectorError(f"Connection '{connection.get('name')}' has no 'Folder' property.")
        return CSVConnector(_resolve(str(location), data_dir))
    raise ConnectorError(
        f"Connector '{connection.get('connector')}' is not emulated (supported: {', '.join(CONNECTORS)})."
    )


def _resolve(location: str, data_dir: Path) -> Path:
    path = Path(location).expanduser()
    return path if path.is_absolute() else data_dir / path
