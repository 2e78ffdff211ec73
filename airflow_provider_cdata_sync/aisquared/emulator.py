"""A local AI Squared (Multiwoven) emulator: the syncs API on its own app and loopback port.

Syncs run for real between the emulator's SQLite connections: a model is a SQL query on its source
database, a destination is a SQLite database, and a sync copies the model's rows into the table named by
its ``stream_name`` (field mapping from ``configuration``; ``full_refresh`` empties the table first,
``incremental`` copies rows past the cursor). Each row becomes a sync record (success, or failed with the
database's error). Run statuses go pending -> started -> querying -> in_progress -> success / failed /
canceled. Lists page with ``?page=&per_page=`` and ``links.next``; errors are JSON:API
``{"errors": [{"status", "title", "detail"}]}``; 424 answers a manual run of a disabled, scheduled or
running sync. Faults and call counting come from the CData Sync emulator's ASGI wrapper.

    with AISquaredEmulator(tmp_path, token="t0ken", workspace_id="7") as server:
        seed_demo(server)
        ...  # AISquaredConfig(base_url=server.api_url, token="t0ken", workspace_id="7")
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_provider_cdata_sync.aisquared.models import ACTIVE_STATUSES, SYNC_FIELDS
from airflow_provider_cdata_sync.emulator.common import read_body
from airflow_provider_cdata_sync.emulator.faults import EmulatorASGI, FaultRegistry
from airflow_provider_cdata_sync.emulator.util import ApiError, as_int, iso

API_PREFIX = "/api/v1"
SCHEDULE_TYPES = ("manual", "interval", "cron_expression")
SYNC_MODES = ("full_refresh", "incremental")
INTERVAL_UNITS = ("minutes", "hours", "days", "weeks")
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
}
TITLES.update({422: "Unprocessable Entity", 424: "Failed Dependency", 500: "Internal Server Error"})


class ApiProblem(Exception):
    """An error answered as ``{"errors": [{"status", "title", "detail"}]}``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail

    def body(self) -> dict[str, Any]:
        """The JSON:API error document."""
        return {
            "errors": [
                {"status": str(self.status), "title": TITLES.get(self.status, "Error"), "detail": self.detail}
            ]
        }


def _now() -> str | None:
    return iso(datetime.now(timezone.utc))


@dataclass
class Speed:
    """Speed knobs: seconds spent in each phase before copying, copy rate, delay before a run shows."""

    step_seconds: float = 0.05
    rows_per_second: float | None = None
    trigger_delay: float = 0.05


@dataclass
class State:
    """Connectors, models, syncs, runs and records, in memory, behind one lock."""

    connectors: dict[int, dict[str, Any]] = field(default_factory=dict)
    models: dict[int, dict[str, Any]] = field(default_factory=dict)
    syncs: dict[int, dict[str, Any]] = field(default_factory=dict)
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    records: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    cursors: dict[int, Any] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    ids: dict[str, itertools.count[int]] = field(default_factory=dict)

    def next_id(self, kind: str) -> int:
        """The next integer id of a kind."""
        return next(self.ids.setdefault(kind, itertools.count(1)))


class Engine:
    """Runs syncs in threads and copies rows for real; cancellable between phases and rows."""

    def __init__(self, state: State, data_dir: Path, speed: Speed) -> None:
        self.state = state
        self.data_dir = data_dir
        self.speed = speed
        self.cancels: dict[int, threading.Event] = {}
        self.threads: list[threading.Thread] = []

    def active_run(self, sync_id: int) -> dict[str, Any] | None:
        """The sync's run that has not finished, if any."""
        with self.state.lock:
            for run in self.state.runs.values():
                if run["sync_id"] == sync_id and run["status"] in ACTIVE_STATUSES:
                    return run
        return None

    def trigger(self, sync_id: int) -> None:
        """Start a run shortly (like a workflow engine: the trigger's answer has no run id)."""
        with self.state.lock:
            run_id = self.state.next_id("run")
            self.state.syncs[sync_id]["_starting"] = run_id
        thread = threading.Thread(target=self._run, args=(sync_id, run_id), daemon=True)
        self.threads.append(thread)
        thread.start()

    def cancel(self, sync_id: int) -> bool:
        """Ask the active (or starting) run of the sync to stop."""
        run = self.active_run(sync_id)
        with self.state.lock:
            run_id = run["id"] if run else self.state.syncs.get(sync_id, {}).get("_starting")
            if run_id is None:
                return False
            self.cancels.setdefault(run_id, threading.Event()).set()
        return True

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no run thread is alive."""
        end = time.monotonic() + timeout
        for thread in list(self.threads):
            thread.join(max(end - time.monotonic(), 0))
        return not any(thread.is_alive() for thread in self.threads)

    # ----- one run ------------------------------------------------------------------------------
    def _set(self, run: dict[str, Any], **changes: Any) -> None:
        with self.state.lock:
            run.update(changes, updated_at=_now())

    def _pause(self, run_id: int, seconds: float) -> bool:
        """Sleep; True when the run was cancelled meanwhile."""
        return self.cancels.setdefault(run_id, threading.Event()).wait(seconds)

    def _run(self, sync_id: int, run_id: int) -> None:
        cancelled = self._pause(run_id, self.speed.trigger_delay)
        with self.state.lock:
            sync = dict(self.state.syncs[sync_id])
            self.state.syncs[sync_id].pop("_starting", None)
            run = {
                "id": run_id,
                "sync_id": sync_id,
                "status": "pending",
                "started_at": _now(),
                "finished_at": None,
                "created_at": _now(),
                "updated_at": _now(),
                "total_query_rows": 0,
                "total_rows": 0,
                "successful_rows": 0,
                "failed_rows": 0,
                "skipped_rows": 0,
                "error": None,
                "source_id": sync["source_id"],
                "destination_id": sync["destination_id"],
                "model_id": sync["model_id"],
            }
            self.state.runs[run_id] = run
            self.state.records[run_id] = []
        try:
            for status in ("started", "querying"):
                if cancelled or self._pause(run_id, self.speed.step_seconds):
                    return self._finish(run, sync_id, "canceled")
                self._set(run, status=status)
            columns, rows = self._query(sync, run)
            if self._pause(run_id, self.speed.step_seconds):
                return self._finish(run, sync_id, "canceled")
            self._set(run, status="in_progress", total_query_rows=len(rows))
            outcome = self._copy(sync, run, columns, rows)
            self._finish(run, sync_id, outcome)
        except Exception as exc:  # the run fails, the emulator goes on
            self._finish(run, sync_id, "failed", error=f"{type(exc).__name__}: {exc}")

    def _finish(self, run: dict[str, Any], sync_id: int, status: str, error: str | None = None) -> None:
        self._set(run, status=status, finished_at=_now(), error=error or run.get("error"))
        with self.state.lock:
            sync = self.state.syncs.get(sync_id)
            if sync is not None and sync["status"] != "disabled":
                sync["status"] = {"success": "healthy", "failed": "failed"}.get(status, "aborted")

    def _database(self, connector_id: int) -> Path:
        connector = self.state.connectors[connector_id]
        path = Path(str(connector["configuration"]["database"]))
        return path if path.is_absolute() else self.data_dir / path

    def _query(self, sync: dict[str, Any], run: dict[str, Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        model = self.state.models[sync["model_id"]]
        source = self._database(sync["source_id"])
        if not source.exists():
            raise FileNotFoundError(f"source database {source.name} does not exist")
        conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            cursor = conn.execute(model["query"])
            columns = [d[0] for d in cursor.description or ()]
            rows = cursor.fetchall()
        finally:
            conn.close()
        cursor_field = sync.get("cursor_field")
        if sync.get("sync_mode") == "incremental" and cursor_field in columns:
            index = columns.index(cursor_field)
            last = self.state.cursors.get(sync["id"])
            rows = [row for row in rows if last is None or (row[index] is not None and row[index] > last)]
        return columns, rows

    @staticmethod
    def _mapping(sync: dict[str, Any], columns: list[str]) -> list[tuple[str, str]]:
        """(source column, destination column) pairs from the configuration (all columns when empty)."""
        config = sync.get("configuration") or {}
        pairs: list[tuple[str, str]] = []
        if isinstance(config, dict):
            pairs = [(str(k), str(v)) for k, v in config.items() if isinstance(v, str)]
        elif isinstance(config, list):
            pairs = [(str(m["from"]), str(m["to"])) for m in config if isinstance(m, dict) and "from" in m]
        missing = [src for src, _ in pairs if src not in columns]
        if missing:
            raise KeyError(f"the model has no column(s) {', '.join(missing)} named in the configuration")
        return pairs or [(c, c) for c in columns]

    def _copy(
        self, sync: dict[str, Any], run: dict[str, Any], columns: list[str], rows: list[tuple[Any, ...]]
    ) -> str:
        pairs = self._mapping(sync, columns)
        model = self.state.models[sync["model_id"]]
        key = model.get("primary_key")
        table = sync["stream_name"].replace('"', "")
        targets = [dst for _, dst in pairs]
        indexes = [columns.index(src) for src, _ in pairs]
        conn = sqlite3.connect(self._database(sync["destination_id"]), timeout=10)
        try:
            pk = f', PRIMARY KEY ("{key}")' if key in targets else ""
            cols = ", ".join(f'"{c}"' for c in targets)
            conn.execute(f'CREATE TABLE IF NOT EXISTS "{table}" ({cols}{pk})')
            if sync.get("sync_mode") != "incremental":
                conn.execute(f'DELETE FROM "{table}"')
            verb = "INSERT OR REPLACE" if pk else "INSERT"
            statement = f'{verb} INTO "{table}" ({cols}) VALUES ({", ".join("?" for _ in targets)})'
            started = time.monotonic()
            cursor_index = (
                columns.index(sync["cursor_field"]) if sync.get("cursor_field") in columns else None
            )
            top = self.state.cursors.get(sync["id"])
            for number, row in enumerate(rows, 1):
                if self.cancels[run["id"]].is_set():
                    conn.commit()
                    return "canceled"
                values = [row[i] for i in indexes]
                record: dict[str, Any] = {
                    "id": number,
                    "sync_id": sync["id"],
                    "sync_run_id": run["id"],
                    "record": dict(zip(targets, values, strict=True)),
                    "primary_key": str(row[columns.index(key)]) if key in columns else None,
                    "action": "destination_insert",
                    "created_at": _now(),
                }
                try:
                    conn.execute(statement, values)
                    record.update(status="success", error=None)
                    ok = 1
                    if cursor_index is not None and (top is None or row[cursor_index] > top):
                        top = row[cursor_index]
                except sqlite3.Error as exc:
                    record.update(status="failed", error=f"{type(exc).__name__}: {exc}")
                    ok = 0
                with self.state.lock:
                    self.state.records[run["id"]].append(record)
                    run["total_rows"] += 1
                    run["successful_rows"] += ok
                    run["failed_rows"] += 1 - ok
                if number % 50 == 0:
                    conn.commit()
                if self.speed.rows_per_second:
                    ahead = number / self.speed.rows_per_second - (time.monotonic() - started)
                    if ahead > 0 and self._pause(run["id"], ahead):
                        conn.commit()
                        return "canceled"
            conn.commit()
            if top is not None:
                self.state.cursors[sync["id"]] = top
        finally:
            conn.close()
        return "success"


# ----- HTTP ---------------------------------------------------------------------------------------
@dataclass
class Core:
    """What the handlers need."""

    state: State
    engine: Engine
    token: str
    workspace_id: str | None
    per_page: int = 10


def _core(request: Request) -> Core:
    core: Core = request.app.state.core
    return core


def _auth(request: Request) -> Core:
    core = _core(request)
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer ") or header[7:].strip() != core.token:
        raise ApiProblem(401, "Missing or invalid bearer token: send Authorization: Bearer <token>.")
    if core.workspace_id is not None and request.headers.get("workspace-id") != core.workspace_id:
        raise ApiProblem(403, "Unknown or missing Workspace-Id header: send the id of your workspace.")
    return core


def _resource(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    attributes = {k: v for k, v in data.items() if k != "id" and not k.startswith("_")}
    return {"id": str(data["id"]), "type": kind, "attributes": attributes}


def _paged(request: Request, kind: str, items: list[dict[str, Any]], default: int) -> dict[str, Any]:
    per_page = min(as_int(request.query_params.get("per_page") or default, "per_page", minimum=1), 100)
    page = as_int(request.query_params.get("page") or 1, "page", minimum=1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    start = (page - 1) * per_page

    def link(number: int | None) -> str | None:
        return (
            None if number is None else str(request.url.include_query_params(page=number, per_page=per_page))
        )

    return {
        "data": [_resource(kind, item) for item in items[start : start + per_page]],
        "links": {
            "self": link(page),
            "first": link(1),
            "prev": link(page - 1 if page > 1 else None),
            "next": link(page + 1 if page < last else None),
            "last": link(last),
        },
    }


def _int_id(value: Any, what: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise ApiProblem(404, f"{what} {value!r} was not found.") from None


def _sync(core: Core, sync_id: Any) -> dict[str, Any]:
    sync = core.state.syncs.get(_int_id(sync_id, "Sync"))
    if sync is None:
        raise ApiProblem(404, f"Sync {sync_id} was not found.")
    return sync


def _run(core: Core, sync: dict[str, Any], run_id: Any) -> dict[str, Any]:
    run = core.state.runs.get(_int_id(run_id, "Sync run"))
    if run is None or run["sync_id"] != sync["id"]:
        raise ApiProblem(404, f"Sync run {run_id} of sync {sync['id']} was not found.")
    return run


def _sync_document(body: dict[str, Any]) -> dict[str, Any]:
    document = body.get("sync")
    if not isinstance(document, dict):
        raise ApiProblem(400, 'The body must be {"sync": {...}}.')
    unknown = sorted(set(document) - set(SYNC_FIELDS) - {"name"})
    if unknown:
        raise ApiProblem(422, f"Unknown sync attribute(s): {', '.join(unknown)}.")
    return document


def _validate(core: Core, sync: dict[str, Any]) -> None:
    """The checks of the server's sync model (422 with the reason)."""
    kinds = {"source_id": "source", "destination_id": "destination"}
    for key, kind in kinds.items():
        connector = core.state.connectors.get(_int_id(sync.get(key), kind.title()) if sync.get(key) else -1)
        if connector is None or connector["connector_type"] != kind:
            raise ApiProblem(422, f"{key} {sync.get(key)!r} is not a {kind} connector of this workspace.")
    model = core.state.models.get(_int_id(sync.get("model_id"), "Model") if sync.get("model_id") else -1)
    if model is None or model["connector_id"] != int(sync["source_id"]):
        raise ApiProblem(
            422, f"model_id {sync.get('model_id')!r} is not a model of source {sync['source_id']}."
        )
    if not sync.get("stream_name"):
        raise ApiProblem(422, "stream_name can't be blank.")
    if sync.get("schedule_type") not in SCHEDULE_TYPES:
        raise ApiProblem(422, f"schedule_type must be one of {', '.join(SCHEDULE_TYPES)}.")
    if sync.get("sync_mode") not in SYNC_MODES:
        raise ApiProblem(422, f"sync_mode must be one of {', '.join(SYNC_MODES)}.")
    if sync["schedule_type"] == "interval" and (
        not sync.get("sync_interval") or sync.get("sync_interval_unit") not in INTERVAL_UNITS
    ):
        raise ApiProblem(422, "An interval sync needs sync_interval > 0 and sync_interval_unit.")
    if sync["schedule_type"] == "cron_expression" and not sync.get("cron_expression"):
        raise ApiProblem(422, "cron_expression can't be blank for a cron_expression sync.")
    if sync["sync_mode"] == "incremental" and not sync.get("cursor_field"):
        raise ApiProblem(422, "cursor_field can't be blank for an incremental sync.")
    for key in ("source_id", "destination_id", "model_id"):
        sync[key] = int(sync[key])


router = APIRouter(prefix=API_PREFIX)


@router.get("/connectors")
async def list_connectors(request: Request) -> dict[str, Any]:
    """Sources and destinations (SQLite databases)."""
    core = _auth(request)
    return _paged(request, "connectors", list(core.state.connectors.values()), core.per_page)


@router.get("/models")
async def list_models(request: Request) -> dict[str, Any]:
    """Models (SQL queries on a source)."""
    core = _auth(request)
    return _paged(request, "models", list(core.state.models.values()), core.per_page)


@router.get("/syncs")
async def list_syncs(request: Request) -> dict[str, Any]:
    """Syncs, paged."""
    core = _auth(request)
    with core.state.lock:
        return _paged(request, "syncs", list(core.state.syncs.values()), core.per_page)


@router.post("/syncs")
async def create_sync(request: Request) -> dict[str, Any]:
    """Create a sync (every field of the create-sync document)."""
    core = _auth(request)
    sync = {key: None for key in SYNC_FIELDS} | _sync_document(await read_body(request, True))
    sync.setdefault("sync_mode", "full_refresh")
    sync["sync_mode"] = sync["sync_mode"] or "full_refresh"
    sync["configuration"] = sync["configuration"] or {}
    _validate(core, sync)
    with core.state.lock:
        sync.update(id=core.state.next_id("sync"), status="pending", created_at=_now(), updated_at=_now())
        core.state.syncs[sync["id"]] = sync
    return {"data": _resource("syncs", sync)}


@router.get("/syncs/configurations")
async def sync_configurations(request: Request) -> dict[str, Any]:
    """The mapping types the emulator understands."""
    _auth(request)
    return {"data": {"configurations": {"mapping_types": {"standard": "copy a column under another name"}}}}


@router.get("/syncs/{sync_id}")
async def get_sync(request: Request, sync_id: str) -> dict[str, Any]:
    """One sync."""
    return {"data": _resource("syncs", _sync(_auth(request), sync_id))}


@router.put("/syncs/{sync_id}")
async def update_sync(request: Request, sync_id: str) -> dict[str, Any]:
    """Change fields of a sync (not while it runs)."""
    core = _auth(request)
    sync = _sync(core, sync_id)
    changes = _sync_document(await read_body(request, True))
    if core.engine.active_run(sync["id"]):
        raise ApiProblem(424, f"Sync {sync['id']} has an active run; cancel it before changing the sync.")
    merged = {**sync, **changes}
    _validate(core, merged)
    with core.state.lock:
        sync.update(merged, updated_at=_now())
    return {"data": _resource("syncs", sync)}


@router.delete("/syncs/{sync_id}")
async def delete_sync(request: Request, sync_id: str) -> JSONResponse:
    """Delete a sync (not while it runs)."""
    core = _auth(request)
    sync = _sync(core, sync_id)
    if core.engine.active_run(sync["id"]):
        raise ApiProblem(424, f"Sync {sync['id']} has an active run; cancel it before deleting the sync.")
    with core.state.lock:
        del core.state.syncs[sync["id"]]
    return JSONResponse(None, status_code=204)


@router.patch("/syncs/{sync_id}/enable")
async def enable_sync(request: Request, sync_id: str) -> dict[str, Any]:
    """``{"enable": true|false}``."""
    core = _auth(request)
    sync = _sync(core, sync_id)
    body = await read_body(request)
    enable = body.get("enable", True)
    if not isinstance(enable, bool):
        raise ApiProblem(400, "enable must be true or false.")
    with core.state.lock:
        sync["status"] = (
            ("pending" if sync["status"] == "disabled" else sync["status"]) if enable else "disabled"
        )
        sync["updated_at"] = _now()
    return {"data": _resource("syncs", sync)}


@router.post("/schedule_syncs")
async def schedule_sync(request: Request) -> dict[str, Any]:
    """Trigger a manual run: 424 when disabled, not manual, or already running; no run id in the answer."""
    core = _auth(request)
    body = await read_body(request, True)
    document = body.get("schedule_sync")
    if not isinstance(document, dict) or "sync_id" not in document:
        raise ApiProblem(400, 'The body must be {"schedule_sync": {"sync_id": <id>}}.')
    sync = _sync(core, document["sync_id"])
    if sync["status"] == "disabled":
        raise ApiProblem(424, f"Sync {sync['id']} is disabled: enable it before running it.")
    if sync["schedule_type"] != "manual":
        raise ApiProblem(424, f"Sync {sync['id']} is scheduled ({sync['schedule_type']}), not manual.")
    with core.state.lock:
        busy = core.engine.active_run(sync["id"]) or sync.get("_starting")
        if busy:
            raise ApiProblem(424, f"Sync {sync['id']} already has an active run.")
        core.engine.trigger(sync["id"])
    return {"message": "Sync scheduled successfully"}


@router.delete("/schedule_syncs/{sync_id}")
async def cancel_sync_run(request: Request, sync_id: str) -> dict[str, Any]:
    """Cancel the active run; 424 when nothing runs."""
    core = _auth(request)
    sync = _sync(core, sync_id)
    if not core.engine.cancel(sync["id"]):
        raise ApiProblem(424, f"Sync {sync['id']} has no active run to cancel.")
    return {"message": "Sync run cancelled"}


@router.get("/syncs/{sync_id}/sync_runs")
async def list_sync_runs(request: Request, sync_id: str) -> dict[str, Any]:
    """Runs of a sync, newest first, with an optional ``status`` filter."""
    core = _auth(request)
    sync = _sync(core, sync_id)
    status = request.query_params.get("status")
    with core.state.lock:
        runs = [dict(r) for r in core.state.runs.values() if r["sync_id"] == sync["id"]]
    runs = [r for r in sorted(runs, key=lambda r: -r["id"]) if not status or r["status"] == status]
    return _paged(request, "sync_runs", runs, core.per_page)


@router.get("/syncs/{sync_id}/sync_runs/{run_id}")
async def get_sync_run(request: Request, sync_id: str, run_id: str) -> dict[str, Any]:
    """One run."""
    core = _auth(request)
    with core.state.lock:
        return {"data": _resource("sync_runs", dict(_run(core, _sync(core, sync_id), run_id)))}


@router.get("/syncs/{sync_id}/sync_runs/{run_id}/sync_records")
async def list_sync_records(request: Request, sync_id: str, run_id: str) -> dict[str, Any]:
    """Records of a run, paged, with an optional ``status`` filter (success, failed)."""
    core = _auth(request)
    status = request.query_params.get("status")
    with core.state.lock:
        run = _run(core, _sync(core, sync_id), run_id)
        records = [r for r in core.state.records.get(run["id"], []) if not status or r["status"] == status]
    return _paged(request, "sync_records", records, core.per_page)


def create_app(core: Core) -> EmulatorASGI:
    """The FastAPI app inside the CData Sync emulator's fault-injecting, call-counting ASGI wrapper."""
    app = FastAPI(
        title="AI Squared emulator", docs_url="/_emulator/docs", openapi_url="/_emulator/openapi.json"
    )
    app.state.core = core

    def problem(status: int, detail: str) -> JSONResponse:
        return JSONResponse(ApiProblem(status, detail).body(), status_code=status)

    @app.exception_handler(ApiProblem)
    async def api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem(exc.status, exc.detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}")

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(400, str(exc.errors()[:1]))

    @app.exception_handler(ApiError)
    async def emulator_error(request: Request, exc: ApiError) -> JSONResponse:
        return problem(exc.status, exc.message)  # raised by the shared helpers (bad paging numbers)

    app.include_router(router)
    return EmulatorASGI(app, FaultRegistry(), "")


# ----- server -------------------------------------------------------------------------------------
class AISquaredEmulator:
    """The AI Squared emulator on a free loopback port, in a background thread (a context manager).

    ``api_url`` (``http://127.0.0.1:<port>/api/v1``) is the connection's base URL. The SQLite databases
    of its connectors live in ``data_dir``.
    """

    def __init__(
        self,
        data_dir: str | Path,
        token: str = "t0ken",
        *,
        workspace_id: str | None = None,
        seed_demo: bool = False,
        step_seconds: float = 0.05,
        rows_per_second: float | None = None,
        trigger_delay: float = 0.05,
        per_page: int = 10,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.token = token
        self.workspace_id = workspace_id
        self.state = State()
        self.engine = Engine(self.state, self.data_dir, Speed(step_seconds, rows_per_second, trigger_delay))
        self.core = Core(self.state, self.engine, token, workspace_id, per_page)
        self.app = create_app(self.core)
        self.host = host
        self.port = port
        self.seed = seed_demo
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> AISquaredEmulator:
        """Serve in a thread and wait until it answers."""
        if self._server is not None:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.seed:
            seed_demo(self)
        config = uvicorn.Config(
            self.app, host=self.host, port=self.port, log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the AI Squared emulator did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Cancel active runs and stop serving."""
        if self._server is None:
            return
        for sync_id in list(self.state.syncs):
            self.engine.cancel(sync_id)
        self.engine.wait_idle(10)
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._server = None

    def __enter__(self) -> AISquaredEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        """The API root, ``http://127.0.0.1:<port>/api/v1``."""
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    @property
    def headers(self) -> dict[str, str]:
        """Auth (and workspace) headers for plain HTTP clients."""
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.workspace_id:
            headers["Workspace-Id"] = self.workspace_id
        return headers

    # ----- admin API (Python) -------------------------------------------------------------------
    @property
    def faults(self) -> FaultRegistry:
        """The fault registry (``add({"path": regex, "action": "status", "status": 503, ...})``)."""
        return self.app.registry

    def inject_fault(self, path: str, action: str = "status", **spec: Any) -> dict[str, Any]:
        """Register a fault for requests whose path matches ``path`` (a regex); see the CData emulator."""
        return self.faults.add({"path": path, "action": action, **spec}).as_dict()

    def clear_faults(self) -> None:
        """Remove every fault."""
        self.faults.clear()

    def stats(self) -> dict[str, Any]:
        """API calls per ``METHOD path``."""
        return self.faults.stats()

    def set_speed(self, **knobs: float | None) -> None:
        """Change ``step_seconds``, ``rows_per_second`` or ``trigger_delay``."""
        for name, value in knobs.items():
            if not hasattr(self.engine.speed, name):
                raise AttributeError(f"unknown speed knob {name!r}")
            setattr(self.engine.speed, name, value)

    def add_connector(self, name: str, connector_type: str, database: str | Path) -> int:
        """Add a SQLite source or destination; returns its id."""
        with self.state.lock:
            ident = self.state.next_id("connector")
            self.state.connectors[ident] = {
                "id": ident,
                "name": name,
                "connector_type": connector_type,
                "connector_name": "SQLite",
                "configuration": {"database": str(database)},
            }
        return ident

    def add_model(self, name: str, connector_id: int, query: str, primary_key: str | None = None) -> int:
        """Add a model (a SQL query on a source); returns its id."""
        with self.state.lock:
            ident = self.state.next_id("model")
            self.state.models[ident] = {
                "id": ident,
                "name": name,
                "connector_id": connector_id,
                "query": query,
                "query_type": "raw_sql",
                "primary_key": primary_key,
            }
        return ident

    def runs(self, sync_id: int | str | None = None) -> list[dict[str, Any]]:
        """Runs (of one sync), oldest first."""
        with self.state.lock:
            return [
                dict(run)
                for run in sorted(self.state.runs.values(), key=lambda r: r["id"])
                if sync_id is None or run["sync_id"] == int(sync_id)
            ]

    def syncs(self) -> list[dict[str, Any]]:
        """Every sync."""
        with self.state.lock:
            return [dict(sync) for sync in self.state.syncs.values()]

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no run is going."""
        return self.engine.wait_idle(timeout)

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``condition()`` holds (for tests)."""
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError("condition not met")
            time.sleep(0.01)


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
