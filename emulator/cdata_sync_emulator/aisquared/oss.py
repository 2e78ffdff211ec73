"""The ``oss`` mode: the syncs API as the open-source AI Squared server (Multiwoven ``server/``) answers it.

Read from that server's code (see ``docs/api-facts.md``): ``POST /api/v1/login`` mints a real HS256 JWT
(``exp``, ``jti``) that expires and is revoked by the user's next login; every call checks, in this order,
the Host header (403, empty body), the token (401), the request contract (400 with a hash of messages), the
``Workspace-Id`` header (400 "Workspace not found"), then the resource. Triggers and cancels answer the
server's 404/424 texts in its order; a run row appears a moment after the trigger's 200; paging links are
absolute (``link_base`` names another host when set). The runs themselves are the shared engine's, in its
``oss`` flavour (:mod:`.engine`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..common import read_body
from ..util import now_iso, parse_iso
from . import contracts
from .contracts import Key
from .engine import RUN_STATUSES, Engine, State

#: Host names the server accepts when ``ALLOWED_HOST`` is not set (``config/initializers/
#: rails_host_authorization.rb``); a leading dot matches the domain and every subdomain.
DEFAULT_ALLOWED_HOSTS = ("localhost", ".squared.ai", ".staging.squared.ai")
RECORD_STATUSES = ("pending", "success", "failed")
INVALID_LOGIN = "Invalid login credentials, please try again"
LOCKED = "Account is locked due to multiple login attempts. Please retry after sometime"


@dataclass
class Account:
    """The seeded user, its workspace and the JWT settings (Devise: 30 minutes, 5 attempts, 1 hour lock)."""

    email: str
    password: str
    workspace_id: str
    token_lifetime: float = 1800.0
    secret: str = field(default_factory=lambda: secrets.token_hex(32))
    user_id: int = 1
    max_attempts: int = 5
    unlock_seconds: float = 3600.0
    #: the ``jti`` of the one valid token (``users.jti``: each login replaces it, revoking the previous).
    jti: str | None = None
    failed_attempts: int = 0
    locked_until: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mint(self) -> str:
        """A new token for the user; earlier tokens are revoked (what a successful login does)."""
        issued = time.time()
        with self.lock:
            self.jti = str(uuid.uuid4())
            self.failed_attempts = 0
            payload = {
                "sub": str(self.user_id),
                "scp": "user",
                "aud": None,
                "iat": int(issued),
                # at least the whole lifetime, in whole seconds as JWT NumericDates usually are
                "exp": math.ceil(issued + self.token_lifetime),
                "jti": self.jti,
            }
        return _jwt(payload, self.secret)

    def valid(self, token: str) -> bool:
        """Whether a bearer token is this user's current, unexpired token."""
        payload = _jwt_payload(token, self.secret)
        if payload is None:
            return False
        expires = payload.get("exp")
        if not isinstance(expires, (int, float)) or expires <= int(time.time()):
            return False
        with self.lock:
            return payload.get("sub") == str(self.user_id) and payload.get("jti") == self.jti

    def login(self, email: Any, password: Any) -> str:
        """Check the credentials like the server's ``Login`` interactor; the new token or the 401 message."""
        with self.lock:
            if self.locked_until > time.time():
                raise Problem(401, LOCKED)
            known = isinstance(email, str) and email.lower() == self.email.lower()
            if not known:
                raise Problem(401, INVALID_LOGIN)
            if not (isinstance(password, str) and hmac.compare_digest(password, self.password)):
                self.failed_attempts += 1
                if self.failed_attempts >= self.max_attempts:
                    self.locked_until = time.time() + self.unlock_seconds
                    self.failed_attempts = 0
                    raise Problem(401, LOCKED)
                raise Problem(401, INVALID_LOGIN)
        return self.mint()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _jwt(payload: dict[str, Any], secret: str) -> str:
    head = _b64(json.dumps({"alg": "HS256"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def _jwt_payload(token: str, secret: str) -> dict[str, Any] | None:
    """The payload of a well-signed HS256 token, else None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    head, body, signature = parts
    expected = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64(signature), expected):
            return None
        payload = json.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


# ----- errors ------------------------------------------------------------------------------------------
class Problem(Exception):
    """An answer other than success, with the server's exact body."""

    def __init__(self, status: int, detail: Any = None, *, body: Any = None) -> None:
        super().__init__(str(detail))
        self.status = status
        self.payload = body if body is not None else error_body(status, str(detail))


def error_body(status: int, detail: str, source: Any = None) -> dict[str, Any]:
    """``render_error``: ``{"errors": [{"status": <int>, "title": "Error", "detail": ...}]}``."""
    error: dict[str, Any] = {"status": status, "title": "Error", "detail": detail}
    if source is not None:
        error["source"] = source
    return {"errors": [error]}


def bad_request(message: str) -> Problem:
    """The exception handler's 400 (a StandardError such as "Workspace not found")."""
    error = {
        "status": 400,
        "title": "Bad Request",
        "detail": f"There was a problem with the request format: {message}",
        "source": {"pointer": "/request/payload"},
    }
    return Problem(400, body={"errors": [error]})


def not_found(model: str, ident: Any) -> Problem:
    """``ActiveRecord::RecordNotFound`` as the exception handler answers it."""
    return Problem(404, body={"error": f"Couldn't find {model} with 'id'={ident}"})


# ----- host authorization --------------------------------------------------------------------------------
def host_allowed(host_header: str, allowed: tuple[str, ...]) -> bool:
    """Rails ``HostAuthorization``: the Host header's name (port ignored) against the allowed list."""
    host = host_header.strip().lower()
    name = host[1 : host.index("]")] if host.startswith("[") and "]" in host else host.rsplit(":", 1)[0]
    if ":" in host and host.count(":") > 1 and not host.startswith("["):
        name = host  # a bare IPv6 address
    for entry in allowed:
        entry = entry.strip().lower()
        if entry.startswith("."):
            if name == entry[1:] or name.endswith(entry):
                return True
        elif name == entry:
            return True
    return False


class HostAuthorization:
    """ASGI wrapper: other Host headers get 403 with an empty body (the health check ``/`` is exempt)."""

    def __init__(self, app: ASGIApp, allowed: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse the request or pass it on."""
        if scope["type"] == "http" and scope["path"] != "/":
            headers = dict(scope.get("headers") or [])
            host = headers.get(b"host", b"").decode("latin-1")
            if not host_allowed(host, self.allowed):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 403,
                        "headers": [(b"content-type", b"text/html"), (b"content-length", b"0")],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)


# ----- the mode's core -------------------------------------------------------------------------------------
@dataclass
class OssCore:
    """What the ``oss`` handlers need."""

    state: State
    engine: Engine
    account: Account
    per_page: int = 10
    link_base: str | None = None


def _core(request: Request) -> OssCore:
    core: OssCore = request.app.state.core
    return core


def _authenticate(request: Request) -> OssCore:
    core = _core(request)
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not token or not core.account.valid(token):
        raise Problem(401, "Unauthorized")
    return core


def _params(request: Request, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Rails' ``params``: path, query and body parameters merged."""
    return {**dict(request.query_params), **(body or {}), **request.path_params}


def _validate(keys: tuple[Key, ...], params: dict[str, Any]) -> dict[str, Any]:
    values, errors = contracts.check(keys, params)
    sync_contract = keys is contracts.SYNC_CREATE or keys is contracts.SYNC_UPDATE
    if sync_contract and isinstance(values.get("sync"), dict):
        contracts.sync_rules(values["sync"], errors, update=keys is contracts.SYNC_UPDATE)
    if errors:
        raise Problem(400, body={"errors": errors})
    return values


def _workspace(request: Request, core: OssCore) -> None:
    """``current_workspace``: the user's workspace named by the header, else 400."""
    if request.headers.get("workspace-id", "").strip() != core.account.workspace_id:
        raise bad_request("Workspace not found")


def _guard(
    request: Request, keys: tuple[Key, ...], body: dict[str, Any] | None = None
) -> tuple[OssCore, dict[str, Any]]:
    """401, then the contract's 400, then the workspace's 400: the server's order."""
    core = _authenticate(request)
    values = _validate(keys, _params(request, body))
    _workspace(request, core)
    return core, values


# ----- rendering -------------------------------------------------------------------------------------------
def rails_time(stamp: Any) -> Any:
    """``2026-11-24T01:02:03.123+00:00`` -> ``2026-11-24T01:02:03.123Z`` (how Rails writes UTC times)."""
    return stamp[:-6] + "Z" if isinstance(stamp, str) and stamp.endswith("+00:00") else stamp


def _connector(connector: dict[str, Any], core: OssCore, configuration: bool) -> dict[str, Any]:
    out = {
        "id": connector["id"],
        "name": connector["name"],
        "description": connector.get("description"),
        "connector_type": connector["connector_type"],
        "workspace_id": int(core.account.workspace_id) if core.account.workspace_id.isdigit() else None,
        "created_at": rails_time(connector.get("created_at")),
        "updated_at": rails_time(connector.get("updated_at")),
        "connector_name": connector.get("connector_name", "SQLite"),
        "icon": "sqlite.svg",
    }
    if configuration:
        out["configuration"] = connector.get("configuration")
    return out


def _model(model: dict[str, Any], core: OssCore) -> dict[str, Any]:
    connector = core.state.connectors.get(model["connector_id"])
    return {
        "id": model["id"],
        "name": model["name"],
        "description": model.get("description"),
        "query": model["query"],
        "query_type": model.get("query_type", "raw_sql"),
        "configuration": model.get("configuration"),
        "primary_key": model.get("primary_key"),
        "created_at": rails_time(model.get("created_at")),
        "updated_at": rails_time(model.get("updated_at")),
        "connector": _connector(connector, core, True) if connector else None,
    }


SYNC_ATTRIBUTES = (
    "source_id",
    "destination_id",
    "model_id",
    "configuration",
    "schedule_type",
    "sync_mode",
    "sync_interval",
    "sync_interval_unit",
    "cron_expression",
    "stream_name",
    "status",
    "cursor_field",
    "current_cursor_field",
    "updated_at",
    "created_at",
)
RUN_ATTRIBUTES = (
    "sync_id",
    "status",
    "sync_run_type",
    "started_at",
    "finished_at",
    "duration",
    "total_query_rows",
    "total_rows",
    "skipped_rows",
    "successful_rows",
    "failed_rows",
    "error",
    "created_at",
    "updated_at",
)
#: ``sync_params``: what a create or update keeps of the body (``name`` is accepted, then dropped).
PERMITTED_SYNC_FIELDS = (
    "source_id",
    "destination_id",
    "model_id",
    "schedule_type",
    "sync_interval",
    "sync_mode",
    "sync_interval_unit",
    "cron_expression",
    "stream_name",
    "cursor_field",
    "configuration",
)
RECORD_ATTRIBUTES = (
    "sync_id",
    "sync_run_id",
    "record",
    "status",
    "action",
    "logs",
    "created_at",
    "updated_at",
)


def _resource(kind: str, ident: Any, attributes: dict[str, Any]) -> dict[str, Any]:
    shown = {k: rails_time(v) if k.endswith("_at") else v for k, v in attributes.items()}
    return {"id": str(ident), "type": kind, "attributes": shown}


def sync_resource(sync: dict[str, Any], core: OssCore) -> dict[str, Any]:
    """``SyncSerializer``: the attributes, and the source, destination and model nested (no ``name``)."""
    attributes = {k: sync.get(k) for k in SYNC_ATTRIBUTES}
    source, destination = (
        core.state.connectors.get(sync["source_id"]),
        core.state.connectors.get(sync["destination_id"]),
    )
    attributes["source"] = _connector(source, core, False) if source else None
    attributes["destination"] = _connector(destination, core, False) if destination else None
    model = core.state.models.get(sync["model_id"])
    attributes["model"] = _model(model, core) if model else None
    return _resource("syncs", sync["id"], attributes)


def _duration(run: dict[str, Any]) -> float | None:
    started, finished = parse_iso(run.get("started_at")), parse_iso(run.get("finished_at"))
    return (finished - started).total_seconds() if started and finished else None


def run_resource(run: dict[str, Any]) -> dict[str, Any]:
    """``SyncRunSerializer`` (its ``error`` is never written by the open-source server)."""
    attributes = {k: run.get(k) for k in RUN_ATTRIBUTES}
    attributes["duration"] = _duration(run)
    attributes["error"] = None
    return _resource("sync_runs", run["id"], attributes)


def record_resource(record: dict[str, Any]) -> dict[str, Any]:
    """``SyncRecordSerializer``: ``logs``, no ``error``, no ``primary_key``."""
    return _resource("sync_records", record["id"], {k: record.get(k) for k in RECORD_ATTRIBUTES})


def _to_query(params: dict[str, Any]) -> str:
    """Rails ``to_query``: keys sorted, values escaped."""
    from urllib.parse import quote

    return "&".join(f"{quote(str(k), safe='')}={quote(str(v), safe='')}" for k, v in sorted(params.items()))


def paged(request: Request, core: OssCore, items: list[dict[str, Any]]) -> dict[str, Any]:
    """One Kaminari page and the server's ``links`` (absolute; ``null`` where there is no page)."""
    query = dict(request.query_params)
    page = int(query.get("page") or 1)
    try:
        per_page = int(query.get("per_page") or core.per_page)
    except ValueError:
        per_page = core.per_page
    per_page = per_page if per_page > 0 else core.per_page
    total_pages = math.ceil(len(items) / per_page)
    origin = core.link_base or f"{request.url.scheme}://{request.url.netloc}"
    url = f"{origin}{request.url.path}"

    def link(number: int | None) -> str | None:
        return (
            None if number is None else f"{url}?{_to_query({**query, 'page': number, 'per_page': per_page})}"
        )

    last_page = page == total_pages
    links = {
        "self": f"{url}?{_to_query(query)}",
        "first": link(1),
        "prev": None if page == 1 else link(page - 1),
        "next": link(page + 1) if not last_page and total_pages > 1 else None,
        "last": link(max(total_pages, 1)),
    }
    start = (page - 1) * per_page
    return {"data": items[start : start + per_page], "links": links}


# ----- routes --------------------------------------------------------------------------------------------
router = APIRouter(prefix="/api/v1")


def _sync(core: OssCore, sync_id: int) -> dict[str, Any]:
    sync = core.state.syncs.get(sync_id)
    if sync is None:
        raise not_found("Sync", sync_id)
    return sync


@router.post("/login")
async def login(request: Request) -> dict[str, Any]:
    """``{email, password}`` -> a JWT as a JSON:API ``token`` resource; 401 with the server's message."""
    core = _core(request)
    values = _validate(contracts.LOGIN, _params(request, await read_body(request)))
    if not re.match(contracts.EMAIL_PATTERN, values["email"], re.I):
        raise Problem(400, body={"errors": {"email": ["has invalid email format"]}})
    token = core.account.login(values["email"], values["password"])
    return {"data": {"type": "token", "id": token, "attributes": {"token": token}}}


@router.get("/connectors")
async def list_connectors(request: Request) -> dict[str, Any]:
    """Connectors of the workspace."""
    core, _ = _guard(request, contracts.INDEX)
    items = [
        _resource("connectors", c["id"], _connector(c, core, True)) for c in core.state.connectors.values()
    ]
    return paged(request, core, items)


@router.get("/models")
async def list_models(request: Request) -> dict[str, Any]:
    """Models of the workspace."""
    core, _ = _guard(request, contracts.INDEX)
    return paged(
        request, core, [_resource("models", m["id"], _model(m, core)) for m in core.state.models.values()]
    )


@router.get("/syncs")
async def list_syncs(request: Request) -> dict[str, Any]:
    """Syncs, newest change first (the model's default scope)."""
    core, _ = _guard(request, contracts.INDEX)
    with core.state.lock:
        syncs = sorted(core.state.syncs.values(), key=lambda s: (s["updated_at"], s["id"]), reverse=True)
        return paged(request, core, [sync_resource(s, core) for s in syncs])


def _sync_errors(core: OssCore, sync: dict[str, Any]) -> dict[str, str]:
    """The model's validations, in its order; each attribute's first message (``format_errors``)."""
    errors: dict[str, str] = {}
    if sync.get("source_id") is None:
        errors["source_id"] = "can't be blank"
    interval = sync.get("schedule_type") == "interval"
    if interval and not (sync.get("sync_interval") or 0) > 0:
        errors["sync_interval"] = "must be greater than 0" if sync.get("sync_interval") else "can't be blank"
    if interval and not sync.get("sync_interval_unit"):
        errors["sync_interval_unit"] = "can't be blank"
    if sync.get("schedule_type") == "cron_expression" and not sync.get("cron_expression"):
        errors["cron_expression"] = "can't be blank"
    destination = core.state.connectors.get(sync.get("destination_id") or -1)
    if destination is not None and sync.get("stream_name") not in core.engine.destination_tables(
        destination["id"]
    ):
        errors["stream_name"] = "Add a valid stream_name associated with destination connector"
    for key in ("source", "destination"):
        if core.state.connectors.get(sync.get(f"{key}_id") or -1) is None:
            errors[key] = "must exist"
    if core.state.models.get(sync.get("model_id") or -1) is None:
        errors["model"] = "must exist"
    return errors


def _enum_values(sync: dict[str, Any]) -> None:
    """Rails enums take their exact values only: another spelling is an ArgumentError (400)."""
    enums = {
        "schedule_type": contracts.SCHEDULE_TYPES,
        "sync_mode": contracts.SYNC_MODES,
        "sync_interval_unit": contracts.INTERVAL_UNITS,
    }
    for key, allowed in enums.items():
        value = sync.get(key)
        if value is not None and value not in allowed:
            raise bad_request(f"'{value}' is not a valid {key}")


def _normalize_schedule(sync: dict[str, Any]) -> None:
    """``modify_sync_params``: fields that the schedule type does not use are emptied."""
    kind = sync.get("schedule_type")
    if kind in ("manual", "cron_expression"):
        sync["sync_interval"] = sync["sync_interval_unit"] = None
    if kind in ("manual", "interval"):
        sync["cron_expression"] = None


@router.post("/syncs", status_code=201)
async def create_sync(request: Request) -> dict[str, Any]:
    """Create a sync: 201; 400 for the contract (a hash); 422 "Sync creation failed" (reasons: ``source``)."""
    core, values = _guard(request, contracts.SYNC_CREATE, await read_body(request))
    given = values["sync"]
    sync: dict[str, Any] = {key: given.get(key) for key in PERMITTED_SYNC_FIELDS}  # strong parameters
    _enum_values(sync)
    _normalize_schedule(sync)
    errors = _sync_errors(core, sync)
    if errors:
        raise Problem(422, body=error_body(422, "Sync creation failed", errors))
    with core.state.lock:
        stamp = now_iso()
        sync.update(
            id=core.state.next_id("sync"),
            status="pending",
            current_cursor_field=None,
            created_at=stamp,
            updated_at=stamp,
        )
        core.state.syncs[sync["id"]] = sync
    return {"data": sync_resource(sync, core)}


@router.get("/syncs/configurations")
async def sync_configurations(request: Request) -> dict[str, Any]:
    """The mapping types the emulator understands."""
    _guard(request, ())
    return {"data": {"configurations": {"mapping_types": {"standard": "copy a column under another name"}}}}


@router.get("/syncs/{id}")
async def get_sync(request: Request) -> dict[str, Any]:
    """One sync."""
    core, values = _guard(request, contracts.ID)
    return {"data": sync_resource(_sync(core, values["id"]), core)}


@router.put("/syncs/{id}")
async def update_sync(request: Request) -> dict[str, Any]:
    """Change fields of a sync (allowed while it runs); 422 "Sync update failed" with the reasons."""
    core, values = _guard(request, contracts.SYNC_UPDATE, await read_body(request))
    sync = _sync(core, values["id"])
    changes = {k: v for k, v in values["sync"].items() if k in PERMITTED_SYNC_FIELDS and k != "cursor_field"}
    merged = {**sync, **changes}
    _enum_values(merged)
    if "schedule_type" in changes:
        _normalize_schedule(merged)
    errors = _sync_errors(core, merged)
    if errors:
        raise Problem(422, body=error_body(422, "Sync update failed", errors))
    with core.state.lock:
        sync.update(merged, updated_at=now_iso())
    return {"data": sync_resource(sync, core)}


@router.delete("/syncs/{id}", status_code=204)
async def delete_sync(request: Request) -> Response:
    """Discard a sync and its runs (allowed while it runs: its workflow is terminated)."""
    core, values = _guard(request, contracts.ID)
    sync = _sync(core, values["id"])
    with core.state.lock:
        for run in [r for r in core.state.runs.values() if r["sync_id"] == sync["id"]]:
            core.engine.cancels.setdefault(run["id"], threading.Event()).set()
            del core.state.runs[run["id"]]
        del core.state.syncs[sync["id"]]
    return Response(status_code=204)


@router.patch("/syncs/{id}/enable")
async def enable_sync(request: Request) -> dict[str, Any]:
    """``{"enable": true|false}``; not idempotent: an invalid transition is a 400."""
    core, values = _guard(request, contracts.ENABLE, await read_body(request))
    sync = _sync(core, values["id"])
    event, allowed, target = (
        ("enable", ("disabled",), "pending")
        if values["enable"]
        else ("disable", ("pending", "healthy", "failed"), "disabled")
    )
    with core.state.lock:
        if sync["status"] not in allowed:
            raise bad_request(f"Event '{event}' cannot transition from '{sync['status']}'.")
        sync.update(status=target, updated_at=now_iso())
    return {"data": sync_resource(sync, core)}


def _schedulable(core: OssCore, sync_id: Any) -> dict[str, Any]:
    """The controller's before-actions: 404 "Sync not found", 424 disabled, 424 not manual."""
    sync = core.state.syncs.get(int(sync_id)) if str(sync_id).lstrip("-").isdigit() else None
    if sync is None:
        raise Problem(404, "Sync not found")
    if sync["status"] == "disabled":
        raise Problem(424, "Sync is disabled")
    if sync["schedule_type"] != "manual":
        raise Problem(424, "Sync Schedule type should be manual")
    return sync


@router.post("/schedule_syncs")
async def schedule_sync(request: Request) -> dict[str, Any]:
    """Trigger a manual run: 200 without a run id; the run row appears after the trigger delay."""
    core, values = _guard(request, contracts.SCHEDULE_CREATE, await read_body(request))
    sync = _schedulable(core, values["schedule_sync"]["sync_id"])
    with core.state.lock:
        if core.engine.active_run(sync["id"]):
            raise Problem(424, "Sync cannot be scheduled due to active sync run")
        core.engine.trigger(sync["id"])  # a refused workflow is only logged by the server: still 200
    return {"message": "Sync scheduled successfully"}


@router.delete("/schedule_syncs/{sync_id}")
async def cancel_sync_run(request: Request) -> dict[str, Any]:
    """Cancel the active run (``canceled`` at once); 424 when there is no run row yet or any more."""
    core, values = _guard(request, contracts.SCHEDULE_DESTROY)
    sync = _schedulable(core, values["sync_id"])
    with core.state.lock:
        if not core.engine.cancel(sync["id"]):
            raise Problem(424, "Sync cannot be cancelled due to no active sync run")
    return {"message": "Sync cancelled successfully"}


def _runs_sync(core: OssCore, sync_id: int) -> dict[str, Any]:
    sync = core.state.syncs.get(sync_id)
    if sync is None:
        raise Problem(404, "Sync not found")
    return sync


@router.get("/syncs/{sync_id}/sync_runs")
async def list_sync_runs(request: Request) -> dict[str, Any]:
    """Runs of a sync by ``updated_at``, newest first; ``?status=`` must be a run status."""
    core, values = _guard(request, contracts.RUNS_INDEX)
    status = values.get("status")
    if status is not None and status not in RUN_STATUSES:
        raise Problem(400, body={"errors": {"status": ["must be a valid status"]}})
    sync = _runs_sync(core, values["sync_id"])
    with core.state.lock:
        runs = [dict(r) for r in core.state.runs.values() if r["sync_id"] == sync["id"]]
    runs.sort(key=lambda r: (r["updated_at"], r["id"]), reverse=True)
    return paged(request, core, [run_resource(r) for r in runs if not status or r["status"] == status])


@router.get("/syncs/{sync_id}/sync_runs/{id}")
async def get_sync_run(request: Request) -> dict[str, Any]:
    """One run; 404 "Sync Run not found"."""
    core, values = _guard(request, contracts.RUN_SHOW)
    sync = _runs_sync(core, values["sync_id"])
    with core.state.lock:
        run = core.state.runs.get(values["id"])
        if run is None or run["sync_id"] != sync["id"]:
            raise Problem(404, "Sync Run not found")
        return {"data": run_resource(dict(run))}


@router.get("/syncs/{sync_id}/sync_runs/{sync_run_id}/sync_records")
async def list_sync_records(request: Request) -> dict[str, Any]:
    """Records of a run, oldest first; ``?status=`` pending, success or failed."""
    core, values = _guard(request, contracts.RECORDS_INDEX)
    status = values.get("status")
    if status is not None and status not in RECORD_STATUSES:
        raise Problem(400, body={"errors": {"status": ["must be a valid status"]}})
    sync = _runs_sync(core, values["sync_id"])
    with core.state.lock:
        run = core.state.runs.get(values["sync_run_id"])
        if run is None or run["sync_id"] != sync["id"]:
            raise Problem(404, "SyncRun not found")
        records = [
            dict(r) for r in core.state.records.get(run["id"], []) if not status or r["status"] == status
        ]
    return paged(request, core, [record_resource(r) for r in records])


def problem_response(exc: Problem) -> JSONResponse:
    """The JSON answer of a :class:`Problem`."""
    return JSONResponse(exc.payload, status_code=exc.status)
