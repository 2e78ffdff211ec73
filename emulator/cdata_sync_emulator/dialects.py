"""Dialects: the same engine and service answered in the shapes that real CData Sync servers may use.

A dialect is a table of behaviours (:class:`Dialect`) that the HTTP layers consult: ``v2.py`` passes every
successful v2 answer through :func:`render_v2`, ``v1.py`` asks the dialect whether ``$filter`` works on
``history``, whether a running run is listed, how ids look and how logs and job status are answered.
Nothing here runs, stores or validates resources: that stays in :mod:`.service` and :mod:`.engine`.

``default``
    Today's shape: lower snake case v2, run ids everywhere, a lenient v1.
``pascal``
    v2 in PascalCase, paged by 2, execute without a run id, "In progress"/"Successful", task errors
    only in ``Details``.
``v1-real``
    v1 as real servers answer it, after CData's own client (``docs/api-facts.md``): no ``$filter``/``$count``
    on ``history``, logs as text only, a top-level ``getJobStatus``, workspaces by ``?workspaceId=``,
    17-digit numeric ids, and finished runs only in ``history``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .store import Store
from .util import ApiError

#: First numeric v1 job id of the ``v1-real`` dialect: 2**55 + 1, 17 digits. Above 2**53 a JSON parser that
#: reads numbers as doubles rounds these ids (spacing 8), so only clients that keep ids exact see them right.
V1_JOB_NUMBER_START = 36028797018963969
#: ``v1-real`` history ids are this plus the run number: 2**56 + n, 17 digits, beyond a double's precision.
V1_HISTORY_BASE = 72057594037927936


@dataclass(frozen=True)
class Dialect:
    """What differs between dialects; every field is read by the v2 or v1 layer (see the README table)."""

    name: str
    summary: str
    # ----- API v2 ---------------------------------------------------------------------------------
    #: answers in PascalCase (``job_id`` -> ``JobId``), envelopes and ``@odata.*`` keys kept.
    v2_pascal_keys: bool = False
    #: page size of every v2 list without ``?page_size=`` (None: one page with everything).
    v2_page_size: int | None = None
    #: ``POST .../execute`` answers the run's id (False: the client must find its run in the history).
    v2_execute_run_id: bool = True
    #: run status words as answered (``Running`` -> ``In progress``...); unmapped words are kept.
    v2_status_words: tuple[tuple[str, str], ...] = ()
    #: run and task errors under ``details`` (``Details``) instead of ``error``.
    v2_errors_in_details: bool = False
    # ----- API v1 ---------------------------------------------------------------------------------
    #: ``$filter`` and ``$count`` work on ``history`` (False: 400, as real servers fail).
    v1_history_filter: bool = True
    #: queued and running runs are listed in ``history`` (False: a record appears when its run ends).
    v1_running_in_history: bool = True
    #: ``getJobLog``/``getlogs`` answer JSON rows (False: text/plain, the log text only).
    v1_log_rows: bool = True
    #: ``getJobStatus`` answers per-task rows (False: one top-level ``{Status, Queries, JobId, JobName}``).
    v1_status_rows: bool = True
    #: answers carry history ids (``HistoryId``, ``LastRunId``); False: none but the history records' ``Id``.
    v1_history_ids: bool = True
    #: job ids and history ids are 17-digit JSON numbers (False: UUID strings and small integers).
    v1_numeric_ids: bool = False
    #: without ``?workspaceId=``/``WorkspaceId`` only the ``default`` workspace is visible (False: all).
    v1_default_workspace_only: bool = False

    def status_word(self, word: Any) -> Any:
        """A v2 run/task status word as this dialect spells it."""
        return dict(self.v2_status_words).get(word, word) if isinstance(word, str) else word


DEFAULT = Dialect("default", "today's shape: lower snake case v2 with run ids everywhere; a lenient v1")
PASCAL = Dialect(
    "pascal",
    "v2 in PascalCase, paged by 2, execute without a run id, In progress/Successful, errors in Details",
    v2_pascal_keys=True,
    v2_page_size=2,
    v2_execute_run_id=False,
    v2_status_words=(("Running", "In progress"), ("Success", "Successful")),
    v2_errors_in_details=True,
)
V1_REAL = Dialect(
    "v1-real",
    "v1 as CData's own client sees it: no $filter/$count on history, text logs, top-level getJobStatus, "
    "workspaces by ?workspaceId=, 17-digit numeric ids, finished runs only in history",
    v1_history_filter=False,
    v1_running_in_history=False,
    v1_log_rows=False,
    v1_status_rows=False,
    v1_history_ids=False,
    v1_numeric_ids=True,
    v1_default_workspace_only=True,
)
DIALECTS: dict[str, Dialect] = {d.name: d for d in (DEFAULT, PASCAL, V1_REAL)}


def get_dialect(name: str | Dialect | None) -> Dialect:
    """The dialect called ``name`` (``None``: ``default``); a clear error naming the choices otherwise."""
    if isinstance(name, Dialect):
        return name
    key = (name or "default").strip().lower().replace("_", "-")
    if key not in DIALECTS:
        raise ValueError(f"unknown CData Sync emulator dialect {name!r}: choose one of {', '.join(DIALECTS)}")
    return DIALECTS[key]


# ----- API v2 rendering -----------------------------------------------------------------------------
#: Keys whose values are bags of user-chosen names (connection properties): their inner keys stay as given.
_BAG_KEYS = frozenset({"properties", "settings"})
_STATUS_KEYS = frozenset({"status", "last_status", "run_status"})
#: What an execute answer keeps when the dialect gives no run id (the run's own fields name it).
_EXECUTE_FIELDS = (
    "kind",
    "job_id",
    "job_name",
    "transformation_id",
    "transformation_name",
    "pipeline_id",
    "pipeline_name",
    "status",
    "queued_time",
    "trigger",
)


def pascal_key(key: str) -> str:
    """``records_affected`` -> ``RecordsAffected``; ``value`` and ``@odata.*`` stay (they are envelopes)."""
    if key == "value" or key.startswith("@"):
        return key
    return "".join(part[:1].upper() + part[1:] for part in key.split("_"))


def render_v2(dialect: Dialect, route: str, payload: Any) -> Any:
    """One successful v2 answer in the dialect's shape; ``route`` is the route's name (``execute_job``)."""
    if dialect is DEFAULT or not isinstance(payload, dict):
        return payload
    if route.startswith("execute_") and not dialect.v2_execute_run_id:
        payload = {k: payload[k] for k in _EXECUTE_FIELDS if k in payload}
        payload["message"] = "Execution started: find the run in the history."
    if route.startswith("status_") and not dialect.v2_execute_run_id:
        payload = {k: v for k, v in payload.items() if k not in ("history_id", "last_history_id")}
    return _render(dialect, payload)


def _render(dialect: Dialect, value: Any) -> Any:
    if isinstance(value, list):
        return [_render(dialect, item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in _STATUS_KEYS:
            item = dialect.status_word(item)
        elif key not in _BAG_KEYS:
            item = _render(dialect, item)
        if key == "error" and dialect.v2_errors_in_details:
            key = "details"
        out[pascal_key(key) if dialect.v2_pascal_keys else key] = item
    return out


# ----- API v1 ids --------------------------------------------------------------------------------------
class V1Ids:
    """How v1 names jobs and runs in a dialect: UUIDs and small integers, or 17-digit numbers.

    Numeric job ids are assigned when a job (or transformation, or pipeline) is first shown and kept in the
    state store, so they survive restarts and can be sent back (as a number or a string).
    """

    def __init__(self, dialect: Dialect, store: Store) -> None:
        self.numeric = dialect.v1_numeric_ids
        self.store = store

    def target(self, uuid: str | None) -> Any:
        """The v1 id of a job, transformation or pipeline."""
        if not self.numeric or uuid is None:
            return uuid
        with self.store.lock:
            known = self.store.get("v1_number", uuid)
            if known is not None:
                return int(known["number"])
            number = self.store.next_number("v1_job_number", V1_JOB_NUMBER_START)
            self.store.put("v1_number", {"id": uuid, "number": number})
            self.store.put("v1_target", {"id": str(number), "uuid": uuid})
            return number

    def target_ref(self, ref: Any) -> str:
        """A reference sent by a client (name, UUID or v1 number) as the service understands it."""
        text = str(ref).strip()
        if self.numeric and text.isdigit():
            known = self.store.get("v1_target", text)
            if known is not None:
                return str(known["uuid"])
        return text

    def history(self, run_id: str) -> int:
        """The v1 ``Id`` of a run."""
        return int(run_id) + (V1_HISTORY_BASE if self.numeric else 0)

    def history_ref(self, ref: Any) -> str:
        """A history key sent by a client as the stored run id (404 when it cannot be one)."""
        text = str(ref).strip()
        if not text.isdigit():
            raise ApiError(404, "NotFound", f"History '{text}' was not found.")
        number = int(text)
        if self.numeric:
            number -= V1_HISTORY_BASE
        return str(number)
