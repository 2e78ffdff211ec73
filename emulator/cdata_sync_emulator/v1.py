"""REST API v1 (OData 4 style) under ``/api.rsc/``: entity sets with name keys, query options, actions.

Entity sets: jobs, connections, tasks, transformations, history, users, workspaces (fields in PascalCase).
Keys: ``jobs('Name')`` (quotes doubled inside), also an id; ``tasks(JobName='X',Index=0)`` or
``tasks('<TaskId>')``; ``history(<Id>)``. One generic collection handler applies the query options
and the server page size (``@odata.nextLink`` with ``$skip``).

Workspaces: ``?workspaceId=`` on any call (or ``WorkspaceId`` in an action's body) limits what is seen and
where things are created. The dialect (:mod:`.dialects`) decides what is visible without it, whether
``history`` takes ``$filter``/``$count``, how ids look and how status and logs are answered.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.routing import Match

from .common import Core, absolute_link, base_url, core_of, read_body, require_auth
from .dialects import Dialect, V1Ids
from .engine import ACTIVE, KINDS
from .odata import compile_filter, order_rows, select_fields
from .service import DEFAULT_WORKSPACE, Service
from .util import ApiError, as_int, bad_request, norm_key, not_found, now, parse_iso

router = APIRouter(prefix="/api.rsc", dependencies=[Depends(require_auth)])

ENTITY_SETS = ("jobs", "connections", "tasks", "transformations", "history", "users", "workspaces")
_PATH = re.compile(r"^(?P<name>[A-Za-z_]\w*)(?:\((?P<key>.*)\))?(?P<count>/\$count)?/?$", re.S)
_TASK_STATUS = {"Success": "SUCCESS", "Failed": "FAILED", "Cancelled": "CANCELLED", "Skipped": "SKIPPED"}
#: ``InstanceId`` of the history records of the ``v1-real`` dialect (a real server names its instance).
INSTANCE_ID = "cdata-sync-emulator"


def pascal(key: str) -> str:
    """``truncate_table_data`` -> ``TruncateTableData``."""
    return "".join(part[:1].upper() + part[1:] for part in key.split("_"))


@dataclass
class V1:
    """One v1 request's view of the emulator: its dialect, how ids look, and the workspace in scope."""

    core: Core
    ids: V1Ids
    #: the workspace the request is limited to (None: every workspace).
    ws: str | None

    @property
    def service(self) -> Service:
        """The resource layer."""
        return self.core.service

    @property
    def dialect(self) -> Dialect:
        """The emulator's dialect."""
        return self.core.dialect

    def in_scope(self, workspace_id: str | None) -> bool:
        """Whether a resource of ``workspace_id`` is visible to this request."""
        return self.ws is None or workspace_id == self.ws

    def run_in_scope(self, run: dict[str, Any]) -> bool:
        """Whether a run's job/transformation/pipeline is visible to this request."""
        if self.ws is None:
            return True
        kind = run.get("kind", "job")
        target = self.core.store.get(kind, str(run.get(KINDS[kind][1])))
        return target is not None and target.get("workspace_id") == self.ws

    def run_listed(self, run: dict[str, Any]) -> bool:
        """Whether a run shows in ``history`` (the ``v1-real`` dialect lists finished runs only)."""
        active = run.get("status") in ACTIVE
        return (self.dialect.v1_running_in_history or not active) and self.run_in_scope(run)


def _arg(body: dict[str, Any], *names: str) -> Any:
    lowered = {str(k).lower(): v for k, v in body.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def view(request: Request, body: dict[str, Any] | None = None) -> V1:
    """The request's :class:`V1`; its workspace: ``WorkspaceId`` in the body, else ``?workspaceId=``, else
    the dialect's default (``default``, or every workspace)."""
    core = core_of(request)
    query = {k.lower(): v for k, v in request.query_params.items()}
    ws = _arg(body or {}, "WorkspaceId") or query.get("workspaceid")
    if not ws and core.dialect.v1_default_workspace_only:
        ws = DEFAULT_WORKSPACE
    if ws:
        ws = str(ws)
        core.service.workspace(ws)  # 404 naming it when it does not exist
    return V1(core, V1Ids(core.dialect, core.store), ws or None)


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


def _run_summary(v: V1, ident: str) -> dict[str, Any]:
    last = v.core.store.last("run", ident)
    summary = {
        "LastRunId": last["id"] if last else None,
        "LastRun": last.get("start_time") if last else None,
        "LastRunStatus": last["status"] if last else None,
    }
    if not v.dialect.v1_history_ids:
        del summary["LastRunId"]
    return summary


def job_row(v: V1, doc: dict[str, Any]) -> dict[str, Any]:
    """A v1 job."""
    rendered = v.service.render("job", doc)
    tasks = v.core.store.list("task", doc["id"])
    row = {
        "JobId": v.ids.target(doc["id"]),
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
        **_run_summary(v, doc["id"]),
    }
    row.update({pascal(k): doc.get(k) for k in _JOB_SETTINGS})
    return row


def connection_row(v: V1, doc: dict[str, Any]) -> dict[str, Any]:
    """A v1 connection."""
    shown = v.service.render_connection(doc)
    props = shown.get("properties") or {}
    return {
        "ConnectionId": doc["id"],
        "Name": doc["name"],
        "ProviderName": doc["connector"],
        "ConnectionString": ";".join(f"{k}={val}" for k, val in props.items()),
        "Verbosity": (doc.get("settings") or {}).get("logfile_verbosity"),
        "WorkspaceId": doc["workspace_id"],
        "LastModified": doc.get("modified_time"),
    }


def task_row(v: V1, doc: dict[str, Any]) -> dict[str, Any]:
    """A v1 task."""
    job = v.core.store.get("job", doc["job_id"]) or {}
    return {
        "TaskId": doc["id"],
        "JobId": v.ids.target(doc["job_id"]),
        "JobName": job.get("name"),
        "Index": doc["index"],
        "Query": doc["query"],
        "Table": doc.get("table"),
        "IsActive": doc.get("is_active", True),
    }


def transformation_row(v: V1, doc: dict[str, Any]) -> dict[str, Any]:
    """A v1 transformation (trigger fields as CData's client reads them)."""
    rendered = v.service.render("transformation", doc)
    trigger = doc.get("trigger") or {}
    after = v.core.store.get("job", str(trigger.get("after_job"))) if trigger.get("after_job") else None
    return {
        "TransformationId": v.ids.target(doc["id"]),
        "TransformationName": doc["name"],
        "Type": doc.get("type", "SQL"),
        "Connection": (rendered.get("connection") or {}).get("name"),
        "ConnectionId": doc.get("connection_id"),
        "Queries": [t["query"] for t in v.core.store.list("ttask", doc["id"])],
        "Status": rendered["status"],
        "Scheduled": bool((doc.get("schedule") or {}).get("enabled")),
        "ScheduledCron": (doc.get("schedule") or {}).get("cron") or "",
        "TransformationTriggerMode": trigger.get("type", "None"),
        "TriggerAfterJob": after["name"] if after else None,
        "TriggerAfterJobId": v.ids.target(after["id"]) if after else None,
        "WorkspaceId": doc["workspace_id"],
        **_run_summary(v, doc["id"]),
    }


def _run_details(run: dict[str, Any], summary_style: bool) -> str:
    """The ``Details`` of a history record: the failure reason, or a summary of the tasks."""
    kind = run.get("kind", "job")
    entries = run.get("tasks") or run.get("steps") or []
    ok = sum(1 for e in entries if e["status"] == "Success")
    noun = "steps" if kind == "pipeline" else "tasks"
    if run["status"] in ACTIVE:
        return f"{run['status']}: {ok} of {len(entries)} done."
    if not summary_style:
        return str(run.get("error") or f"{ok} of {len(entries)} {noun} succeeded.")
    failed = [e for e in entries if e["status"] == "Failed"]
    if failed:  # the summary real servers write ("7 of 13 Tasks Failed"), then each reason
        reasons = "; ".join(f"[{e.get('table') or e.get('name')}] {e.get('error')}" for e in failed)
        return f"{len(failed)} of {len(entries)} {noun.title()} Failed: {reasons}"
    return "Cancelled" if run["status"] == "Cancelled" else "Completed"


def history_row(v: V1, run: dict[str, Any]) -> dict[str, Any]:
    """A v1 history record (job, transformation or pipeline run)."""
    kind = run.get("kind", "job")
    _, id_key, name_key, label = KINDS[kind]
    row = {
        "Id": v.ids.history(run["id"]),
        "JobId": v.ids.target(run.get(id_key)),
        "JobName": run.get(name_key),
        "Type": label,
        "RunStartDate": run.get("start_time") or run.get("queued_time"),
        "RunEndDate": run.get("end_time"),
        "Status": run["status"],
        "Details": _run_details(run, summary_style=not v.dialect.v1_history_ids),
        "Runtime": run.get("runtime_ms"),
        "RecordsAffected": run.get("records_affected") or 0,
        "LogFile": run.get("log_file"),
        "Trigger": run.get("trigger"),
    }
    if not v.dialect.v1_history_ids:  # the fields CData's own client reads, and no end time
        row = {k: row[k] for k in _REAL_HISTORY_FIELDS if k in row} | {"InstanceId": INSTANCE_ID}
    return row


_REAL_HISTORY_FIELDS = (
    "Id",
    "JobId",
    "JobName",
    "RunStartDate",
    "Status",
    "Details",
    "Runtime",
    "RecordsAffected",
    "LogFile",
)


def user_row(v: V1, doc: dict[str, Any]) -> dict[str, Any]:
    """A v1 user."""
    return {
        "Id": doc["id"],
        "User": doc["name"],
        "Roles": doc.get("role"),
        "Active": doc.get("active", True),
        "Email": doc.get("email"),
    }


def workspace_row(v: V1, doc: dict[str, Any]) -> dict[str, Any]:
    """A v1 workspace."""
    return {"Id": doc["id"], "Name": doc["name"]}


_RENDERERS = {
    "jobs": job_row,
    "connections": connection_row,
    "tasks": task_row,
    "transformations": transformation_row,
    "history": history_row,
    "users": user_row,
    "workspaces": workspace_row,
}


def _rows(v: V1, name: str) -> list[dict[str, Any]]:
    store = v.core.store
    if name in ("jobs", "connections", "transformations"):
        docs = [d for d in store.list(name[:-1]) if v.in_scope(d.get("workspace_id"))]
    elif name == "tasks":
        jobs = [j for j in store.list("job") if v.in_scope(j.get("workspace_id"))]
        docs = [t for job in jobs for t in store.list("task", job["id"])]
    elif name == "history":
        docs = [r for r in store.list("run") if v.run_listed(r)]
    else:
        docs = store.list(name[:-1])
    return [_RENDERERS[name](v, d) for d in docs]


# ----- collection handler ---------------------------------------------------------------------------
def check_options(v: V1, name: str, params: Any, count_path: bool) -> None:
    """400 for the query options a dialect's server refuses (``$filter``/``$count`` on ``history``)."""
    if name != "history" or v.dialect.v1_history_filter:
        return
    refused = [o for o in ("$filter", "$count") if params.get(o)] + (["$count"] if count_path else [])
    if refused:
        raise ApiError(
            400,
            "BadRequest",
            f"The query option {refused[0]} is not supported on the history entity set: "
            "use $orderby, $top and $skip and filter on the client.",
        )


def collection(request: Request, v: V1, name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
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
    page = remaining[: v.core.v1_page_size]
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
        out["@odata.nextLink"] = absolute_link(request, v.core.link_base, **update)
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
            "InstanceId",
        ),
        "users": ("Id", "User", "Roles", "Active", "Email"),
        "workspaces": ("Id", "Name"),
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


def _find_target(v: V1, kind: str, ref: Any) -> dict[str, Any]:
    """A job or transformation by name, UUID or (v1-real) number, in the request's workspace."""
    return v.service.find_target(kind, v.ids.target_ref(ref), v.ws)


def find_entity(v: V1, name: str, key: dict[str, str] | str) -> dict[str, Any]:
    """The stored document addressed by an entity key (404 when absent or out of scope)."""
    service, store = v.service, v.core.store
    if name in ("jobs", "transformations"):
        ref = (
            key
            if isinstance(key, str)
            else key.get("jobname") or key.get("transformationname") or key.get("id", "")
        )
        return _find_target(v, name[:-1], ref)
    if name == "connections":
        ref = key if isinstance(key, str) else key.get("name") or key.get("connectionname", "")
        doc = store.get("connection", ref)
        candidates = [c for c in store.list("connection") if v.in_scope(c.get("workspace_id"))]
        if doc is None or not v.in_scope(doc.get("workspace_id")):
            doc = next((c for c in candidates if c["name"].lower() == ref.lower()), None)
        if doc is None:
            raise not_found("Connection", ref)
        return doc
    if name == "users":
        return service.user(key if isinstance(key, str) else key.get("user") or key.get("id", ""))
    if name == "workspaces":
        ref = key if isinstance(key, str) else key.get("name") or key.get("id", "")
        doc = store.get("workspace", ref)
        doc = doc or next((w for w in store.list("workspace") if w["name"].lower() == ref.lower()), None)
        if doc is None:
            raise not_found("Workspace", ref)
        return doc
    if name == "history":
        ref = key if isinstance(key, str) else key.get("id", "")
        run = store.get("run", v.ids.history_ref(ref))
        if run is None or not v.run_listed(run):
            raise not_found("History", ref)
        return run
    if isinstance(key, str):
        doc = store.get("task", key)
        if doc is None:
            raise not_found("Task", key)
        return doc
    if "taskid" in key:
        return find_entity(v, "tasks", key["taskid"])
    job = _find_target(v, "job", key.get("jobname") or key.get("jobid", ""))
    index = as_int(key.get("index"), "Index")
    for task in store.list("task", job["id"]):
        if task["index"] == index:
            return task
    raise not_found("Task", f"{job['name']}#{index}")


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


def create_entity(v: V1, name: str, raw: dict[str, Any]) -> dict[str, Any]:
    """POST to an entity set (in the body's ``WorkspaceId``, else the request's workspace)."""
    service = v.service
    body = v1_body(raw)
    ws = str(body.pop("workspace_id", None) or v.ws or DEFAULT_WORKSPACE)
    if name == "jobs":
        return service.store.get("job", service.create_job(ws, body)["id"]) or {}
    if name == "connections":
        return service.connection(service.create_connection(ws, body)["id"])
    if name == "transformations":
        doc = service.create_transformation(ws, body)
        return service.store.get("transformation", doc["id"]) or {}
    if name == "users":
        return service.create_user(body)
    if name == "workspaces":
        return service.create_workspace(body)
    if name == "tasks":
        job_ref = body.pop("job_name", None) or body.pop("job_id", None) or body.pop("name", None)
        if not job_ref:
            raise bad_request("JobName", "the field is required")
        return service.add_task("job", _find_target(v, "job", job_ref)["id"], body)
    raise ApiError(405, "MethodNotAllowed", f"The {name} entity set is read-only.")


def update_entity(v: V1, name: str, doc: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    """PUT/PATCH on an entity."""
    service = v.service
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
    if name == "workspaces":
        return service.update_workspace(doc["id"], body)
    if name == "tasks":
        return service.update_task("job", doc["job_id"], doc["id"], body)
    raise ApiError(405, "MethodNotAllowed", f"The {name} entity set is read-only.")


def delete_entity(v: V1, name: str, doc: dict[str, Any]) -> None:
    """DELETE an entity."""
    service = v.service
    if name in ("jobs", "transformations"):
        service.delete_target(name[:-1], doc["id"])
    elif name == "connections":
        service.delete_connection(doc["id"])
    elif name == "users":
        service.delete_user(doc["id"])
    elif name == "workspaces":
        service.delete_workspace(doc["id"])
    elif name == "tasks":
        service.delete_task("job", doc["job_id"], doc["id"])
    else:
        raise ApiError(405, "MethodNotAllowed", f"The {name} entity set is read-only.")


# ----- actions -----------------------------------------------------------------------------------
def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    return str(value).strip().lower() in ("true", "1", "yes")


def _job_ref(body: dict[str, Any]) -> Any:
    ref = _arg(body, "JobName", "JobId", "Job")
    if ref in (None, ""):
        raise bad_request("JobName", "the field is required (or JobId)")
    return ref


def _target_of(v: V1, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The job named in the body, else a transformation of that name (v1 runs both as jobs)."""
    ref = _job_ref(body)
    try:
        return "job", _find_target(v, "job", ref)
    except ApiError as missing:
        if missing.status != 404:
            raise
        try:
            return "transformation", _find_target(v, "transformation", ref)
        except ApiError:
            if not v.dialect.v1_history_ids:  # the wording of real servers (CData's client)
                raise ApiError(404, "NotFound", "Job not found") from None
            raise missing from None


async def _wait(service: Service, run_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + (timeout if timeout > 0 else 3600)
    while True:
        run = service.store.get("run", run_id) or {}
        if run.get("status") not in ACTIVE or time.monotonic() > deadline:
            return run
        await asyncio.sleep(0.05)


def _task_word(status: str) -> str:
    return _TASK_STATUS.get(status, status.upper())


def _task_results(v: V1, run: dict[str, Any]) -> list[dict[str, Any]]:
    """executeJob's per-task rows; ``v1-real``: exactly the fields of the published real answer."""
    rows = []
    for entry in run.get("tasks", []):
        status = _task_word(entry["status"])
        start = entry.get("start_time") or run.get("start_time")
        if not v.dialect.v1_history_ids:
            detail = "Completed" if status == "SUCCESS" else status.capitalize()
            rows.append(
                {
                    "Result": entry.get("error"),
                    "Status": status,
                    "JobName": run.get("job_name") or run.get("transformation_name"),
                    "RunStartDate": start,
                    "Detail": detail,
                    "Query": entry["query"],
                }
            )
            continue
        rows.append(
            {
                "JobName": run.get("job_name"),
                "Query": entry["query"],
                "Table": entry.get("table"),
                "Status": status,
                "Result": entry.get("error"),
                "Detail": f"{entry.get('records_affected') or 0} records affected.",
                "RecordsAffected": entry.get("records_affected") or 0,
                "RunStartDate": start,
                "HistoryId": run["id"],
            }
        )
    return rows


async def _execute(
    request: Request, v: V1, body: dict[str, Any], task_ids: list[str] | None
) -> dict[str, Any]:
    kind, job = _target_of(v, body)
    wait = _flag(_arg(body, "WaitForResults"), True) and not _flag(_arg(body, "Async"), False)
    run = v.service.execute(kind, job["id"], {"tasks": task_ids} if task_ids else None)
    context = f"{base_url(request)}/api.rsc/$metadata#Collection(CData.executeJobOutput)"
    if not wait:
        row = {"JobName": job["name"], "JobId": v.ids.target(job["id"]), "Status": "Running"}
        if v.dialect.v1_history_ids:
            row["HistoryId"] = run["id"]
        start = run.get("start_time") or run.get("queued_time")
        return {"@odata.context": context, "value": [{**row, "RunStartDate": start}]}
    timeout = float(_arg(body, "Timeout") or 0)
    return {"@odata.context": context, "value": _task_results(v, await _wait(v.service, run["id"], timeout))}


def _query_ids(service: Service, job: dict[str, Any], body: dict[str, Any]) -> list[str]:
    tasks = service.store.list("task", job["id"])
    wanted = [(k, val) for k, val in body.items() if re.fullmatch(r"(?i)query(#\d+)?", str(k))]
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


def _all_jobs_status(v: V1) -> dict[str, Any]:
    rows = []
    for job in v.core.store.list("job"):
        if not v.in_scope(job.get("workspace_id")):
            continue
        last = v.core.store.last("run", job["id"])
        row = {
            "JobName": job["name"],
            "JobId": v.ids.target(job["id"]),
            "Status": v.service.render("job", job)["status"],
            "LastRunId": last["id"] if last else None,
            "LastRunStatus": last["status"] if last else None,
            "LastRunStartDate": last.get("start_time") if last else None,
        }
        if not v.dialect.v1_history_ids:
            del row["LastRunId"]
        rows.append(row)
    return {"value": rows}


def _job_status(v: V1, body: dict[str, Any]) -> dict[str, Any]:
    if not _arg(body, "JobName", "JobId", "Job"):
        return _all_jobs_status(v)
    kind, job = _target_of(v, body)
    status = v.service.status(kind, job["id"])
    if not v.dialect.v1_status_rows:
        return _job_status_object(v, job, status)
    run = {
        "id": status["history_id"] or status["last_history_id"],
        "job_name": job["name"],
        "tasks": status["tasks"],
    }
    rows = _task_results(v, run) if run["id"] else []
    for row in rows:
        row["JobStatus"] = status["status"]
        if status["status"] != "Idle" and row["Status"] in ("QUEUED", "RUNNING"):
            row["Status"] = row["Status"].capitalize()
    return {"value": rows}


def _job_status_object(v: V1, job: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """``{Status, Queries, JobId, JobName}`` as CData's client reads it: no history id anywhere.

    ``Status`` is the current run's (``Queued``, ``Running``), else the last run's result, else ``Idle``.
    """
    current = status["status"]
    word = current if current != "Idle" else (status["last_status"] or "Idle")
    queries = [
        {
            "Query": entry["query"],
            "Status": _task_word(entry["status"]),
            "Detail": entry.get("error") or f"{entry.get('records_affected') or 0} records affected.",
            "RecordsAffected": entry.get("records_affected") or 0,
        }
        for entry in status["tasks"]
    ]
    return {"JobId": v.ids.target(job["id"]), "JobName": job["name"], "Status": word, "Queries": queries}


def _job_log_runs(v: V1, body: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The job and its runs whose logs are asked for (``HistoryId`` only where ids are shown, ``Days``)."""
    _, job = _target_of(v, body)
    runs = v.core.store.list("run", job["id"])
    history_id = _arg(body, "HistoryId", "RunId") if v.dialect.v1_history_ids else None
    if history_id:
        runs = [r for r in runs if r["id"] == str(history_id)]
        if not runs:
            raise not_found("History", str(history_id))
    days = _arg(body, "Days")
    if days:
        since = now().timestamp() - float(days) * 86400
        runs = [r for r in runs if (parse_iso(r.get("start_time")) or now()).timestamp() >= since]
    return job, runs


def _job_logs(v: V1, body: dict[str, Any]) -> Response:
    job, runs = _job_log_runs(v, body)
    texts = []
    for run in runs:
        path = v.core.engine.log_dir / str(run.get("log_file"))
        texts.append((run, path.read_text(encoding="utf-8") if path.exists() else ""))
    if not v.dialect.v1_log_rows:  # real servers answer the log text itself
        return PlainTextResponse("".join(text for _, text in texts))
    rows = [
        {"JobName": job["name"], "HistoryId": run["id"], "LogFile": run.get("log_file"), "Log": text}
        for run, text in texts
    ]
    return JSONResponse({"value": rows})


def _cancel(v: V1, body: dict[str, Any]) -> dict[str, Any]:
    kind, job = _target_of(v, body)
    try:
        run = v.service.cancel(kind, job["id"])
    except ApiError as idle:
        if idle.status == 409 and not v.dialect.v1_history_ids:
            raise ApiError(409, "Conflict", "Job not running") from None
        raise
    row = {"JobName": job["name"], "HistoryId": run["id"], "Status": "Cancelling"}
    if not v.dialect.v1_history_ids:
        del row["HistoryId"]
    return {"value": [row]}


def _connection(v: V1, body: dict[str, Any]) -> dict[str, Any]:
    ref = _arg(body, "ConnectionName", "Connection", "Name", "ConnectionId")
    if not ref:
        raise bad_request("ConnectionName", "the field is required")
    return find_entity(v, "connections", str(ref))


async def run_action(request: Request, action: str, body: dict[str, Any]) -> Response:
    """Dispatch a v1 action by (case-insensitive) name."""
    v = view(request, body)
    service = v.service
    if action == "executejob":
        return JSONResponse(await _execute(request, v, body, None))
    if action == "executequery":
        _, job = _target_of(v, body)
        return JSONResponse(await _execute(request, v, body, _query_ids(service, job, body)))
    if action == "canceljob":
        return JSONResponse(_cancel(v, body))
    if action == "getjobstatus":
        return JSONResponse(_job_status(v, body))
    if action in ("getjoblog", "getjoblogs", "getlogs"):
        return _job_logs(v, body)
    return JSONResponse(_connection_or_user_action(v, action, body))


def _connection_or_user_action(v: V1, action: str, body: dict[str, Any]) -> dict[str, Any]:
    service = v.service
    if action == "testconnection":
        doc = _connection(v, body)
        result = service.test_connection(doc["id"])
        return {"value": [{"ConnectionName": doc["name"], "Status": "Success", "Message": result["message"]}]}
    if action == "getconnectiontables":
        doc = _connection(v, body)
        tables = service.tables(doc["id"])
        return {"value": [{"TableName": t["name"], "Schema": t["schema"], "Type": t["type"]} for t in tables]}
    if action == "getconnectiontablecolumns":
        doc = _connection(v, body)
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
        return {"value": [user_row(v, service.create_user(v1_body(u))) for u in users]}
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
        return await run_action(request, name, await read_body(request))
    if name not in ENTITY_SETS:
        raise ApiError(404, "NotFound", f"No such entity set or action: {match.group('name')}")
    return await _entity_request(request, name, match.group("key"), bool(match.group("count")))


async def _entity_request(request: Request, name: str, key: str | None, count: bool) -> Response:
    method = request.method
    body = await read_body(request, method in ("POST", "PUT", "PATCH"))
    v = view(request, body if method == "POST" else None)
    if key is None:
        if method == "GET":
            check_options(v, name, request.query_params, count)
            rows = _rows(v, name)
            if count:
                return PlainTextResponse(str(_count(request, v, name, rows)))
            return JSONResponse(collection(request, v, name, rows))
        if method == "POST":
            doc = create_entity(v, name, body)
            return JSONResponse(_with_context(request, name, _RENDERERS[name](v, doc)), status_code=201)
        raise ApiError(405, "MethodNotAllowed", f"Method {method} needs an entity key: {name}('Name').")
    doc = find_entity(v, name, parse_key(key))
    if method == "GET":
        return JSONResponse(_with_context(request, name, _RENDERERS[name](v, doc)))
    if method in ("PUT", "PATCH"):
        updated = update_entity(v, name, doc, body)
        return JSONResponse(_with_context(request, name, _RENDERERS[name](v, updated)))
    if method == "DELETE":
        delete_entity(v, name, doc)
        return Response(status_code=204)
    raise ApiError(405, "MethodNotAllowed", f"Method {method} is not allowed on {request.url.path}.")


def _count(request: Request, v: V1, name: str, rows: list[dict[str, Any]]) -> int:
    """``set/$count``: the rows that ``$filter`` keeps (every row without it)."""
    if request.query_params.get("$filter"):
        fields = list(rows[0].keys()) if rows else list(_sample_fields(name))
        predicate = compile_filter(request.query_params["$filter"], fields)
        return sum(1 for r in rows if predicate(r))
    return len(rows)


def _with_context(request: Request, name: str, row: dict[str, Any]) -> dict[str, Any]:
    return {"@odata.context": f"{base_url(request)}/api.rsc/$metadata#{name}/$entity", **row}
