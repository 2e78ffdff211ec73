"""Small helpers shared by the emulator modules: errors, ids, timestamps and key normalisation."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any


class ApiError(Exception):
    """An error answered to the client as ``{"error": {"code": ..., "message": ...}}``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body sent for this error."""
        return {"error": {"code": self.code, "message": self.message}}


def not_found(what: str, ident: str) -> ApiError:
    """404 naming what was not found."""
    return ApiError(404, "NotFound", f"{what} '{ident}' was not found.")


def conflict(message: str) -> ApiError:
    """409: the resource is busy (a run is queued or running)."""
    return ApiError(409, "Conflict", message)


def bad_request(field: str, message: str) -> ApiError:
    """400 naming the offending field."""
    return ApiError(400, "BadRequest", f"Invalid value for '{field}': {message}")


def now() -> datetime:
    """Current time, UTC, aware."""
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with milliseconds and an explicit offset, e.g. ``2026-11-24T01:02:03.123+00:00``."""
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds")


def now_iso() -> str:
    """The current time formatted by :func:`iso`."""
    return moment_iso(now())


def moment_iso(moment: datetime) -> str:
    """Like :func:`iso` for a value that is never None."""
    return moment.isoformat(timespec="milliseconds")


def parse_iso(text: str | None) -> datetime | None:
    """Parse a timestamp written by :func:`iso` (or a date); None when empty or invalid."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def new_uuid() -> str:
    """A UUID string, the id format of connections, jobs, transformations, pipelines and users."""
    return str(uuid.uuid4())


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

# Spellings that the generic rule does not map to the documented snake-case name.
_ALIASES = {
    "use_gmt_date_time": "use_gmt_datetime",
    "cdc_engine_setting": "cdc_engine_settings",
    "pipelineid": "pipeline_id",
    "sourceconnection": "source_connection",
    "destinationconnection": "destination_connection",
    "connect_version": "connector_version",
}


def norm_key(key: str) -> str:
    """Normalise a request key: ``Source-Connection``, ``EmailErrorOnly`` -> ``source_connection``...

    Keys that already contain a separator are only lower-cased (so ``Use_GMT_DateTime`` keeps
    ``datetime`` in one piece); keys without one are split at camel-case humps.
    """
    text = key.strip()
    if not re.search(r"[-_ ]", text):
        text = _CAMEL.sub("_", text)
    text = re.sub(r"[-\s]+", "_", text).lower()
    return _ALIASES.get(text, text)


def normalize(body: dict[str, Any], nested: tuple[str, ...] = ("schedule",)) -> dict[str, Any]:
    """Normalise the top-level keys of a request body and those of the ``nested`` objects.

    Property bags (connection properties) keep their keys: they are looked up case-insensitively.
    """
    out: dict[str, Any] = {}
    for key, value in body.items():
        nkey = norm_key(str(key))
        if nkey in nested and isinstance(value, dict):
            value = {norm_key(str(k)): v for k, v in value.items()}
        out[nkey] = value
    return out


def as_bool(value: Any, field: str) -> bool:
    """Interpret JSON booleans and the usual strings ("true", "1", "yes")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "yes", "on"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"false", "0", "no", "off", ""}:
        return False
    raise bad_request(field, f"expected a boolean, got {value!r}")


def as_int(value: Any, field: str, minimum: int | None = None) -> int:
    """Interpret an integer (or a numeric string), enforcing an optional minimum."""
    if isinstance(value, bool):
        raise bad_request(field, f"expected an integer, got {value!r}")
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise bad_request(field, f"expected an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise bad_request(field, f"must be at least {minimum}")
    return number


def get_ci(mapping: dict[str, Any], *names: str) -> Any:
    """Case-insensitive lookup of the first of ``names`` present in ``mapping``."""
    lowered = {str(k).lower().replace(" ", "").replace("_", ""): v for k, v in mapping.items()}
    for name in names:
        key = name.lower().replace(" ", "").replace("_", "")
        if key in lowered:
            return lowered[key]
    return None


def safe_name(text: str) -> str:
    """A file-name friendly version of a resource name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "unnamed"


def normalize_link_base(link_base: str | None) -> str | None:
    """``http://proxy:9/`` -> ``http://proxy:9``; a clear error when it is not an absolute http(s) URL."""
    if not link_base:
        return None
    text = link_base.strip().rstrip("/")
    if not text.startswith(("http://", "https://")) or text.endswith("://"):
        raise ValueError(f"link_base must look like http://host:port, got {link_base!r}")
    return text
