"""REST API v1 (OData 4 style) under ``/api.rsc/``: entity sets with name keys, query options, actions.

Entity sets: jobs, connections, tasks, transformations, history, users (fields in PascalCase).
Keys: ``jobs('Name')`` (quotes doubled inside), also an id; ``tasks(JobName='X',Index=0)`` or
``tasks('<TaskId>')``; ``history(<Id>)``. One generic collection handler applies the query options
and the server page size (``@odata.nextLink`` with ``$skip``).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.routing import Match

from .common import Core, base_url, core_of, read_body, require_auth
from .engine import KINDS
from .odata import compile_filter, order_rows, select_fields
from .service import Service
from .util import ApiError, as_int, bad_request, norm_key, not_found

router = APIRouter(prefix="/api.rsc", dependencies=[Depends(require_auth)])

ENTITY_SETS = ("jobs", "connections", "tasks", "transformations", "history", "users")
_PATH = re.compile(r"^(?P<name>[A-Za-z_]\w*)(?:\((?P<key>.*)\))?(?P<count>/\$count)?/?$", re.S)
_TASK_STATUS = {"Success": "SUCCESS", "Failed": "FAILED", "Cancelled": "CANCELLED", "Skipped": "SKIPPED"}


def pascal(key: str) -> str:
    """``truncate_table_data`` -> ``TruncateTableData``."""
    return "".join(part[:1].upper() + part[1:] for part in key.split("_"))


# ----- rendering --------------------------------------------------------------------------------
_JOB_SETTINGS = (
    "truncate_table_data",
    "drop_table",
    "continue_on_error",
    "alter_schema",
    "batch_size",
    "table_name_prefix",
    "destination_schema",
    "enable_parallel_processing",
    "worker_pool",
    "verbosity",
    "send_email",
    "email_to",
    "email_subject",
    "email_error_only",
    "use_gmt_datetime",
    "history_mode",
    "auto_truncate_strings",
    "deletion_behavior",
    "replicate_interval",
    "replicate_interval_unit",
    "replicate_start_date",
    "pipeline_id",
)


def _run_summary(service: Service, ident: str) -> dict[str, Any]:
    last = service.store.last("run", ident)
    return {
        "LastRunId": last["id"] if last else None,
        "LastRun": last.get("start_time") if last else None,
        "LastRunStatus": last["status"] if last else None,
    }


def job_row(service: Service, doc: dict[str, Any]) -> dict[str, Any]:
    """A v1 job."""
    rendered = service.render("job", doc)
    tasks = service.store.list("task", doc["id"])
    row = {
        "JobId": doc["id"],
        "JobName": doc["name"],
        "Type": doc["type"],
        "Source": rendered["source_connection"]["name"],
        "SourceId": rendered["source_connection"]["id"],
        "Destination": rendered["destination_connection"]["name"],
        "DestinationId": rendered["destination_connection"]["id"],
        "Status": rendered["status"],
        "Scheduled": bool((doc.get("schedule") or {}).get("enabled")),
        "ScheduledCron": (doc.get("schedule") or {}).get("cron") or "",
        "Queries": [t["query"] for t in tasks],
        "WorkspaceId": doc["workspace_id"],
        **_run_summary(service, doc["id"]),
    }
    row.update({pascal(k): doc.get(k) for k in _JOB_SETTINGS})
    return row


def connection_row(service: Service, doc: dict[str, Any]) -> dict[str, Any]:
    """A v1 connection."""
    shown = service.render_connection(doc)
    props = shown.get("properties") or {}
    return {
        "ConnectionId": doc["id"],
        "Name": doc["name"],
        "ProviderName": doc["connector"],
        "ConnectionString": ";".join(f"{k}={v}" for k, v in props.items()),
        "Verbosity": (doc.get("settings") or {}).get("logfile_verbosity"),
        "WorkspaceId": doc["workspace_id"],
        "LastModified": doc.get("modified_time"),
    }


def task_row(service: Service, doc: dict[str, Any]) -> dict[str, Any]:
    """A v1 task."""
    job = service.store.get("job", doc["job_id"]) or {}
    return {
        "TaskId": doc["id"],
        "JobId": doc["job_id"],
        "JobName": job.get("name"),
        "Index": doc["index"],
        "Query": doc["query"],
        "Table": doc.get("table"),
        "IsActive": doc.get("is_active", True),
    }


def transformation_row(service: Service, doc: dict[str, Any]) -> dict[str, Any]:
    """A v1 transformation."""
    rendered = service.render("transformation", doc)
    return {
        "TransformationId": doc["id"],
        "TransformationName": doc["name"],
        "Connection": (rendered.get("connection") or {}).get("name"),
        "ConnectionId": doc.get("connection_id"),
        "Queries": [t["query"] for t in service.store.list("ttask", doc["id"])],
        "Status": rendered["status"],
        "Scheduled": bool((doc.get("schedule") or {}).get("enabled")),
        "ScheduledCron": (doc.get("schedule") or {}).get("cron") or "",
        **_run_summary(service, doc["id"]),
    }


def history_row(service: Service, run: dict[str, Any]) -> dict[str, Any]:
    """A v1 history record (job, transformation or pipeline run)."""
    kind = run.get("kind", "job")
    _, id_key, name_key, label = KINDS[kind]
    entries = run.get("tasks") or run.get("steps") or []
    ok = sum(1 for e in entries if e["status"] == "Success")
    details = (
        run.get("error") or f"{ok} of {len(entries)} {'steps' if kind == 'pipeline' else 'tasks'} succeeded."
    )
    if run["status"] in ("Queued", "Running"):
        details = f"{run['status']}: {ok} of {len(entries)} done."
    return {
        "Id": int(run["id"]),
        "JobId": run.get(id_key),
        "JobName": run.get(name_key),
        "Type": label,
        "RunStartDate": run.get("start_time") or run.get("queued_time"),
        "RunEndDate": run.get("end_time"),
        "Status": run["status"],
        "Details": details,
        "Runtime": run.get("runtime_ms"),
        "RecordsAffected": run.get("records_affected") or 0,
        "LogFile": run.get("log_file"),
        "Trigger": run.get("trigger"),
    }


def user_row(service: Service, doc: dict[str, Any]) -> dict[str, Any]:
    """A v1 user."""
    return {
        "Id": doc["id"],
        "User": doc["name"],
        "Roles": doc.get("role"),
        "Active": doc.get("active", True),
        "Email": doc.get("email"),
    }


def _rows(service: Service, name: str) -> list[dict[str, Any]]:
    store = service.store
    if name == "jobs":
        return [job_row(service, d) for d in store.list("job")]
    if name == "connections":
        return [connection_row(service, d) for d in store.list("connection")]
    if name == "tasks":
        return [task_row(service, d) for job in store.list("job") for d in store.list("task", job["id"])]
    if name == "transformations":
        return [transformation_row(service, d) for d in store.list("transformation")]
    if name == "history":
        return [history_row(service, r) for r in store.list("run")]
    return [user_row(service, d) for d in store.list("user")]


# ----- collection handler ---------------------------------------------------------------------------
def collection(request: Request, core: Core, name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply $filter/$orderby/$skip/$top/$select/$count and the server page size."""
    params = request.query_params
    fields = list(rows[0].keys()) if rows else list(_sample_fields(name))
    if params.get("$filter"):
        predicate = compile_filter(params["$filter"], fields)
        rows = [r for r in rows if predicate(r)]
    if params.get("$orderby"):
        rows = order_rows(rows, params["$orderby"], fields)
    total = len(rows)
    skip = as_int(params.get("$skip") or 0, "$skip", minimum=0)
    top = as_int(params["$top"], "$top", minimum=0) if params.get("$top") else None
    remaining = rows[skip:] if top is None else rows[skip : skip + top]
    page = remaining[: core.v1_page_size]
    if params.get("$select"):
        page = [select_fields(r, params["$select"], fields) for r in page]
    out: dict[str, Any] = {"@odata.context": f"{base_url(request)}/api.rsc/$metadata#{name}"}
    if str(params.get("$count", "")).lower() == "true":
        out["@odata.count"] = total
    out["value"] = page
    if len(remaining) > len(page):
        update = {"$skip": skip + len(page)}
        if top is not None:
            update["$top"] = top - len(page)
        out["@odata.nextLink"] = str(request.url.include_query_params(**update))
    return out


def _sample_fields(name: str) -> tuple[str, ...]:
    return {
        "jobs": ("JobId", "JobName", "Status", "Type", "Source", "Destination"),
        "connections": ("ConnectionId", "Name", "ProviderName", "ConnectionString"),
        "tasks": ("TaskId", "JobId", "JobName", "Index", "Query", "Table", "IsActive"),
        "transformations": ("TransformationId", "TransformationName", "Connection", "Status"),
        "history": (
            "Id",
            "JobId",
            "JobName",
            "Type",
            "RunStartDate",
            "RunEndDate",
            "Status",
            "Details",
            "Runtime",
            "RecordsAffected",
            "LogFile",
            "Trigger",
        ),
        "users": ("Id", "User", "Roles", "Active", "Email"),
    }[name]


# ----- keys --------------------------------------------------------------------------------------
def parse_key(text: str) -> dict[str, str] | str:
    """``'O''Brien'`` -> ``O'Brien``; ``JobName='X',Index=1`` -> dict; ``12`` -> ``"12"``."""
    text = text.strip()
    single = re.fullmatch(r"'((?:[^']|'')*)'", text)
    if single:
        return single.group(1).replace("''", "'")
    parts = re.findall(r"\s*(\w+)\s*=\s*('(?:[^']|'')*'|[^,]+)\s*(?:,|$)", text)
    if parts:
        return {k.lower(): (v[1:-1].replace("''", "'") if v.startswith("'") else v.strip()) for k, v in parts}
    return text


def find_entity(service: Service, name: str, key: dict[str, str] | str) -> dict[str, Any]:
    """The stored document addressed by an entity key (404 when absent)."""
    if name in ("jobs", "transformations"):
        kind = name[:-1]
        ref = (
            key
            if isinstance(key, str)
            else key.get("jobname") or key.get("transformationname") or key.get("id", "")
        )
        return service.find_target(kind, ref)
    if name == "connections":
        ref = key if isinstance(key, str) else key.get("name") or key.get("connectionname", "")
        doc = service.store.get("connection", ref)
        doc = doc or next(
            (c for c in service.store.list("connection") if c["name"].lower() == ref.lower()), None
        )
        if doc is None:
            raise not_found("Connection", ref)
        return doc
    if name == "users":
        return service.user(key if isinstance(key, str) else key.get("user") or key.get("id", ""))
    if name == "history":
        ref = key if isinstance(key, str) else key.get("id", "")
        run = service.store.get("run", ref)
        if run is None:
            raise not_found("History", ref)
        return run
    if isinstance(key, str):
        doc = service.store.get("task", key)
        if doc is None:
            raise not_found("Task", key)
        return doc
    if "taskid" in key:
        return find_entity(service, "tasks", key["taskid"])
    job = service.find_target("job", key.get("jobname") or key.get("jobid", ""))
    index = as_int(key.get("index"), "Index")
    for task in service.store.list("task", job["id"]):
        if task["index"] == index:
            return task
    raise not_found("Task", f"{job['name']}#{index}")


def render_entity(service: Service, name: str, doc: dict[str, Any]) -> dict[str, Any]:
    """Render one stored document as its v1 row."""
    renderer = {
        "jobs": job_row,
        "connections": connection_row,
        "tasks": task_row,
        "transformations": transformation_row,
        "history": history_row,
        "users": user_row,
    }[name]
    return renderer(service, doc)


# ----- writes ------------------------------------------------------------------------------------
_V1_KEYS = {
    "job_name": "name",
    "transformation_name": "name",
    "connection_name": "name",
    "user": "name",
    "roles": "role",
    "connection_string": "properties",
    "source": "source_connection",
    "destination": "destination_connection",
    "source_id": "source_connection_id",
    "destination_id": "destination_connection_id",
}


def v1_body(raw: dict[str, Any]) -> dict[str, Any]:
    """Translate a PascalCase v1 body into the v2 spelling understood by the service."""
    body: dict[str, Any] = {}
    for key, value in raw.items():
        nkey = norm_key(str(key))
        body[_V1_KEYS.get(nkey, nkey)] = value
    if "scheduled" in body or "scheduled_cron" in body:
        body["schedule"] = {"enabled": body.pop("scheduled", True), "cron": body.pop("scheduled_cron", "")}
    return body


def create_entity(service: Service, name: str, raw: dict[str, Any]) -> dict[str, Any]:
    """POST to an entity set."""
    body = v1_body(raw)
    ws = str(body.pop("workspace_id", None) or "default")
    if name == "jobs":
        return service.store.get("job", service.create_job(ws, body)["id"]) or {}
    if name == "connections":
        return service.connection(service.create_connection(ws, body)["id"])
    if name == "transformations":
        doc = service.create_transformation(ws, body)
        return service.store.get("transformation", doc["id"]) or {}
    if name == "users":
        return service.create_user(body)
    if name == "tasks":
        job_ref = body.pop("job_name", None) or body.pop("job_id", None) or body.pop("name", None)
        if not job_ref:
            raise bad_request("JobName", "the field is required")
        return service.add_task("job", service.find_target("job", str(job_ref))["id"], body)
    raise ApiError(405, "MethodNotAllowed", f"The {name} entity set is read-only.")


def update_entity(service: Service, name: str, doc: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    """PUT/PATCH on an entity."""
    body = v1_body(raw)
    if name == "jobs":
        service.update_job(doc["id"], body)
        return service.target("job", doc["id"])
    if name == "connections":
        service.update_connection(doc["id"], body)
        return service.connection(doc["id"])
    if name == "transformations":
        service.update_transformation(doc["id"], body)
        return service.target("transformation", doc["id"])
    if name == "users":
        return service.update_user(doc["id"], body)
    if name == "tasks":
        return service.update_task("job", doc["job_id"], doc["id"], body)
    raise ApiError(405, "MethodNotAllowed", f"The {name} entity set is read-only.")


def delete_entity(service: Service, name: str, doc: dict[str, Any]) -> None:
    """DELETE an entity."""
    if name in ("jobs", "transformations"):
        service.delete_target(name[:-1], doc["id"])
    elif name == "connections":
        service.delete_connection(doc["id"])
    elif name == "users":
        service.delete_user(doc["id"])
    elif name == "tasks":
        service.delete_task("job", doc["job_id"], doc["id"])
    else:
        raise ApiError(405, "MethodNotAllowed", f"The {name} entity set is read-only.")


# ----- actions -----------------------------------------------------------------------------------
def _arg(body: dict[str, Any], *names: str) -> Any:
    lowered = {str(k).lower(): v for k, v in body.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    return str(value).strip().lower() in ("true", "1", "yes")


def _job_of(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    ref = _arg(body, "JobName", "JobId", "Job")
    if not ref:
        raise bad_request("JobName", "the field is required")
    return service.find_target("job", str(ref))


def _target_of(service: Service, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The job named in the body, else a transformation of that name (v1 runs both as jobs)."""
    try:
        return "job", _job_of(service, body)
    except ApiError as missing:
        if missing.status != 404:
            raise
        try:
            return "transformation", service.find_target(
                "transformation", str(_arg(body, "JobName", "JobId", "Job"))
            )
        except ApiError:
            raise missing from None


async def _wait(service: Service, run_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + (timeout if timeout > 0 else 3600)
    while True:
        run = service.store.get("run", run_id) or {}
        if run.get("status") not in ("Queued", "Running") or time.monotonic() > deadline:
            return run
        await asyncio.sleep(0.05)


def _task_results(run: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for entry in run.get("tasks", []):
        status = _TASK_STATUS.get(entry["status"], entry["status"].upper())
        rows.append(
            {
                "JobName": run.get("job_name"),
                "Query": entry["query"],
                "Table": entry.get("table"),
                "Status": status,
                "Result": entry.get("error"),
                "Detail": f"{entry.get('records_affected') or 0} records affected.",
                "RecordsAffected": entry.get("records_affected") or 0,
                "RunStartDate": entry.get("start_time") or run.get("start_time"),
                "HistoryId": run["id"],
            }
        )
    return rows


async def _execute(service: Service, body: dict[str, Any], task_ids: list[str] | None) -> dict[str, Any]:
    kind, job = _target_of(service, body)
    wait = _flag(_arg(body, "WaitForResults"), True) and not _flag(_arg(body, "Async"), False)
    run = service.execute(kind, job["id"], {"tasks": task_ids} if task_ids else None)
    if not wait:
        row = {"JobName": job["name"], "JobId": job["id"], "HistoryId": run["id"], "Status": "Running"}
        return {"value": [{**row, "RunStartDate": run.get("start_time") or run.get("queued_time")}]}
    timeout = float(_arg(body, "Timeout") or 0)
    return {"value": _task_results(await _wait(service, run["id"], timeout))}


def _query_ids(service: Service, job: dict[str, Any], body: dict[str, Any]) -> list[str]:
    tasks = service.store.list("task", job["id"])
    wanted = [(k, v) for k, v in body.items() if re.fullmatch(r"(?i)query(#\d+)?", str(k))]
    if not wanted:
        raise bad_request("Query#1", "give the queries (or task indexes or ids) to run")
    ids = []
    for key, value in wanted:
        text = " ".join(str(value).split()).lower()
        match = next(
            (t for t in tasks if " ".join(t["query"].split()).lower() == text or t["id"] == str(value)), None
        )
        if match is None and text.isdigit():
            match = next((t for t in tasks if t["index"] == int(text)), None)
        if match is None:
            raise bad_request(str(key), f"no task of job '{job['name']}' matches {value!r}")
        ids.append(match["id"])
    return ids


def _job_status(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    if not _arg(body, "JobName", "JobId"):
        rows = []
        for job in service.store.list("job"):
            rendered = service.render("job", job)
            last = service.store.last("run", job["id"])
            rows.append(
                {
                    "JobName": job["name"],
                    "JobId": job["id"],
                    "Status": rendered["status"],
                    "LastRunId": last["id"] if last else None,
                    "LastRunStatus": last["status"] if last else None,
                    "LastRunStartDate": last.get("start_time") if last else None,
                }
            )
        return {"value": rows}
    kind, job = _target_of(service, body)
    status = service.status(kind, job["id"])
    run = {
        "id": status["history_id"] or status["last_history_id"],
        "job_name": job["name"],
        "tasks": status["tasks"],
    }
    rows = _task_results(run) if run["id"] else []
    for row in rows:
        row["JobStatus"] = status["status"]
        if status["status"] != "Idle" and row["Status"] in ("QUEUED", "RUNNING"):
            row["Status"] = row["Status"].capitalize()
    return {"value": rows}


def _job_logs(core: Core, body: dict[str, Any]) -> dict[str, Any]:
    service = core.service
    _, job = _target_of(service, body)
    runs = service.store.list("run", job["id"])
    history_id = _arg(body, "HistoryId", "RunId")
    if history_id:
        runs = [r for r in runs if r["id"] == str(history_id)]
        if not runs:
            raise not_found("History", str(history_id))
    days = _arg(body, "Days")
    if days:
        from .util import now, parse_iso

        since = now().timestamp() - float(days) * 86400
        runs = [r for r in runs if (parse_iso(r.get("start_time")) or now()).timestamp() >= since]
    rows = []
    for run in runs:
        path = core.engine.log_dir / str(run.get("log_file"))
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        rows.append(
            {"JobName": job["name"], "HistoryId": run["id"], "LogFile": run.get("log_file"), "Log": text}
        )
    return {"value": rows}


def _connection(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    ref = _arg(body, "ConnectionName", "Connection", "Name", "ConnectionId")
    if not ref:
        raise bad_request("ConnectionName", "the field is required")
    doc = find_entity(service, "connections", str(ref))
    return doc


async def run_action(core: Core, action: str, body: dict[str, Any]) -> dict[str, Any]:
    """Dispatch a v1 action by (case-insensitive) name."""
    service = core.service
    if action == "executejob":
        return await _execute(service, body, None)
    if action == "executequery":
        return await _execute(service, body, _query_ids(service, _job_of(service, body), body))
    if action == "canceljob":
        kind, job = _target_of(service, body)
        run = service.cancel(kind, job["id"])
        return {"value": [{"JobName": job["name"], "HistoryId": run["id"], "Status": "Cancelling"}]}
    if action == "getjobstatus":
        return _job_status(service, body)
    if action in ("getjoblog", "getjoblogs", "getlogs"):
        return _job_logs(core, body)
    if action == "testconnection":
        doc = _connection(service, body)
        result = service.test_connection(doc["id"])
        return {"value": [{"ConnectionName": doc["name"], "Status": "Success", "Message": result["message"]}]}
    if action == "getconnectiontables":
        doc = _connection(service, body)
        tables = service.tables(doc["id"])
        return {"value": [{"TableName": t["name"], "Schema": t["schema"], "Type": t["type"]} for t in tables]}
    if action == "getconnectiontablecolumns":
        doc = _connection(service, body)
        table = _arg(body, "Table", "TableName")
        if not table:
            raise bad_request("Table", "the field is required")
        cols = service.columns(doc["id"], str(table))
        return {
            "value": [
                {
                    "ColumnName": c["name"],
                    "DataType": c["data_type"],
                    "IsNullable": c["is_nullable"],
                    "IsKey": c["is_key"],
                }
                for c in cols
            ]
        }
    if action == "createusers":
        users = _arg(body, "Users", "Value")
        if not isinstance(users, list):
            raise bad_request("Users", "expected a list of users")
        return {"value": [user_row(service, service.create_user(v1_body(u))) for u in users]}
    raise not_found("Action", action)


ACTIONS = {
    "executejob",
    "executequery",
    "canceljob",
    "getjobstatus",
    "getjoblog",
    "getjoblogs",
    "getlogs",
    "testconnection",
    "getconnectiontables",
    "getconnectiontablecolumns",
    "createusers",
}


# ----- the catch-all route -----------------------------------------------------------------------
def _v2_method_exists(request: Request) -> bool:
    """Whether a v2 route matches the path with another method (so the answer is 405, not 404)."""
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match == Match.PARTIAL:
            return True
    return False


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def v1_entry(request: Request, rest: str) -> Response:
    """Entity sets, entities, ``$count``, ``$metadata`` and actions."""
    core = core_of(request)
    if rest.startswith("v2/") or rest == "v2":
        if _v2_method_exists(request):
            raise ApiError(
                405, "MethodNotAllowed", f"Method {request.method} is not allowed on {request.url.path}."
            )
        raise ApiError(404, "NotFound", f"No such path: {request.url.path}")
    if rest == "$metadata":
        sets = "".join(f'<EntitySet Name="{s}"/>' for s in ENTITY_SETS)
        xml = (
            '<?xml version="1.0"?><edmx:Edmx Version="4.0">'
            f"<EntityContainer>{sets}</EntityContainer></edmx:Edmx>"
        )
        return Response(xml, media_type="application/xml")
    match = _PATH.match(rest)
    if not match:
        raise ApiError(404, "NotFound", f"No such path: {request.url.path}")
    name = match.group("name").lower()
    if name in ACTIONS:
        if request.method != "POST":
            raise ApiError(405, "MethodNotAllowed", f"The action {match.group('name')} needs POST.")
        return JSONResponse(await run_action(core, name, await read_body(request)))
    if name not in ENTITY_SETS:
        raise ApiError(404, "NotFound", f"No such entity set or action: {match.group('name')}")
    return await _entity_request(request, core, name, match.group("key"), bool(match.group("count")))


async def _entity_request(request: Request, core: Core, name: str, key: str | None, count: bool) -> Response:
    service = core.service
    method = request.method
    if key is None:
        if method == "GET":
            result = collection(request, core, name, _rows(service, name))
            if count:
                total = result.get("@odata.count", len(_rows(service, name)))
                return PlainTextResponse(str(total))
            return JSONResponse(result)
        if method == "POST":
            doc = create_entity(service, name, await read_body(request, True))
            return JSONResponse(
                _with_context(request, name, render_entity(service, name, doc)), status_code=201
            )
        raise ApiError(405, "MethodNotAllowed", f"Method {method} needs an entity key: {name}('Name').")
    doc = find_entity(service, name, parse_key(key))
    if method == "GET":
        return JSONResponse(_with_context(request, name, render_entity(service, name, doc)))
    if method in ("PUT", "PATCH"):
        updated = update_entity(service, name, doc, await read_body(request, True))
        return JSONResponse(_with_context(request, name, render_entity(service, name, updated)))
    if method == "DELETE":
        delete_entity(service, name, doc)
        return Response(status_code=204)
    raise ApiError(405, "MethodNotAllowed", f"Method {method} is not allowed on {request.url.path}.")


def _with_context(request: Request, name: str, row: dict[str, Any]) -> dict[str, Any]:
    return {"@odata.context": f"{base_url(request)}/api.rsc/$metadata#{name}/$entity", **row}
