"""OData query options for API v1 collections.

Supported: ``$filter``, ``$orderby``, ``$top``, ``$skip``, ``$select``, ``$count``.

``$filter`` supports eq, ne, gt, ge, lt, le, and, or, not, parentheses, startswith, endswith,
contains, tolower, toupper; literals: 'strings' (with '' escaping), numbers, true/false/null and
unquoted dates/datetimes (``2025-01-01``, ``2025-01-01T00:00:00Z``), compared as instants.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .util import ApiError, parse_iso

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')"
    r"|(?P<date>\d{4}-\d{2}-\d{2}(?:T[0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?)"
    r"|(?P<num>-?\d+(?:\.\d+)?)"
    r"|(?P<name>[A-Za-z_][\w/.]*)"
    r"|(?P<punct>[(),]))"
)
_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCS = {"startswith", "endswith", "contains", "tolower", "toupper", "substringof"}

Row = dict[str, Any]
Expr = Callable[[Row], Any]


def _error(message: str) -> ApiError:
    return ApiError(400, "BadRequest", f"Invalid $filter: {message}")


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise _error(f"unexpected text at position {pos}: {text[pos : pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "str":
            out.append(("lit", value[1:-1].replace("''", "'")))
        elif kind == "date":
            out.append(("lit", parse_iso(value)))
        elif kind == "num":
            out.append(("lit", float(value) if "." in value else int(value)))
        elif kind == "name" and value.lower() in ("true", "false", "null"):
            out.append(("lit", {"true": True, "false": False, "null": None}[value.lower()]))
        elif kind == "name":
            out.append(("name", value))
        else:
            out.append(("punct", value))
    return out


def _coerce(left: Any, right: Any) -> tuple[Any, Any]:
    """Compare dates as instants and strings case-sensitively; numbers stay numbers."""
    if isinstance(right, datetime) and isinstance(left, str):
        return parse_iso(left), right
    if isinstance(left, datetime) and isinstance(right, str):
        return left, parse_iso(right)
    return left, right


def _compare(op: str, left: Any, right: Any) -> bool:
    left, right = _coerce(left, right)
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        return bool({"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[op])
    except TypeError:
        return False


class _Parser:
    def __init__(self, text: str, fields: dict[str, str]) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.fields = fields  # lower-case name -> real field name

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "name" and str(token[1]).lower() == word:
            self.pos += 1
            return True
        return False

    def expect(self, punct: str) -> None:
        token = self.peek()
        if token != ("punct", punct):
            raise _error(f"expected {punct!r}")
        self.pos += 1

    def parse(self) -> Expr:
        expr = self.parse_or()
        if self.peek() is not None:
            raise _error(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return expr

    def parse_or(self) -> Expr:
        left = self.parse_and()
        while self.keyword("or"):
            right = self.parse_and()
            left = (lambda a, b: lambda r: bool(a(r)) or bool(b(r)))(left, right)
        return left

    def parse_and(self) -> Expr:
        left = self.parse_not()
        while self.keyword("and"):
            right = self.parse_not()
            left = (lambda a, b: lambda r: bool(a(r)) and bool(b(r)))(left, right)
        return left

    def parse_not(self) -> Expr:
        if self.keyword("not"):
            inner = self.parse_not()
            return lambda r: not inner(r)
        return self.parse_compare()

    def parse_compare(self) -> Expr:
        left = self.parse_value()
        token = self.peek()
        if token and token[0] == "name" and str(token[1]).lower() in _COMPARE:
            self.pos += 1
            op = str(token[1]).lower()
            right = self.parse_value()
            return lambda r: _compare(op, left(r), right(r))
        return left

    def parse_value(self) -> Expr:
        token = self.peek()
        if token is None:
            raise _error("unexpected end")
        self.pos += 1
        kind, value = token
        if kind == "lit":
            return lambda r: value
        if token == ("punct", "("):
            inner = self.parse_or()
            self.expect(")")
            return inner
        if kind == "name" and str(value).lower() in _FUNCS and self.peek() == ("punct", "("):
            return self.parse_func(str(value).lower())
        if kind == "name":
            field = self.fields.get(str(value).lower())
            if field is None:
                raise _error(f"unknown property {value!r}")
            return lambda r: r.get(field)
        raise _error(f"unexpected {value!r}")

    def parse_func(self, name: str) -> Expr:
        self.expect("(")
        args = [self.parse_or()]
        while self.peek() == ("punct", ","):
            self.pos += 1
            args.append(self.parse_or())
        self.expect(")")

        def text(value: Any) -> str:
            return "" if value is None else str(value)

        if name in ("tolower", "toupper") and len(args) == 1:
            arg = args[0]
            return lambda r: text(arg(r)).lower() if name == "tolower" else text(arg(r)).upper()
        if len(args) != 2:
            raise _error(f"{name} takes two arguments")
        first, second = args
        if name == "startswith":
            return lambda r: text(first(r)).startswith(text(second(r)))
        if name == "endswith":
            return lambda r: text(first(r)).endswith(text(second(r)))
        if name == "substringof":
            return lambda r: text(first(r)) in text(second(r))
        return lambda r: text(second(r)) in text(first(r))


def compile_filter(text: str, fields: list[str]) -> Expr:
    """Compile a ``$filter`` expression against rows having ``fields``."""
    return _Parser(text, {f.lower(): f for f in fields}).parse()


def order_rows(rows: list[Row], orderby: str, fields: list[str]) -> list[Row]:
    """Apply ``$orderby=Col [asc|desc], ...`` (None sorts first)."""
    lookup = {f.lower(): f for f in fields}
    keys = []
    for part in orderby.split(","):
        words = part.split()
        if not words:
            continue
        field = lookup.get(words[0].lower())
        if field is None:
            raise ApiError(400, "BadRequest", f"Invalid $orderby: unknown property {words[0]!r}")
        desc = len(words) > 1 and words[1].lower() == "desc"
        keys.append((field, desc))
    for field, desc in reversed(keys):
        rows = sorted(rows, key=_field_key(field), reverse=desc)
    return rows


def _field_key(field: str) -> Callable[[Row], tuple[int, Any]]:
    return lambda row: _sort_key(row.get(field))


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))


def select_fields(row: Row, select: str, fields: list[str]) -> Row:
    """Apply ``$select=A,B``."""
    lookup = {f.lower(): f for f in fields}
    wanted = []
    for name in select.split(","):
        name = name.strip()
        if not name:
            continue
        if name == "*":
            return row
        if name.lower() not in lookup:
            raise ApiError(400, "BadRequest", f"Invalid $select: unknown property {name!r}")
        wanted.append(lookup[name.lower()])
    return {k: row.get(k) for k in wanted}
