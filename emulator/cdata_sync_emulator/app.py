"""Assembles the emulator: core objects, the FastAPI app (v2, v1, console, admin) and the ASGI wrapper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import console, v1, v2
from .common import Core, base_url, core_of, read_body
from .dialects import Dialect, get_dialect
from .engine import Engine, Speed
from .faults import EmulatorASGI, FaultRegistry
from .service import Service
from .store import Store
from .util import ApiError, as_int, normalize_link_base


def build_core(
    data_dir: Path,
    token: str,
    *,
    context_path: str = "",
    allow_url_token: bool = False,
    rows_per_second: float | None = None,
    min_run_seconds: float = 0.0,
    v1_page_size: int = 100,
    dialect: str | Dialect | None = None,
    link_base: str | None = None,
) -> Core:
    """Open the state, fail runs interrupted by a previous stop, and wire the services."""
    chosen = get_dialect(dialect)
    data_dir = data_dir.resolve()
    store = Store(data_dir)
    engine = Engine(store, data_dir, Speed(rows_per_second, min_run_seconds))
    engine.recover_interrupted()
    service = Service(store, engine, data_dir, token)
    return Core(
        data_dir=data_dir,
        token=token,
        store=store,
        engine=engine,
        service=service,
        faults=FaultRegistry(),
        context_path=normalize_context_path(context_path),
        allow_url_token=allow_url_token,
        v1_page_size=v1_page_size,
        dialect=chosen,
        link_base=normalize_link_base(link_base),
    )


def normalize_context_path(path: str | None) -> str:
    """``sync/`` -> ``/sync``; empty stays empty."""
    path = (path or "").strip().strip("/")
    return f"/{path}" if path else ""


admin = APIRouter(prefix="/_emulator")


@admin.get("/state")
async def admin_state(request: Request) -> dict[str, Any]:
    """A snapshot of jobs, transformations, pipelines, runs and faults."""
    return snapshot(core_of(request))


@admin.get("/faults")
async def list_faults(request: Request) -> dict[str, Any]:
    """Registered faults with their remaining counts."""
    return {"value": core_of(request).faults.list()}


@admin.post("/faults", status_code=201)
async def add_fault(request: Request) -> dict[str, Any]:
    """Register a fault (see the README)."""
    return core_of(request).faults.add(await read_body(request, True)).as_dict()


@admin.delete("/faults")
async def clear_faults(request: Request) -> dict[str, Any]:
    """Remove all faults."""
    core_of(request).faults.clear()
    return {"value": []}


@admin.get("/stats")
async def stats(request: Request) -> dict[str, Any]:
    """API calls per ``METHOD path``."""
    return core_of(request).faults.stats()


@admin.delete("/stats")
async def reset_stats(request: Request) -> dict[str, Any]:
    """Reset the call counters."""
    core_of(request).faults.reset_stats()
    return core_of(request).faults.stats()


@admin.get("/config")
async def get_config(request: Request) -> dict[str, Any]:
    """Speed knobs (global and per target)."""
    engine = core_of(request).engine
    return {**engine.speed.as_dict(), "overrides": {k: v.as_dict() for k, v in engine.overrides.items()}}


@admin.post("/config")
async def set_config(request: Request) -> dict[str, Any]:
    """Set ``rows_per_second``/``min_run_seconds`` globally or, with ``target_id``, for one job."""
    body = await read_body(request, True)
    apply_speed(core_of(request).engine, body)
    return await get_config(request)


@admin.post("/reset")
async def reset_all(request: Request) -> dict[str, Any]:
    """Forget all state (runs must be idle), faults and stats."""
    core = core_of(request)
    if core.engine.active_handles():
        raise ApiError(409, "Conflict", "Runs are in progress; cancel them first.")
    core.store.wipe()
    core.faults.clear()
    core.faults.reset_stats()
    core.service.__init__(core.store, core.engine, core.data_dir, core.token)  # type: ignore[misc]
    return {"reset": True}


def apply_speed(engine: Engine, body: dict[str, Any]) -> None:
    """Apply a speed config body to the engine (``null`` rows_per_second means unlimited)."""
    target = body.get("target_id") or body.get("job_id")
    current = engine.speed_for(target) if target else engine.speed
    speed = Speed(current.rows_per_second, current.min_run_seconds)
    if "rows_per_second" in body:
        value = body["rows_per_second"]
        speed.rows_per_second = float(value) if value else None
    if "min_run_seconds" in body:
        speed.min_run_seconds = float(body["min_run_seconds"] or 0.0)
    if target:
        engine.overrides[str(target)] = speed
    else:
        engine.speed.rows_per_second, engine.speed.min_run_seconds = (
            speed.rows_per_second,
            speed.min_run_seconds,
        )


def snapshot(core: Core) -> dict[str, Any]:
    """The admin view of the state (``server.state()``)."""
    service = core.service
    out: dict[str, Any] = {"speed": core.engine.speed.as_dict(), "faults": core.faults.list()}
    for kind, plural in (("job", "jobs"), ("transformation", "transformations"), ("pipeline", "pipelines")):
        out[plural] = [service.render(kind, d) for d in core.store.list(kind)]
    out["connections"] = [service.render_connection(c) for c in core.store.list("connection")]
    out["runs"] = core.store.list("run")
    out["active_runs"] = [h.run_id for h in core.engine.active_handles()]
    return out


def create_app(core: Core) -> EmulatorASGI:
    """The ASGI application served by uvicorn."""
    app = FastAPI(
        title="CData Sync emulator", docs_url="/_emulator/docs", openapi_url="/_emulator/openapi.json"
    )
    app.state.core = core

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "NotFound", 405: "MethodNotAllowed"}
        message = f"No such path: {request.url.path}" if exc.status_code == 404 else str(exc.detail)
        if exc.status_code == 405:
            message = f"Method {request.method} is not allowed on {request.url.path}."
        body = {"error": {"code": codes.get(exc.status_code, f"Http{exc.status_code}"), "message": message}}
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", []))
        body = {
            "error": {"code": "BadRequest", "message": f"Invalid value for '{field}': {first.get('msg')}"}
        }
        return JSONResponse(body, status_code=400)

    @app.get("/", include_in_schema=False)
    async def root(request: Request) -> RedirectResponse:
        return RedirectResponse(f"{base_url(request)}/console/")

    app.include_router(admin)
    app.include_router(console.router)
    app.include_router(v2.router)
    app.include_router(v1.router)
    return EmulatorASGI(app, core.faults, core.context_path)


def page_size_from(value: Any) -> int:
    """Validate a v1 page size."""
    return as_int(value, "v1_page_size", minimum=1)
