"""What a task's query reads and writes: ``REPLICATE`` queries of jobs (one source table, one destination
table, and whether the copy is plain enough for column lineage), and the tables SQL transformations
create or change. Regular expressions, not a SQL parser: anything they do not recognise yields fewer
datasets, never wrong ones (docs/lineage.md lists what is approximate)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_IDENT = r"(?:\[[^\]]+\]|\"[^\"]+\"|`[^`]+`|[\w$#@]+)"
_QUALIFIED = rf"(?:{_IDENT}\s*\.\s*)*{_IDENT}"
_REPLICATE = re.compile(rf"^\s*REPLICATE\s+({_QUALIFIED})\s*(.*?)\s*;?\s*$", re.IGNORECASE | re.DOTALL)
_SELECT_STAR = re.compile(rf"^\s*SELECT\s+\*\s+FROM\s+({_QUALIFIED})\s*;?\s*$", re.IGNORECASE | re.DOTALL)
_FROM = re.compile(rf"\b(?:FROM|JOIN)\s+({_QUALIFIED})", re.IGNORECASE)
_WRITES = re.compile(
    rf"\b(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?(?:TABLE|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    rf"|INSERT\s+(?:OVERWRITE\s+)?(?:INTO\s+)?|MERGE\s+INTO\s+|UPDATE\s+|DELETE\s+FROM\s+|TRUNCATE\s+TABLE\s+)"
    rf"({_QUALIFIED})",
    re.IGNORECASE,
)
_DROPS = re.compile(rf"\bDROP\s+(?:TABLE|VIEW)\s+(?:IF\s+EXISTS\s+)?({_QUALIFIED})", re.IGNORECASE)
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_STRINGS = re.compile(r"'(?:[^']|'')*'")


def clean_ident(text: str) -> str:
    """``[dbo] . [Orders]`` -> ``dbo.Orders`` (quotes removed, parts kept)."""
    parts = re.findall(r"\[([^\]]+)\]|\"([^\"]+)\"|`([^`]+)`|([\w$#@]+)", text)
    return ".".join(next(p for p in groups if p) for groups in parts)


@dataclass(frozen=True)
class Replication:
    """A parsed ``REPLICATE`` query.

    :param destination: the destination table the query names (before prefix and schema).
    :param source: the source table it reads (the destination's name when the query has no SELECT).
    :param plain_copy: ``REPLICATE [T]`` or ``REPLICATE [T] SELECT * FROM [S]``: every column is copied
        under its own name (column lineage is then exact).
    """

    destination: str
    source: str | None
    plain_copy: bool


def parse_replicate(query: str | None) -> Replication | None:
    """What a ``REPLICATE`` query copies, or None for another statement."""
    if not query:
        return None
    match = _REPLICATE.match(_COMMENTS.sub(" ", query))
    if not match:
        return None
    destination = clean_ident(match.group(1))
    rest = match.group(2).strip()
    if not rest or rest.upper().startswith("WITH "):
        return Replication(destination, destination, True)
    star = _SELECT_STAR.match(rest)
    if star:
        return Replication(destination, clean_ident(star.group(1)), True)
    sources = [clean_ident(m.group(1)) for m in _FROM.finditer(_STRINGS.sub("''", rest))]
    return Replication(destination, sources[0] if len(sources) == 1 else None, False)


@dataclass(frozen=True)
class Statement:
    """Tables a SQL script (a transformation query) reads and writes."""

    reads: tuple[str, ...]
    writes: tuple[str, ...]


def tables_of_sql(sql: str | None) -> Statement:
    """The tables a transformation's SQL writes (``CREATE TABLE ... AS``, ``INSERT INTO``, ``MERGE INTO``,
    ``UPDATE``, ``DELETE FROM``) and reads (``FROM``/``JOIN`` of tables it does not write itself)."""
    if not sql:
        return Statement((), ())
    text = _STRINGS.sub("''", _COMMENTS.sub(" ", sql))
    writes = _unique(clean_ident(m.group(1)) for m in _WRITES.finditer(text))
    dropped = {clean_ident(m.group(1)).lower() for m in _DROPS.finditer(text)}
    written = {w.lower() for w in writes}
    reads = _unique(
        name
        for name in (clean_ident(m.group(1)) for m in _FROM.finditer(text))
        if name.lower() not in written and name.lower() not in dropped and not name.startswith("(")
    )
    return Statement(tuple(reads), tuple(writes))


def _unique(names: object) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for name in names:  # type: ignore[attr-defined]
        if name and name.lower() not in seen and name.upper() not in ("SELECT", "DUAL"):
            seen[name.lower()] = name
    return tuple(seen.values())
