"""The AI Squared (Multiwoven) syncs API as a FastAPI app: connectors, models, syncs, runs and records.

Lists page with ``?page=&per_page=`` and ``links.next``; errors are JSON:API
``{"errors": [{"status", "title", "detail"}]}``; 424 answers a manual run of a disabled, scheduled or
running sync. Faults and call counting come from the CData Sync emulator's ASGI wrapper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..common import absolute_link, read_body
from ..faults import EmulatorASGI, FaultRegistry
from ..util import ApiError, as_int, now_iso
from . import oss
from .engine import Engine, State

#: Every field of the create-sync document (the API's, as in ``docs/api-facts.md``).
SYNC_FIELDS = (
    "source_id",
    "destination_id",
    "model_id",
    "schedule_type",
    "configuration",
    "stream_name",
    "sync_mode",
    "sync_interval",
    "sync_interval_unit",
    "cron_expression",
    "cursor_field",
)
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


@dataclass
class Core:
    """What the handlers need."""

    state: State
    engine: Engine
    token: str
    workspace_id: str | None
    per_page: int = 10
    #: scheme://host:port that the paging links name instead of the request's (None: the request's).
    link_base: str | None = None


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

    link_base = _core(request).link_base

    def link(number: int | None) -> str | None:
        return None if number is None else absolute_link(request, link_base, page=number, per_page=per_page)

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
        sync.update(
            id=core.state.next_id("sync"), status="pending", created_at=now_iso(), updated_at=now_iso()
        )
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
        sync.update(merged, updated_at=now_iso())
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
        sync["updated_at"] = now_iso()
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


def create_oss_app(core: oss.OssCore, allowed_hosts: tuple[str, ...]) -> EmulatorASGI:
    """The ``oss`` mode's app: host authorization inside the fault-injecting, call-counting wrapper."""
    app = FastAPI(
        title="AI Squared emulator (open-source server)",
        docs_url="/_emulator/docs",
        openapi_url="/_emulator/openapi.json",
    )
    app.state.core = core

    @app.exception_handler(oss.Problem)
    async def problem(request: Request, exc: oss.Problem) -> JSONResponse:
        return oss.problem_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return oss.problem_response(
            oss.Problem(404 if exc.status_code == 405 else exc.status_code, "Not Found")
        )

    @app.exception_handler(ApiError)
    async def emulator_error(request: Request, exc: ApiError) -> JSONResponse:
        return oss.problem_response(oss.bad_request(exc.message))  # a body that is not JSON

    app.include_router(oss.router)
    return EmulatorASGI(oss.HostAuthorization(app, allowed_hosts), FaultRegistry(), "")
