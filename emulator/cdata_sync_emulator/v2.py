"""REST API v2 routes under ``/api.rsc/v2`` (see the README for the resource shapes)."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute

from .common import core_of, paged, read_body, require_auth
from .dialects import DEFAULT, render_v2
from .service import Service


class DialectRoute(APIRoute):
    """A v2 route whose successful JSON answers are rendered in the emulator's dialect.

    The handlers answer today's shape; the dialect reshapes the JSON afterwards, knowing the route by name
    (``execute_job``...). Errors are raised, so they never pass through here and keep one shape.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler with the dialect's rendering."""
        handler = super().get_route_handler()
        route = self.name

        async def render(request: Request) -> Response:
            response = await handler(request)
            dialect = core_of(request).dialect
            if dialect is DEFAULT or response.media_type != "application/json" or not response.body:
                return response
            payload = render_v2(dialect, route, json.loads(bytes(response.body)))
            headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
            return JSONResponse(payload, status_code=response.status_code, headers=headers)

        return render


router = APIRouter(prefix="/api.rsc/v2", dependencies=[Depends(require_auth)], route_class=DialectRoute)


def svc(request: Request) -> Service:
    """The service of the running emulator."""
    return core_of(request).service


def no_content() -> Response:
    """204 after a delete."""
    return Response(status_code=204)


# ----- workspaces -------------------------------------------------------------------------------
@router.get("/workspaces")
async def list_workspaces(request: Request) -> dict[str, Any]:
    """List workspaces."""
    return paged(request, svc(request).list_workspaces())


@router.post("/workspaces", status_code=201)
async def create_workspace(request: Request) -> dict[str, Any]:
    """Create a workspace."""
    return svc(request).create_workspace(await read_body(request, True))


@router.get("/workspaces/{ws_id}")
async def get_workspace(request: Request, ws_id: str) -> dict[str, Any]:
    """One workspace."""
    return svc(request).workspace(ws_id)


@router.put("/workspaces/{ws_id}")
async def update_workspace(request: Request, ws_id: str) -> dict[str, Any]:
    """Rename a workspace."""
    return svc(request).update_workspace(ws_id, await read_body(request, True))


@router.delete("/workspaces/{ws_id}", status_code=204)
async def delete_workspace(request: Request, ws_id: str) -> Response:
    """Delete a workspace."""
    svc(request).delete_workspace(ws_id)
    return no_content()


# ----- connections ------------------------------------------------------------------------------
@router.get("/workspaces/{ws_id}/connections")
async def list_connections(request: Request, ws_id: str) -> dict[str, Any]:
    """Connections of a workspace."""
    return paged(request, svc(request).list_connections(ws_id))


@router.post("/workspaces/{ws_id}/connections", status_code=201)
async def create_connection(request: Request, ws_id: str) -> dict[str, Any]:
    """Create a connection."""
    return svc(request).create_connection(ws_id, await read_body(request, True))


@router.get("/connections/{conn_id}")
async def get_connection(request: Request, conn_id: str) -> dict[str, Any]:
    """One connection."""
    service = svc(request)
    return service.render_connection(service.connection(conn_id))


@router.put("/connections/{conn_id}")
async def update_connection(request: Request, conn_id: str) -> dict[str, Any]:
    """Update a connection (properties and settings merge)."""
    return svc(request).update_connection(conn_id, await read_body(request, True))


@router.delete("/connections/{conn_id}", status_code=204)
async def delete_connection(request: Request, conn_id: str) -> Response:
    """Delete a connection."""
    svc(request).delete_connection(conn_id)
    return no_content()


@router.post("/connections/{conn_id}/test")
async def test_connection(request: Request, conn_id: str) -> dict[str, Any]:
    """Really open the connection."""
    return svc(request).test_connection(conn_id)


@router.api_route("/connections/{conn_id}/tables", methods=["GET", "POST"])
async def list_tables(request: Request, conn_id: str) -> dict[str, Any]:
    """Tables (POST as documented; GET as listed in the overview)."""
    params = {k.lower(): v for k, v in request.query_params.items()}
    service = svc(request)
    items = service.tables(conn_id, params.get("schema"), params.get("include_table_types"))
    return paged(request, items)


@router.get("/connections/{conn_id}/tables/{table}/columns")
async def list_columns(request: Request, conn_id: str, table: str) -> dict[str, Any]:
    """Columns of a table."""
    return paged(request, svc(request).columns(conn_id, table))


@router.post("/connections/{conn_id}/reset-metadata")
async def reset_metadata(request: Request, conn_id: str) -> dict[str, Any]:
    """Nothing is cached by the emulator: just acknowledge."""
    svc(request).connection(conn_id)
    return {"id": conn_id, "success": True, "message": "Metadata was reset."}


@router.post("/connections/{conn_id}/reset-credentials")
async def reset_credentials(request: Request, conn_id: str) -> dict[str, Any]:
    """Forget stored secrets."""
    return svc(request).reset_credentials(conn_id)


@router.get("/connections/{conn_id}/logs")
async def list_logs(request: Request, conn_id: str) -> dict[str, Any]:
    """Run logs involving the connection."""
    return paged(request, svc(request).logs(conn_id))


@router.post("/connections/{conn_id}/logs/{log_name}/download")
async def download_log(request: Request, conn_id: str, log_name: str) -> PlainTextResponse:
    """The log file as text/plain."""
    text = svc(request).log_text(conn_id, log_name)
    return PlainTextResponse(text, headers={"content-disposition": f'attachment; filename="{log_name}"'})


# ----- jobs, transformations, pipelines -----------------------------------------------------------
def _add_runnable(kind: str, plural: str) -> None:
    """Routes shared by jobs, transformations and pipelines (list/create/update/delete/runs)."""

    async def list_items(request: Request, ws_id: str) -> dict[str, Any]:
        return paged(request, svc(request).list_targets(kind, ws_id))

    async def create(request: Request, ws_id: str) -> JSONResponse:
        service, body = svc(request), await read_body(request, True)
        creator = {
            "job": service.create_job,
            "transformation": service.create_transformation,
            "pipeline": service.create_pipeline,
        }[kind]
        return JSONResponse(creator(ws_id, body), status_code=201)

    async def update(request: Request, ident: str) -> dict[str, Any]:
        service, body = svc(request), await read_body(request, True)
        updater = {
            "job": service.update_job,
            "transformation": service.update_transformation,
            "pipeline": service.update_pipeline,
        }[kind]
        return updater(ident, body)

    async def delete(request: Request, ident: str) -> Response:
        only = request.query_params.get("pipeline_only", "false").lower() in ("true", "1", "yes")
        svc(request).delete_target(kind, ident, cascade=not only)
        return no_content()

    async def execute(request: Request, ident: str) -> JSONResponse:
        return JSONResponse(svc(request).execute(kind, ident, await read_body(request)), status_code=202)

    async def cancel(request: Request, ident: str) -> dict[str, Any]:
        return svc(request).cancel(kind, ident)

    async def history(request: Request, ident: str) -> dict[str, Any]:
        return paged(request, svc(request).history(kind, ident))

    async def history_item(request: Request, ident: str, history_id: str) -> dict[str, Any]:
        return svc(request).history_item(kind, ident, history_id)

    async def status(request: Request, ident: str) -> dict[str, Any]:
        return svc(request).status(kind, ident)

    base = f"/{plural}/{{ident}}"
    router.add_api_route(
        f"/workspaces/{{ws_id}}/{plural}", list_items, methods=["GET"], name=f"list_{plural}"
    )
    router.add_api_route(f"/workspaces/{{ws_id}}/{plural}", create, methods=["POST"], name=f"create_{kind}")
    if kind != "job":  # there is deliberately no "retrieve job" in the real API: GET answers 405
        router.add_api_route(base, _getter(kind), methods=["GET"], name=f"get_{kind}")
    router.add_api_route(base, update, methods=["PUT"], name=f"update_{kind}")
    router.add_api_route(base, delete, methods=["DELETE"], name=f"delete_{kind}", status_code=204)
    router.add_api_route(f"{base}/execute", execute, methods=["POST"], name=f"execute_{kind}")
    router.add_api_route(f"{base}/cancel", cancel, methods=["POST"], name=f"cancel_{kind}")
    router.add_api_route(f"{base}/history", history, methods=["GET"], name=f"history_{kind}")
    router.add_api_route(f"{base}/history/{{history_id}}", history_item, methods=["GET"], name=f"run_{kind}")
    router.add_api_route(f"{base}/status", status, methods=["GET"], name=f"status_{kind}")


def _getter(kind: str) -> Any:
    async def get_item(request: Request, ident: str) -> dict[str, Any]:
        service = svc(request)
        return service.render(kind, service.target(kind, ident))

    return get_item


def _add_tasks(kind: str, plural: str) -> None:
    """Task routes of jobs and transformations."""
    base = f"/{plural}/{{ident}}/tasks"

    async def list_tasks(request: Request, ident: str) -> dict[str, Any]:
        return paged(request, svc(request).tasks(kind, ident))

    async def add(request: Request, ident: str) -> JSONResponse:
        return JSONResponse(
            svc(request).add_task(kind, ident, await read_body(request, True)), status_code=201
        )

    async def last_run(request: Request, ident: str) -> dict[str, Any]:
        return paged(request, svc(request).last_runs(kind, ident))

    async def get(request: Request, ident: str, task_id: str) -> dict[str, Any]:
        return svc(request).task(kind, ident, task_id)

    async def update(request: Request, ident: str, task_id: str) -> dict[str, Any]:
        return svc(request).update_task(kind, ident, task_id, await read_body(request, True))

    async def delete(request: Request, ident: str, task_id: str) -> Response:
        svc(request).delete_task(kind, ident, task_id)
        return no_content()

    async def move(request: Request, ident: str, task_id: str) -> dict[str, Any]:
        return svc(request).move_task(kind, ident, task_id, await read_body(request, True))

    async def task_history(request: Request, ident: str, task_id: str) -> dict[str, Any]:
        return paged(request, svc(request).task_runs(kind, ident, task_id))

    router.add_api_route(base, list_tasks, methods=["GET"], name=f"tasks_{kind}")
    router.add_api_route(base, add, methods=["POST"], name=f"add_task_{kind}")
    # last-run is declared before {task_id} so that it is not taken for a task id
    router.add_api_route(f"{base}/last-run", last_run, methods=["GET"], name=f"last_run_{kind}")
    router.add_api_route(f"{base}/{{task_id}}", get, methods=["GET"], name=f"get_task_{kind}")
    router.add_api_route(f"{base}/{{task_id}}", update, methods=["PUT"], name=f"update_task_{kind}")
    router.add_api_route(
        f"{base}/{{task_id}}", delete, methods=["DELETE"], name=f"delete_task_{kind}", status_code=204
    )
    router.add_api_route(f"{base}/{{task_id}}/move", move, methods=["POST"], name=f"move_task_{kind}")
    router.add_api_route(
        f"{base}/{{task_id}}/history", task_history, methods=["GET"], name=f"task_history_{kind}"
    )


_add_runnable("job", "jobs")
_add_runnable("transformation", "transformations")
_add_runnable("pipeline", "pipelines")
_add_tasks("job", "jobs")
_add_tasks("transformation", "transformations")


# ----- pipeline steps and events ------------------------------------------------------------------
@router.get("/pipelines/{ident}/steps")
async def list_steps(request: Request, ident: str) -> dict[str, Any]:
    """Steps in order."""
    return paged(request, svc(request).tasks("pipeline", ident))


@router.post("/pipelines/{ident}/steps", status_code=201)
async def add_step(request: Request, ident: str) -> dict[str, Any]:
    """Add a step (``job_id``, ``transformation_id`` or ``type`` + ``target_id``)."""
    return svc(request).add_step(ident, await read_body(request, True))


@router.put("/pipelines/{ident}/steps/{step_id}")
async def update_step(request: Request, ident: str, step_id: str) -> dict[str, Any]:
    """Retarget or move a step."""
    return svc(request).update_step(ident, step_id, await read_body(request, True))


@router.delete("/pipelines/{ident}/steps/{step_id}", status_code=204)
async def delete_step(request: Request, ident: str, step_id: str) -> Response:
    """Delete a step."""
    svc(request).delete_task("pipeline", ident, step_id)
    return no_content()


@router.post("/pipelines/{ident}/steps/{step_id}/move")
async def move_step(request: Request, ident: str, step_id: str) -> dict[str, Any]:
    """Move a step (``from_index``, ``to_index``)."""
    return svc(request).move_task("pipeline", ident, step_id, await read_body(request, True))


@router.get("/pipelines/{ident}/events")
async def list_events(request: Request, ident: str) -> dict[str, Any]:
    """Events of a pipeline."""
    return paged(request, svc(request).events(ident))


@router.post("/pipelines/{ident}/events", status_code=201)
async def add_event(request: Request, ident: str) -> dict[str, Any]:
    """Create an event."""
    return svc(request).add_event(ident, await read_body(request, True))


@router.get("/pipelines/{ident}/events/{event_id}")
async def get_event(request: Request, ident: str, event_id: str) -> dict[str, Any]:
    """One event."""
    return svc(request).event(ident, event_id)


@router.put("/pipelines/{ident}/events/{event_id}")
async def update_event(request: Request, ident: str, event_id: str) -> dict[str, Any]:
    """Update an event."""
    return svc(request).update_event(ident, event_id, await read_body(request, True))


@router.delete("/pipelines/{ident}/events/{event_id}", status_code=204)
async def delete_event(request: Request, ident: str, event_id: str) -> Response:
    """Delete an event."""
    svc(request).delete_event(ident, event_id)
    return no_content()


# ----- users ----------------------------------------------------------------------------------
@router.get("/users")
async def list_users(request: Request) -> dict[str, Any]:
    """All users."""
    return paged(request, svc(request).store.list("user"))


@router.post("/users", status_code=201)
async def create_user(request: Request) -> dict[str, Any]:
    """Create a user."""
    return svc(request).create_user(await read_body(request, True))


@router.post("/users/generate-token")
async def generate_token(request: Request) -> dict[str, Any]:
    """Mint a token for a user: ``{"user": "<name or id>"}`` -> ``{"token": ...}``."""
    return svc(request).generate_token(await read_body(request, True))


@router.get("/users/{user_id}")
async def get_user(request: Request, user_id: str) -> dict[str, Any]:
    """One user."""
    return svc(request).user(user_id)


@router.put("/users/{user_id}")
async def update_user(request: Request, user_id: str) -> dict[str, Any]:
    """Update a user."""
    return svc(request).update_user(user_id, await read_body(request, True))


@router.delete("/users/{user_id}", status_code=204)
async def delete_user(request: Request, user_id: str) -> Response:
    """Delete a user."""
    svc(request).delete_user(user_id)
    return no_content()
