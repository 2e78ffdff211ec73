"""Request contracts of the open-source AI Squared server (dry-validation ``params`` schemas), reproduced.

The server validates every request's parameters (path, query and body merged) before anything else and
answers 400 with a hash of messages, ``{"errors": {"sync": {"schedule_type": ["is missing"]}}}``. The
messages are dry-validation's: ``is missing``, ``must be filled``, ``must be an integer``, ``must be a
string``, ``must be boolean``, ``must be a hash``; rules add their own (``invalid sync mode``...). Rules only
run for keys whose schema check passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..cron import CronError, parse_cron

_MISSING = object()
_BOOLS = {"true": True, "1": True, "false": False, "0": False}


@dataclass(frozen=True)
class Key:
    """One key of a schema: ``required(:name).filled(:integer)`` is ``Key("name", True, "integer")``."""

    name: str
    required: bool
    type: str = "any"  # integer | string | bool | hash | any
    maybe: bool = False  # ``maybe(...)``: nil allowed; otherwise ``filled``: nil and "" refused
    keys: tuple[Key, ...] = ()


def _filled(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def _coerce(key: Key, value: Any) -> tuple[Any, str | None]:
    """``params`` coercion: "5" is an integer, "true" a boolean; the message when the type is wrong."""
    if key.type == "integer":
        if isinstance(value, bool):
            return value, "must be an integer"
        if isinstance(value, int):
            return value, None
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value), None
        return value, "must be an integer"
    if key.type == "string":
        return value, None if isinstance(value, str) else "must be a string"
    if key.type == "bool":
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.lower() in _BOOLS:
            return _BOOLS[value.lower()], None
        return value, "must be boolean"
    if key.type == "hash":
        return value, None if isinstance(value, dict) else "must be a hash"
    return value, None


def check(keys: tuple[Key, ...], data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate ``data`` against ``keys``: (the coerced values, the error hash; empty when valid)."""
    values: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for key in keys:
        raw = data.get(key.name, _MISSING)
        if raw is _MISSING:
            if key.required:
                errors[key.name] = ["is missing"]
            continue
        if raw is None or raw == "":
            if not key.maybe:
                errors[key.name] = ["must be filled"]
            else:
                values[key.name] = None
            continue
        value, problem = _coerce(key, raw)
        if problem:
            errors[key.name] = [problem]
        elif key.type != "hash" and not key.maybe and not _filled(value):
            errors[key.name] = ["must be filled"]
        elif key.type == "hash" and key.keys:
            inner, inner_errors = check(key.keys, value)
            values[key.name] = inner
            if inner_errors:
                errors[key.name] = inner_errors
        else:
            values[key.name] = value
    return values, errors


PAGE = Key("page", False, "integer")

SYNC_CREATE = (
    Key(
        "sync",
        True,
        "hash",
        keys=(
            Key("name", False, "string"),
            Key("source_id", False, "integer"),
            Key("model_id", True, "integer"),
            Key("destination_id", True, "integer"),
            Key("schedule_type", True, "string"),
            Key("sync_interval", False, "integer", maybe=True),
            Key("sync_interval_unit", False, "string", maybe=True),
            Key("cron_expression", False, "string", maybe=True),
            Key("sync_mode", True, "string"),
            Key("stream_name", True, "string"),
            Key("cursor_field", False, "string", maybe=True),
            Key("configuration", True),
        ),
    ),
)
SYNC_UPDATE = (
    Key("id", True, "integer"),
    Key(
        "sync",
        True,
        "hash",
        keys=(
            Key("source_id", False, "integer"),
            Key("model_id", False, "integer"),
            Key("destination_id", False, "integer"),
            Key("schedule_type", False, "string"),
            Key("sync_interval", False, "integer", maybe=True),
            Key("sync_interval_unit", False, "string", maybe=True),
            Key("cron_expression", False, "string", maybe=True),
            Key("sync_mode", False, "string"),
            Key("stream_name", False, "string"),
            Key("configuration", False),
        ),
    ),
)
ID = (Key("id", True, "integer"),)
ENABLE = (Key("id", True, "integer"), Key("enable", True, "bool"))
SCHEDULE_CREATE = (Key("schedule_sync", True, "hash", keys=(Key("sync_id", True, "integer"),)),)
SCHEDULE_DESTROY = (Key("sync_id", True),)
RUNS_INDEX = (Key("sync_id", True, "integer"), Key("status", False, "string"), PAGE)
RUN_SHOW = (Key("sync_id", True, "integer"), Key("id", True, "integer"))
RECORDS_INDEX = (
    Key("sync_id", True, "integer"),
    Key("sync_run_id", True, "integer"),
    Key("status", False, "string"),
    PAGE,
)
LOGIN = (Key("email", True, "string"), Key("password", True, "string"))
INDEX = (PAGE,)

SYNC_MODES = ("full_refresh", "incremental")
SCHEDULE_TYPES = ("manual", "interval", "cron_expression")
INTERVAL_UNITS = ("minutes", "hours", "days", "weeks")
#: Devise's email format check of the login contract.
EMAIL_PATTERN = r"\A[\w+\-.]+@[a-z\d-]+(\.[a-z\d-]+)*\.[a-z]+\Z"


def sync_rules(sync: dict[str, Any], errors: dict[str, Any], *, update: bool) -> None:
    """The rules of ``SyncContracts::Create``/``Update`` on the keys that passed the schema."""
    failed = errors.get("sync", {}) if isinstance(errors.get("sync"), dict) else {}

    def fail(key: str, message: str) -> None:
        failed.setdefault(key, []).append(message)

    def checked(key: str) -> bool:  # present (or, on create, optional and absent) and schema-valid
        return key not in failed and (key in sync or not update)

    mode = sync.get("sync_mode")
    if checked("sync_mode") and mode is not None and str(mode).lower() not in SYNC_MODES:
        fail("sync_mode", "invalid sync mode")
    kind = sync.get("schedule_type")
    if checked("schedule_type") and kind is not None and str(kind).lower() not in SCHEDULE_TYPES:
        fail("schedule_type", "invalid schedule type")
    if kind == "interval":
        if checked("sync_interval"):
            value = sync.get("sync_interval")
            if value is None:
                fail("sync_interval", "must be present")
            elif value <= 0:
                fail("sync_interval", "must be greater than 0")
        if checked("sync_interval_unit"):
            unit = sync.get("sync_interval_unit")
            if unit is None:
                fail("sync_interval_unit", "must be present")
            elif str(unit).lower() not in INTERVAL_UNITS:
                fail("sync_interval_unit", "invalid sync interval unit")
    if kind == "cron_expression" and checked("cron_expression"):
        cron = sync.get("cron_expression")
        if cron is None:
            fail("cron_expression", "must be present")
        else:
            try:
                parse_cron(str(cron))
            except CronError:
                fail("cron_expression", "invalid cron expression format")
    if failed:
        errors["sync"] = failed
