"""OData 4.0 literals for the v1 API: keys and ``$filter`` values that no name can break out of."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote


def string_literal(value: str) -> str:
    """``O'Brien`` -> ``'O''Brien'`` (single quotes doubled, as OData requires)."""
    return "'" + str(value).replace("'", "''") + "'"


def literal(value: object) -> str:
    """An OData literal: strings quoted, datetimes as UTC ``2025-01-01T00:00:00Z``, numbers bare."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return string_literal(str(value))


def entity_path(entity_set: str, key: str) -> str:
    """``jobs('My Job')`` with the key quoted and percent-encoded for the URL path."""
    return f"{entity_set}({quote(string_literal(key), safe=chr(39))})"


def eq(field: str, value: object) -> str:
    """``Field eq <literal>``; the field name is checked, the value escaped."""
    return f"{_field(field)} eq {literal(value)}"


def ge(field: str, value: object) -> str:
    """``Field ge <literal>``."""
    return f"{_field(field)} ge {literal(value)}"


def all_of(*clauses: str) -> str:
    """Clauses joined with ``and``, each in parentheses."""
    return " and ".join(f"({clause})" for clause in clauses if clause)


def _field(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"Invalid OData field name {name!r}")
    return name
