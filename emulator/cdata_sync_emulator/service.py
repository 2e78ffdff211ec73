"""The resource layer shared by API v2 and v1: validation, normalisation, rendering, busy checks.

Documents are stored in the shape they are answered in (lower snake case); computed fields
(``status``, ``last_run_id``, current connection names) are added when rendering.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

from . import connectors
from .cron import CronError, parse_cron
from .engine import KINDS, Engine
from .store import Store
from .util import (
    ApiError,
    as_bool,
    as_int,
    bad_request,
    conflict,
    new_uuid,
    normalize,
    not_found,
    now_iso,
)

DEFAULT_WORKSPACE = "default"
JOB_TYPES = ("Standard", "SyncAll", "LoadFolder", "ChangeDataCapture", "ReverseETL")
EVENT_TRIGGERS = ("on_start", "on_success", "on_failure", "on_complete")
TASK_ID_START = 870237973789151200

# setting -> (converter, default)
JOB_SETTINGS: dict[str, tuple[str, Any]] = {
    "send_email": ("bool", False),
    "email_to": ("str", None),
    "email_subject": ("str", None),
    "email_error_only": ("bool", False),
    "enable_parallel_processing": ("bool", False),
    "worker_pool": ("int", 4),
    "verbosity": ("any", 1),
    "destination_schema": ("str", None),
    "table_name_prefix": ("str", None),
    "use_gmt_datetime": ("bool", False),
    "history_mode": ("bool", False),
    "truncate_table_data": ("bool", False),
    "drop_table": ("bool", False),
    "auto_truncate_strings": ("bool", False),
    "continue_on_error": ("bool", False),
    "deletion_behavior": ("str", "HardDelete"),
    "alter_schema": ("bool", True),
    "replicate_interval": ("any", None),
    "replicate_interval_unit": ("str", None),
    "replicate_start_date": ("str", None),
    "batch_size": ("int", 1000),
    "pre_job_event": ("any", None),
    "post_job_event": ("any", None),
    "cdc_engine_settings": ("any", None),
    "labels": ("list", []),
    "pipeline_id": ("str", None),
}
TRANSFORMATION_SETTINGS = {k: JOB_SETTINGS[k] for k in ("continue_on_error", "labels", "verbosity")}
TRANSFORMATION_TYPES = ("SQL", "DBT", "DBT-Cloud")
#: Objects of a transformation body whose own keys come in any spelling too (``After_Job``, ``Send_Email``).
TRANSFORMATION_NESTED = ("schedule", "trigger", "alerts")
SECRET_PROPERTY = re.compile(r"pass|secret|token|key", re.I)


def _convert(kind: str, value: Any, field: str) -> Any:
    if value is None:
        return None
    if kind == "bool":
        return as_bool(value, field)
    if kind == "int":
        return as_int(value, field, minimum=1)
    if kind == "str":
        return str(value)
    if kind == "list":
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise bad_request(field, "expected a list")
        return value
    return value


def _name(body: dict[str, Any], required: bool) -> str | None:
    name = body.get("name")
    if name is None:
        if required:
            raise bad_request("name", "the field is required")
        return None
    if not isinstance(name, str) or not name.strip():
        raise bad_request("name", "must be a non-empty string")
    return name.strip()


def _schedule(body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    """Merge ``schedule`` (and a top-level ``cron``/``enabled``) into the current schedule."""
    schedule = dict(current or {"enabled": False, "cron": ""})
    given = body.get("schedule")
    if given is not None and not isinstance(given, dict):
        raise bad_request("schedule", "expected an object {enabled, cron}")
    merged = {**(given or {})}
    if "cron" in body:
        merged["cron"] = body["cron"]
    if "enabled" in merged:
        schedule["enabled"] = as_bool(merged["enabled"], "schedule.enabled")
    if "cron" in merged:
        schedule["cron"] = str(merged["cron"] or "")
    if schedule["enabled"] and schedule["cron"]:
        try:
            parse_cron(schedule["cron"])
        except CronError as exc:
            raise bad_request("schedule.cron", str(exc)) from None
    return schedule


def _transformation_type(value: Any) -> str:
    """``sql``, ``dbt``, ``dbt cloud``... -> ``SQL``, ``DBT``, ``DBT-Cloud`` (None: SQL)."""
    if value is None:
        return "SQL"
    key = re.sub(r"[\s_-]+", "", str(value)).lower()
    for known in TRANSFORMATION_TYPES:
        if key == known.replace("-", "").lower():
            return known
    raise bad_request("type", f"expected one of {', '.join(TRANSFORMATION_TYPES)}")


def _trigger_type(value: Any) -> str:
    """``None``/``Scheduled``/``AfterJob`` in any spelling (``after_job``, ``After Job``, ``schedule``)."""
    key = re.sub(r"[\s_-]+", "", str(value if value is not None else "None")).lower()
    aliases = {"none": "None", "manual": "None", "scheduled": "Scheduled", "schedule": "Scheduled"}
    aliases |= {"afterjob": "AfterJob"}
    if key not in aliases:
        raise bad_request("trigger.type", "expected one of None, Scheduled, AfterJob")
    return aliases[key]


def _table_of_sql(query: str) -> str | None:
    match = re.search(
        r"\b(?:CREATE\s+TABLE(?:\s+IF\s+NOT\s+EXISTS)?|INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+([\[\]\"\w.]+)",
        query,
        re.I,
    )
    return connectors.unquote_ident(match.group(1)) if match else None


class Service:
    """CRUD for every resource kind, with the engine's busy checks."""

    def __init__(self, store: Store, engine: Engine, data_dir: Path, token: str) -> None:
        self.store = store
        self.engine = engine
        self.data_dir = data_dir
        self.token = token
        if store.get("workspace", DEFAULT_WORKSPACE) is None:
            store.put("workspace", {"id": DEFAULT_WORKSPACE, "name": "Default", "created_time": now_iso()})

    # ----- auth --------------------------------------------------------------------------------
    def token_valid(self, token: str | None) -> bool:
        """The server token or a token minted for an active user."""
        if not token:
            return False
        if secrets.compare_digest(token, self.token):
            return True
        minted = self.store.get("token", token)
        if minted is None:
            return False
        user = self.store.get("user", minted["user_id"])
        return bool(user and user.get("active", True))

    # ----- workspaces --------------------------------------------------------------------------
    def workspace(self, ws_id: str) -> dict[str, Any]:
        """One workspace or 404."""
        doc = self.store.get("workspace", ws_id)
        if doc is None:
            raise not_found("Workspace", ws_id)
        return doc

    def list_workspaces(self) -> list[dict[str, Any]]:
        """All workspaces."""
        return self.store.list("workspace")

    def create_workspace(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Create a workspace (name required)."""
        body = normalize(raw)
        name = _name(body, True)
        doc = {"id": new_uuid(), "name": name, "created_time": now_iso()}
        return self.store.put("workspace", doc)

    def update_workspace(self, ws_id: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Rename a workspace."""
        doc = self.workspace(ws_id)
        name = _name(normalize(raw), True)
        doc["name"] = name
        return self.store.put("workspace", doc)

    def delete_workspace(self, ws_id: str) -> None:
        """Delete an empty workspace (not ``default``)."""
        self.workspace(ws_id)
        if ws_id == DEFAULT_WORKSPACE:
            raise ApiError(400, "BadRequest", "The default workspace cannot be deleted.")
        for kind in ("connection", "job", "transformation", "pipeline"):
            if self.store.list(kind, ws_id):
                raise conflict(f"Workspace '{ws_id}' is not empty: delete its {kind}s first.")
        self.store.delete("workspace", ws_id)

    # ----- connections -------------------------------------------------------------------------
    def connection(self, conn_id: str) -> dict[str, Any]:
        """One connection document or 404."""
        doc = self.store.get("connection", conn_id)
        if doc is None:
            raise not_found("Connection", conn_id)
        return doc

    def find_connection(self, ref: Any, field: str, ws_id: str | None = None) -> dict[str, Any]:
        """Resolve ``{"id","name"}``, an id or a name to a connection; 400 naming ``field`` otherwise."""
        if isinstance(ref, dict):
            ref_n = normalize(ref)
            ref = ref_n.get("id") or ref_n.get("name")
        if not ref:
            raise bad_request(field, "a connection id or name is required")
        doc = self.store.get("connection", str(ref))
        if doc is None:
            candidates = [c for c in self.store.list("connection") if c["name"].lower() == str(ref).lower()]
            in_ws = [c for c in candidates if c["workspace_id"] == ws_id]
            doc = (in_ws or candidates)[0] if candidates else None
        if doc is None:
            raise bad_request(field, f"connection '{ref}' does not exist")
        return doc

    def render_connection(self, doc: dict[str, Any], reveal: bool = False) -> dict[str, Any]:
        """Connection with secret-looking properties masked."""
        out = dict(doc)
        props = dict(doc.get("properties") or {})
        if not reveal:
            props = {k: ("********" if SECRET_PROPERTY.search(k) and v else v) for k, v in props.items()}
        out["properties"] = props
        return out

    def list_connections(self, ws_id: str) -> list[dict[str, Any]]:
        """Connections of a workspace."""
        self.workspace(ws_id)
        return [self.render_connection(c) for c in self.store.list("connection", ws_id)]

    def _unique(self, kind: str, name: str, ws_id: str, ident: str | None = None) -> None:
        for doc in self.store.list(kind, ws_id):
            if doc["name"].lower() == name.lower() and doc["id"] != ident:
                raise ApiError(
                    409, "AlreadyExists", f"A {kind} named '{name}' already exists in workspace '{ws_id}'."
                )

    def create_connection(self, ws_id: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Create a connection: name, connector, properties, settings, labels."""
        self.workspace(ws_id)
        body = normalize(raw)
        name = _name(body, True)
        assert name is not None
        self._unique("connection", name, ws_id)
        connector = body.get("connector") or body.get("provider_name") or body.get("type")
        if not connector or not isinstance(connector, str):
            raise bad_request(
                "connector", f"the field is required (emulated: {', '.join(connectors.CONNECTORS)})"
            )
        props = body.get("properties") or {}
        if isinstance(props, str):
            props = parse_connection_string(props)
        if not isinstance(props, dict):
            raise bad_request("properties", "expected an object")
        settings = body.get("settings") or {}
        if not isinstance(settings, dict):
            raise bad_request("settings", "expected an object")
        stamp = now_iso()
        doc = {
            "id": new_uuid(),
            "name": name,
            "workspace_id": ws_id,
            "connector": connector,
            "connector_version": body.get("connector_version"),
            "properties": props,
            "settings": normalize(settings),
            "labels": _convert("list", body.get("labels") or [], "labels"),
            "created_time": stamp,
            "modified_time": stamp,
        }
        self.store.put("connection", doc, parent=ws_id)
        return self.render_connection(doc)

    def connection_busy(self, conn_id: str) -> str | None:
        """Name of a queued/running job/transformation/pipeline using the connection."""
        for handle in self.engine.active_handles():
            if conn_id in self.engine.connections_of(handle.kind, handle.target):
                return f"{KINDS[handle.kind][3].lower()} '{handle.target['name']}'"
        return None

    def update_connection(self, conn_id: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Update with merge semantics for properties and settings; 409 while in use by a run."""
        doc = self.connection(conn_id)
        busy = self.connection_busy(conn_id)
        if busy:
            raise conflict(f"Connection '{doc['name']}' is in use by the running {busy}.")
        body = normalize(raw)
        name = _name(body, False)
        if name:
            self._unique("connection", name, doc["workspace_id"], conn_id)
            doc["name"] = name
        props = body.get("properties")
        if isinstance(props, str):
            props = parse_connection_string(props)
        if props is not None:
            if not isinstance(props, dict):
                raise bad_request("properties", "expected an object")
            doc["properties"] = {**doc.get("properties", {}), **props}
        settings = body.get("settings")
        if settings is not None:
            if not isinstance(settings, dict):
                raise bad_request("settings", "expected an object")
            doc["settings"] = {**doc.get("settings", {}), **normalize(settings)}
        for key in ("connector", "connector_version"):
            if body.get(key):
                doc[key] = body[key]
        if "labels" in body:
            doc["labels"] = _convert("list", body["labels"], "labels")
        doc["modified_time"] = now_iso()
        self.store.put("connection", doc, parent=doc["workspace_id"])
        return self.render_connection(doc)

    def delete_connection(self, conn_id: str) -> None:
        """Delete; 409 while a running job uses it."""
        doc = self.connection(conn_id)
        busy = self.connection_busy(conn_id)
        if busy:
            raise conflict(f"Connection '{doc['name']}' is in use by the running {busy}.")
        self.store.delete("connection", conn_id)

    def open(self, conn_id: str) -> connectors.Connector:
        """A connector for a connection id."""
        try:
            return connectors.open_connector(self.connection(conn_id), self.data_dir)
        except connectors.ConnectorError as exc:
            raise ApiError(400, "ConnectionError", str(exc)) from None

    def test_connection(self, conn_id: str) -> dict[str, Any]:
        """Really open the store; 400 ``ConnectionTestFailed`` when it fails."""
        doc = self.connection(conn_id)
        as_source = not any(
            (j.get("destination_connection") or {}).get("id") == conn_id for j in self.store.list("job")
        ) or any((j.get("source_connection") or {}).get("id") == conn_id for j in self.store.list("job"))
        connector = self.open(conn_id)
        try:
            message = connector.test(as_source)
        except connectors.ConnectorError as exc:
            raise ApiError(400, "ConnectionTestFailed", f"Connection '{doc['name']}' failed: {exc}") from None
        finally:
            connector.close()
        return {"id": conn_id, "name": doc["name"], "success": True, "message": message}

    def tables(
        self, conn_id: str, schema: str | None = None, types: str | None = None
    ) -> list[dict[str, Any]]:
        """Tables of a connection, filtered by schema and table types."""
        connector = self.open(conn_id)
        try:
            found = connector.tables()
        except connectors.ConnectorError as exc:
            raise ApiError(400, "ConnectionError", str(exc)) from None
        finally:
            connector.close()
        if schema:
            found = [t for t in found if str(t.get("schema") or "").lower() == schema.lower()]
        if types:
            wanted = {t.strip().upper() for t in types.split(",") if t.strip()}
            found = [t for t in found if t["type"] in wanted]
        return found

    def columns(self, conn_id: str, table: str) -> list[dict[str, Any]]:
        """Columns of a table; 404 when the table does not exist."""
        connector = self.open(conn_id)
        name = table.split(".")[-1] if "." in table and not table.endswith(".csv") else table
        try:
            return [c.as_dict() for c in connector.columns(name)]
        except connectors.ConnectorError as exc:
            raise ApiError(404, "NotFound", str(exc)) from None
        finally:
            connector.close()

    def reset_credentials(self, conn_id: str) -> dict[str, Any]:
        """Forget secret-looking properties."""
        doc = self.connection(conn_id)
        doc["properties"] = {
            k: v for k, v in (doc.get("properties") or {}).items() if not SECRET_PROPERTY.search(k)
        }
        self.store.put("connection", doc, parent=doc["workspace_id"])
        return {"id": conn_id, "success": True, "message": "Credentials were reset."}

    def logs(self, conn_id: str) -> list[dict[str, Any]]:
        """Run logs that involve the connection."""
        self.connection(conn_id)
        out = []
        for entry in self.store.list("log", conn_id):
            path = self.engine.log_dir / entry["name"]
            if path.exists():
                stat = path.stat()
                out.append({"name": entry["name"], "size": stat.st_size, "modified": _mtime(stat.st_mtime)})
        return out

    def log_text(self, conn_id: str, log_name: str) -> str:
        """The text of one of the connection's logs."""
        self.connection(conn_id)
        if self.store.get("log", f"{conn_id}:{log_name}") is None:
            raise not_found("Log", log_name)
        path = self.engine.log_dir / log_name
        if not path.exists():
            raise not_found("Log", log_name)
        return path.read_text(encoding="utf-8")

    # ----- jobs and transformations --------------------------------------------------------------
    def target(self, kind: str, ident: str) -> dict[str, Any]:
        """A job/transformation/pipeline document or 404."""
        doc = self.store.get(kind, ident)
        if doc is None:
            raise not_found(KINDS[kind][3], ident)
        return doc

    def find_target(self, kind: str, ref: str, ws_id: str | None = None) -> dict[str, Any]:
        """By id or (case-insensitive) name; only in workspace ``ws_id`` when it is given."""
        doc = self.store.get(kind, ref)
        if doc is not None and ws_id is not None and doc.get("workspace_id") != ws_id:
            doc = None
        if doc is None:
            candidates = self.store.list(kind, ws_id) if ws_id is not None else self.store.list(kind)
            doc = next((d for d in candidates if d["name"].lower() == str(ref).lower()), None)
        if doc is None:
            raise not_found(KINDS[kind][3], ref)
        return doc

    def render(self, kind: str, doc: dict[str, Any]) -> dict[str, Any]:
        """Add status, last run id and current connection names."""
        out = dict(doc)
        handle = self.engine.active(doc["id"])
        out["status"] = "Running" if handle else "Idle"
        last = self.store.last("run", doc["id"])
        out["last_run_id"] = last["id"] if last else None
        for key in ("source_connection", "destination_connection"):
            ref = out.get(key)
            if isinstance(ref, dict) and ref.get("id"):
                conn = self.store.get("connection", ref["id"])
                out[key] = {"id": ref["id"], "name": conn["name"] if conn else ref.get("name")}
        if kind == "transformation" and doc.get("connection_id"):
            conn = self.store.get("connection", doc["connection_id"])
            out["connection"] = {"id": doc["connection_id"], "name": conn["name"] if conn else None}
            out["destination_connection"] = out["connection"]
        return out

    def list_targets(self, kind: str, ws_id: str) -> list[dict[str, Any]]:
        """Jobs/transformations/pipelines of a workspace."""
        self.workspace(ws_id)
        return [self.render(kind, d) for d in self.store.list(kind, ws_id)]

    def _busy(self, kind: str, doc: dict[str, Any], action: str) -> None:
        handle = self.engine.active(doc["id"])
        if handle is not None:
            raise conflict(
                f"Cannot {action} {KINDS[kind][3].lower()} '{doc['name']}': "
                f"run {handle.run_id} is {handle.run['status'].lower()}."
            )

    def _apply_settings(
        self, doc: dict[str, Any], body: dict[str, Any], spec: dict[str, tuple[str, Any]], create: bool
    ) -> None:
        for key, (conv, default) in spec.items():
            if key in body:
                doc[key] = _convert(conv, body[key], key)
            elif create:
                doc[key] = default

    def create_job(self, ws_id: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Create a job (name, type, connections, schedule, settings, optional ``queries``)."""
        self.workspace(ws_id)
        body = normalize(raw)
        name = _name(body, True)
        assert name is not None
        self._unique("job", name, ws_id)
        doc: dict[str, Any] = {
            "id": new_uuid(),
            "name": name,
            "type": self._job_type(body.get("type")),
            "workspace_id": ws_id,
        }
        for side in ("source", "destination"):
            ref = (
                body.get(f"{side}_connection")
                or body.get(f"{side}_connection_id")
                or body.get(f"{side}_connection_name")
            )
            ref = ref or body.get(side)
            conn = self.find_connection(ref, f"{side}_connection", ws_id)
            doc[f"{side}_connection"] = {"id": conn["id"], "name": conn["name"]}
        doc["schedule"] = _schedule(body, None)
        self._apply_settings(doc, body, JOB_SETTINGS, create=True)
        stamp = now_iso()
        doc["created_time"] = doc["modified_time"] = stamp
        queries = self._queries(body)
        self.store.put("job", doc, parent=ws_id)
        for query, active in queries:
            self.add_task("job", doc["id"], {"query": query, "is_active": active})
        return self.render("job", doc)

    def _job_type(self, value: Any) -> str:
        if value is None:
            return "Standard"
        for known in JOB_TYPES:
            if str(value).replace(" ", "").lower() == known.lower():
                return known
        raise bad_request("type", f"expected one of {', '.join(JOB_TYPES)}")

    def _queries(self, body: dict[str, Any]) -> list[tuple[str, bool]]:
        raw = body.get("queries") or body.get("tasks") or []
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list):
            raise bad_request("queries", "expected a list of queries")
        out = []
        for item in raw:
            if isinstance(item, dict):
                item_n = normalize(item)
                out.append(
                    (str(item_n.get("query") or ""), as_bool(item_n.get("is_active", True), "is_active"))
                )
            else:
                out.append((str(item), True))
        for query, _ in out:
            if not query.strip():
                raise bad_request("queries", "a query is empty")
        return out

    def update_job(self, job_id: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Update a job's name, schedule, connections and settings; 409 while running."""
        doc = self.target("job", job_id)
        self._busy("job", doc, "update")
        body = normalize(raw)
        name = _name(body, False)
        if name:
            self._unique("job", name, doc["workspace_id"], job_id)
            doc["name"] = name
        if "type" in body:
            doc["type"] = self._job_type(body["type"])
        for side in ("source", "destination"):
            ref = body.get(f"{side}_connection") or body.get(f"{side}_connection_id")
            if ref:
                conn = self.find_connection(ref, f"{side}_connection", doc["workspace_id"])
                doc[f"{side}_connection"] = {"id": conn["id"], "name": conn["name"]}
        doc["schedule"] = _schedule(body, doc.get("schedule"))
        self._apply_settings(doc, body, JOB_SETTINGS, create=False)
        doc["modified_time"] = now_iso()
        self.store.put("job", doc, parent=doc["workspace_id"])
        return self.render("job", doc)

    def delete_target(self, kind: str, ident: str, cascade: bool = True) -> None:
        """Delete a job/transformation/pipeline with its children; 409 while running."""
        doc = self.target(kind, ident)
        self._busy(kind, doc, "delete")
        if kind == "pipeline" and cascade:
            for step in self.store.list("step", ident):
                if step["type"] not in KINDS:
                    continue  # an event step: its event is deleted with the pipeline's children
                child = self.store.get(step["type"], step["target_id"])
                if child is not None and self.engine.active(child["id"]) is None:
                    self.delete_target(step["type"], child["id"])
        for child_kind in ("task", "ttask", "step", "event"):
            self.store.delete_children(child_kind, ident)
        self.store.delete(kind, ident)

    def create_transformation(self, ws_id: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Create a transformation on one connection, with optional ``queries``.

        Takes the documented v2 body too: ``Name``, ``Type`` (SQL, DBT, DBT-Cloud),
        ``Destination-Connection`` ``{id, name}``, ``Schedule``, ``Trigger`` ``{Type, After_Job,
        After_Job_Tasks, Schedule_Cron}`` and ``Alerts`` ``{Send_Email, Email_To}``, in any key spelling.
        """
        self.workspace(ws_id)
        body = normalize(raw, TRANSFORMATION_NESTED)
        name = _name(body, True)
        assert name is not None
        self._unique("transformation", name, ws_id)
        ref = body.get("connection") or body.get("connection_id") or body.get("connection_name")
        ref = ref or body.get("destination_connection") or body.get("destination_connection_id")
        conn = self.find_connection(ref, "destination_connection", ws_id)
        doc: dict[str, Any] = {
            "id": new_uuid(),
            "name": name,
            "workspace_id": ws_id,
            "connection_id": conn["id"],
            "type": _transformation_type(body.get("type")),
            "trigger": {"type": "None", "after_job": None, "after_job_tasks": [], "schedule_cron": None},
            "alerts": {"send_email": False, "email_to": None},
        }
        doc["schedule"] = _schedule(body, None)
        self._transformation_extras(doc, body, ws_id)
        self._apply_settings(doc, body, TRANSFORMATION_SETTINGS, create=True)
        doc["created_time"] = doc["modified_time"] = now_iso()
        queries = self._queries(body)
        self.store.put("transformation", doc, parent=ws_id)
        for query, active in queries:
            self.add_task("transformation", doc["id"], {"query": query, "is_active": active})
        return self.render("transformation", doc)

    def update_transformation(self, ident: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Update name, connection, schedule and settings; 409 while running."""
        doc = self.target("transformation", ident)
        self._busy("transformation", doc, "update")
        body = normalize(raw, TRANSFORMATION_NESTED)
        name = _name(body, False)
        if name:
            self._unique("transformation", name, doc["workspace_id"], ident)
            doc["name"] = name
        ref = body.get("connection") or body.get("connection_id")
        ref = ref or body.get("destination_connection") or body.get("destination_connection_id")
        if ref:
            doc["connection_id"] = self.find_connection(ref, "connection_id", doc["workspace_id"])["id"]
        if "type" in body:
            doc["type"] = _transformation_type(body["type"])
        doc["schedule"] = _schedule(body, doc.get("schedule"))
        self._transformation_extras(doc, body, doc["workspace_id"])
        self._apply_settings(doc, body, TRANSFORMATION_SETTINGS, create=False)
        doc["modified_time"] = now_iso()
        self.store.put("transformation", doc, parent=doc["workspace_id"])
        return self.render("transformation", doc)

    def _transformation_extras(self, doc: dict[str, Any], body: dict[str, Any], ws_id: str) -> None:
        """Apply ``trigger`` and ``alerts``; a scheduled trigger's cron becomes the schedule."""
        trigger = body.get("trigger")
        if trigger is not None:
            if not isinstance(trigger, dict):
                raise bad_request("trigger", "expected {type, after_job, after_job_tasks, schedule_cron}")
            doc["trigger"] = self._merged_trigger(doc.get("trigger") or {}, trigger, ws_id)
            if doc["trigger"]["type"] == "Scheduled":
                cron = doc["trigger"]["schedule_cron"]
                doc["schedule"] = _schedule({"schedule": {"enabled": True, "cron": cron}}, None)
        alerts = body.get("alerts")
        if alerts is not None:
            if not isinstance(alerts, dict):
                raise bad_request("alerts", "expected an object {send_email, email_to}")
            merged = dict(doc.get("alerts") or {})
            if "send_email" in alerts:
                merged["send_email"] = as_bool(alerts["send_email"], "alerts.send_email")
            if "email_to" in alerts:
                merged["email_to"] = alerts["email_to"]
            doc["alerts"] = merged

    def _merged_trigger(self, current: dict[str, Any], given: dict[str, Any], ws_id: str) -> dict[str, Any]:
        """``current`` updated with a ``Trigger`` object; 400 naming what a trigger type lacks."""
        merged = dict(current)
        merged["type"] = _trigger_type(given.get("type", current.get("type")))
        if "schedule_cron" in given:
            merged["schedule_cron"] = str(given["schedule_cron"] or "") or None
        if "after_job" in given:
            merged["after_job"] = self._after_job(given["after_job"], ws_id)
        if "after_job_tasks" in given:
            merged["after_job_tasks"] = _convert("list", given["after_job_tasks"] or [], "after_job_tasks")
        if merged["type"] == "AfterJob" and not merged.get("after_job"):
            raise bad_request("trigger.after_job", "an AfterJob trigger needs the job (id or name)")
        if merged["type"] == "Scheduled" and not merged.get("schedule_cron"):
            raise bad_request("trigger.schedule_cron", "a Scheduled trigger needs a cron expression")
        return merged

    def _after_job(self, ref: Any, ws_id: str) -> str | None:
        if ref in (None, ""):
            return None
        if isinstance(ref, dict):
            ref_n = normalize(ref)
            ref = ref_n.get("id") or ref_n.get("name")
        try:
            return str(self.find_target("job", str(ref), ws_id)["id"])
        except ApiError:
            raise bad_request("trigger.after_job", f"job '{ref}' does not exist") from None

    # ----- tasks (jobs and transformations) ---------------------------------------------------------
    def _child_kind(self, kind: str) -> str:
        return KINDS[kind][0]

    def tasks(self, kind: str, owner_id: str) -> list[dict[str, Any]]:
        """Tasks ordered by index."""
        self.target(kind, owner_id)
        return self.store.list(self._child_kind(kind), owner_id)

    def task(self, kind: str, owner_id: str, task_id: str) -> dict[str, Any]:
        """One task or 404."""
        self.target(kind, owner_id)
        doc = self.store.get(self._child_kind(kind), task_id)
        if doc is None or self.store.parent_of(self._child_kind(kind), task_id) != owner_id:
            raise not_found("Task", task_id)
        return doc

    def _reindex(self, child_kind: str, owner_id: str, items: list[dict[str, Any]]) -> None:
        for index, item in enumerate(items):
            item["index"] = index
            self.store.put(child_kind, item, parent=owner_id, ord_=index)

    def _task_doc(self, kind: str, owner_id: str, body: dict[str, Any], doc: dict[str, Any]) -> None:
        if "query" in body:
            query = body["query"]
            if not isinstance(query, str) or not query.strip():
                raise bad_request("query", "must be a non-empty string")
            if kind == "job":
                try:
                    doc["table"] = connectors.parse_replicate(query).destination
                except connectors.ConnectorError as exc:
                    raise bad_request("query", str(exc)) from None
            else:
                doc["table"] = _table_of_sql(query)
            doc["query"] = query.strip()
        if "is_active" in body:
            doc["is_active"] = as_bool(body["is_active"], "is_active")

    def add_task(self, kind: str, owner_id: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Append (or insert at ``index``) a task."""
        owner = self.target(kind, owner_id)
        self._busy(kind, owner, "change the tasks of")
        body = normalize(raw)
        if "query" not in body:
            raise bad_request("query", "the field is required")
        child_kind = self._child_kind(kind)
        doc: dict[str, Any] = {
            "id": str(self.store.next_number("task_id", TASK_ID_START)),
            KINDS[kind][1]: owner_id,
        }
        doc["is_active"] = True
        self._task_doc(kind, owner_id, body, doc)
        with self.store.lock:
            items = self.store.list(child_kind, owner_id)
            position = len(items)
            if body.get("index") is not None:
                position = min(max(as_int(body["index"], "index"), 0), len(items))
            items.insert(position, doc)
            self._reindex(child_kind, owner_id, items)
        return doc

    def update_task(self, kind: str, owner_id: str, task_id: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Change query/is_active (and position with ``index``); 409 while the owner runs."""
        owner = self.target(kind, owner_id)
        doc = self.task(kind, owner_id, task_id)
        self._busy(kind, owner, "update a task of")
        body = normalize(raw)
        self._task_doc(kind, owner_id, body, doc)
        self.store.put(self._child_kind(kind), doc, parent=owner_id, ord_=doc["index"])
        if body.get("index") is not None:
            return self.move_task(kind, owner_id, task_id, {"to_index": body["index"]})
        return doc

    def delete_task(self, kind: str, owner_id: str, task_id: str) -> None:
        """Delete a task; 409 while the owner runs."""
        owner = self.target(kind, owner_id)
        self.task(kind, owner_id, task_id)
        self._busy(kind, owner, "delete a task of")
        child_kind = self._child_kind(kind)
        with self.store.lock:
            self.store.delete(child_kind, task_id)
            self._reindex(child_kind, owner_id, self.store.list(child_kind, owner_id))

    def move_task(self, kind: str, owner_id: str, task_id: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Move a task (or step) from ``from_index`` to ``to_index`` (0-based)."""
        owner = self.target(kind, owner_id)
        doc = self.task(kind, owner_id, task_id)
        self._busy(kind, owner, "reorder")
        body = normalize(raw)
        if body.get("to_index") is None:
            raise bad_request("to_index", "the field is required")
        child_kind = self._child_kind(kind)
        with self.store.lock:
            items = self.store.list(child_kind, owner_id)
            to_index = as_int(body["to_index"], "to_index")
            if not 0 <= to_index < len(items):
                raise bad_request("to_index", f"must be between 0 and {len(items) - 1}")
            if (
                body.get("from_index") is not None
                and as_int(body["from_index"], "from_index") != doc["index"]
            ):
                raise bad_request("from_index", f"the item is at index {doc['index']}")
            items = [i for i in items if i["id"] != task_id]
            items.insert(to_index, doc)
            self._reindex(child_kind, owner_id, items)
        return self.task(kind, owner_id, task_id)

    # ----- pipelines ---------------------------------------------------------------------------
    def create_pipeline(self, ws_id: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Create a pipeline, with optional ``steps`` and ``events``."""
        self.workspace(ws_id)
        body = normalize(raw)
        name = _name(body, True)
        assert name is not None
        self._unique("pipeline", name, ws_id)
        doc: dict[str, Any] = {"id": new_uuid(), "name": name, "workspace_id": ws_id}
        doc["schedule"] = _schedule(body, None)
        doc["labels"] = _convert("list", body.get("labels") or [], "labels")
        doc["created_time"] = doc["modified_time"] = now_iso()
        steps, events = body.get("steps") or [], body.get("events") or []
        if not isinstance(steps, list):
            raise bad_request("steps", "expected a list")
        if not isinstance(events, list):
            raise bad_request("events", "expected a list")
        for step in steps:
            step_n = normalize(step) if isinstance(step, dict) else {"job_id": step}
            if str(step_n.get("type") or "").lower() != "event" and not step_n.get("event_id"):
                self._step_target(step_n)
        self.store.put("pipeline", doc, parent=ws_id)
        for event in events:  # first, so that event steps can name them
            self.add_event(doc["id"], event)
        for step in steps:
            self.add_step(doc["id"], step if isinstance(step, dict) else {"job_id": step})
        return self.render("pipeline", doc)

    def update_pipeline(self, ident: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Update name, schedule and labels; 409 while running."""
        doc = self.target("pipeline", ident)
        self._busy("pipeline", doc, "update")
        body = normalize(raw)
        name = _name(body, False)
        if name:
            self._unique("pipeline", name, doc["workspace_id"], ident)
            doc["name"] = name
        doc["schedule"] = _schedule(body, doc.get("schedule"))
        if "labels" in body:
            doc["labels"] = _convert("list", body["labels"], "labels")
        doc["modified_time"] = now_iso()
        self.store.put("pipeline", doc, parent=doc["workspace_id"])
        return self.render("pipeline", doc)

    def _step_target(
        self, body: dict[str, Any], pipeline_id: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        if body.get("job_id"):
            return "job", self.find_target("job", str(body["job_id"]))
        if body.get("transformation_id"):
            return "transformation", self.find_target("transformation", str(body["transformation_id"]))
        kind = str(body.get("type") or ("event" if body.get("event_id") else "")).lower()
        ref = body.get("target_id") or body.get("event_id") or body.get("id") or body.get("target_name")
        if kind not in ("job", "transformation", "event"):
            raise bad_request(
                "type", "expected 'job', 'transformation' or 'event' (or give job_id / transformation_id)"
            )
        if not ref:
            raise bad_request("target_id", "the field is required")
        if kind == "event":
            return kind, self._step_event(str(ref), pipeline_id)
        try:
            return kind, self.find_target(kind, str(ref))
        except ApiError:
            raise bad_request("target_id", f"{kind} '{ref}' does not exist") from None

    def _step_event(self, ref: str, pipeline_id: str | None) -> dict[str, Any]:
        """An event of the pipeline, by id or name, for an event step."""
        events = self.store.list("event", pipeline_id) if pipeline_id else []
        found = next((e for e in events if ref in (e["id"], e.get("name"))), None)
        if found is None:
            raise bad_request("target_id", f"event '{ref}' is not an event of this pipeline")
        return found

    def add_step(self, pipeline_id: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Append (or insert at ``index``) a step running a job or transformation."""
        owner = self.target("pipeline", pipeline_id)
        self._busy("pipeline", owner, "change the steps of")
        body = normalize(raw)
        kind, target = self._step_target(body, pipeline_id)
        doc: dict[str, Any] = {
            "id": str(self.store.next_number("task_id", TASK_ID_START)),
            "pipeline_id": pipeline_id,
            "type": kind,
            "target_id": target["id"],
            "name": target["name"],
        }
        with self.store.lock:
            items = self.store.list("step", pipeline_id)
            position = len(items)
            if body.get("index") is not None:
                position = min(max(as_int(body["index"], "index"), 0), len(items))
            items.insert(position, doc)
            self._reindex("step", pipeline_id, items)
        if kind == "job" and not target.get("pipeline_id"):
            target["pipeline_id"] = pipeline_id
            self.store.put("job", target, parent=target["workspace_id"])
        return doc

    def update_step(self, pipeline_id: str, step_id: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Point a step at another job/transformation and/or move it."""
        owner = self.target("pipeline", pipeline_id)
        doc = self.task("pipeline", pipeline_id, step_id)
        self._busy("pipeline", owner, "update a step of")
        body = normalize(raw)
        if any(body.get(k) for k in ("job_id", "transformation_id", "target_id", "event_id", "type")):
            if "type" not in body and "target_id" in body:
                body["type"] = doc["type"]
            kind, target = self._step_target(body, pipeline_id)
            doc.update(type=kind, target_id=target["id"], name=target["name"])
            self.store.put("step", doc, parent=pipeline_id, ord_=doc["index"])
        if body.get("index") is not None:
            return self.move_task("pipeline", pipeline_id, step_id, {"to_index": body["index"]})
        return doc

    # ----- events ------------------------------------------------------------------------------
    def events(self, pipeline_id: str) -> list[dict[str, Any]]:
        """Events of a pipeline."""
        self.target("pipeline", pipeline_id)
        return self.store.list("event", pipeline_id)

    def event(self, pipeline_id: str, event_id: str) -> dict[str, Any]:
        """One event or 404."""
        self.target("pipeline", pipeline_id)
        doc = self.store.get("event", event_id)
        if doc is None or doc.get("pipeline_id") != pipeline_id:
            raise not_found("Event", event_id)
        return doc

    def _event_fields(self, doc: dict[str, Any], body: dict[str, Any]) -> None:
        if "trigger" in body and body["trigger"] is None:
            doc["trigger"] = None  # an event that only runs as a step
        elif body.get("trigger") or body.get("type"):
            trigger = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", str(body.get("trigger") or body.get("type")))
            trigger = trigger.lower().replace("-", "_").replace(" ", "_")
            trigger = trigger if trigger.startswith("on_") else f"on_{trigger}"
            if trigger not in EVENT_TRIGGERS:
                raise bad_request("trigger", f"expected one of {', '.join(EVENT_TRIGGERS)}")
            doc["trigger"] = trigger
        if "action" in body:
            doc["action"] = str(body["action"] or "log").lower()
        if "message" in body:
            doc["message"] = str(body["message"] or "")
        if "script" in body:
            if body["script"] is not None and not isinstance(body["script"], str):
                raise bad_request("script", "expected the script's text")
            doc["script"] = body["script"] or ""
        if "labels" in body:
            doc["labels"] = _convert("list", body["labels"] or [], "labels")
        name = _name(body, False)
        if name:
            doc["name"] = name

    def add_event(self, pipeline_id: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Create an event: the documented ``{name, script, labels}`` (name required).

        An event runs where a pipeline step of type ``event`` names it; the emulator's own extension
        ``trigger`` (on_start, on_success, on_failure, on_complete) with ``action``/``message`` also fires
        it around the pipeline's run.
        """
        self.target("pipeline", pipeline_id)
        body = normalize(raw)
        _name(body, True)
        doc: dict[str, Any] = {
            "id": str(self.store.next_number("task_id", TASK_ID_START)),
            "pipeline_id": pipeline_id,
            "name": "Event",
            "script": "",
            "labels": [],
            "trigger": None,
            "action": "log",
            "message": "",
        }
        self._event_fields(doc, body)
        return self.store.put("event", doc, parent=pipeline_id)

    def update_event(self, pipeline_id: str, event_id: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Change name/trigger/action/message."""
        doc = self.event(pipeline_id, event_id)
        self._event_fields(doc, normalize(raw))
        return self.store.put("event", doc, parent=pipeline_id)

    def delete_event(self, pipeline_id: str, event_id: str) -> None:
        """Delete an event."""
        self.event(pipeline_id, event_id)
        self.store.delete("event", event_id)

    # ----- runs --------------------------------------------------------------------------------
    def execute(
        self, kind: str, ident: str, raw: dict[str, Any] | None, trigger: str = "api"
    ) -> dict[str, Any]:
        """Start a run (optionally of chosen task ids); 409 when one is queued/running."""
        self.target(kind, ident)
        body = normalize(raw or {})
        task_ids = body.get("tasks") or body.get("task_ids")
        if task_ids is not None and not isinstance(task_ids, list):
            raise bad_request("tasks", "expected a list of task ids")
        ids = [str(t.get("id") if isinstance(t, dict) else t) for t in task_ids or []]
        try:
            return self.public_run(self.engine.start(kind, ident, ids or None, trigger=trigger))
        except ApiError as exc:
            if exc.status == 404 and ids:
                raise bad_request("tasks", exc.message) from None
            raise

    def cancel(self, kind: str, ident: str) -> dict[str, Any]:
        """Cancel the active run; 409 when nothing is running."""
        doc = self.target(kind, ident)
        run = self.engine.cancel(ident)
        if run is None:
            raise conflict(f"{KINDS[kind][3]} '{doc['name']}' is not running.")
        return {**self.public_run(run), "message": "Cancellation requested."}

    @staticmethod
    def public_run(run: dict[str, Any]) -> dict[str, Any]:
        """A run record as answered."""
        return dict(run)

    def history(self, kind: str, ident: str) -> list[dict[str, Any]]:
        """Runs, oldest first."""
        self.target(kind, ident)
        return [self.public_run(r) for r in self.store.list("run", ident)]

    def history_item(self, kind: str, ident: str, history_id: str) -> dict[str, Any]:
        """One run of this job/transformation/pipeline or 404."""
        self.target(kind, ident)
        run = self.store.get("run", history_id)
        if run is None or run.get(KINDS[kind][1]) != ident:
            raise not_found("History", history_id)
        return self.public_run(run)

    def status(self, kind: str, ident: str) -> dict[str, Any]:
        """Current (else Idle) status with the per-task states of the current or last run."""
        doc = self.target(kind, ident)
        _, id_key, name_key, _ = KINDS[kind]
        handle = self.engine.active(ident)
        last = self.store.last("run", ident)
        current = dict(handle.run) if handle else None
        shown = current or last or {}
        return {
            id_key: ident,
            name_key: doc["name"],
            "status": current["status"] if current else "Idle",
            "history_id": current["id"] if current else None,
            "last_history_id": last["id"] if last else None,
            "last_status": last["status"] if last else None,
            "start_time": shown.get("start_time"),
            "end_time": shown.get("end_time"),
            "records_affected": shown.get("records_affected"),
            "error": shown.get("error"),
            "steps" if kind == "pipeline" else "tasks": shown.get(
                "steps" if kind == "pipeline" else "tasks", []
            ),
        }

    def task_runs(self, kind: str, ident: str, task_id: str) -> list[dict[str, Any]]:
        """Per-task run records (oldest first)."""
        self.task(kind, ident, task_id)
        out = []
        for run in self.store.list("run", ident):
            for entry in run.get("tasks", []):
                if entry["task_id"] == task_id:
                    out.append(
                        {**entry, "history_id": run["id"], KINDS[kind][1]: ident, "run_status": run["status"]}
                    )
        return out

    def last_runs(self, kind: str, ident: str) -> list[dict[str, Any]]:
        """For each task, its last run record (or a never-run entry)."""
        out = []
        for task in self.tasks(kind, ident):
            runs = self.task_runs(kind, ident, task["id"])
            if runs:
                out.append(runs[-1])
            else:
                out.append(
                    {
                        "task_id": task["id"],
                        "table": task.get("table"),
                        "query": task["query"],
                        "status": "NeverRun",
                        "history_id": None,
                        "records_affected": 0,
                        "start_time": None,
                        "end_time": None,
                        "error": None,
                    }
                )
        return out

    # ----- users -------------------------------------------------------------------------------
    def user(self, ref: str) -> dict[str, Any]:
        """A user by id or name, or 404."""
        doc = self.store.get("user", ref)
        if doc is None:
            doc = next((u for u in self.store.list("user") if u["name"].lower() == str(ref).lower()), None)
        if doc is None:
            raise not_found("User", ref)
        return doc

    def create_user(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Create a user (name, role, active, email)."""
        body = normalize(raw)
        if "name" not in body and body.get("user"):
            body["name"] = body["user"]
        name = _name(body, True)
        assert name is not None
        if any(u["name"].lower() == name.lower() for u in self.store.list("user")):
            raise ApiError(409, "AlreadyExists", f"A user named '{name}' already exists.")
        doc = {
            "id": new_uuid(),
            "name": name,
            "role": str(body.get("role") or body.get("roles") or "Standard"),
            "active": as_bool(body.get("active", True), "active"),
            "email": body.get("email"),
            "federation_id": body.get("federation_id"),
            "created_time": now_iso(),
        }
        return self.store.put("user", doc)

    def update_user(self, ref: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Change name, role, active, email."""
        doc = self.user(ref)
        body = normalize(raw)
        name = _name(body, False)
        if name:
            doc["name"] = name
        for key in ("role", "email", "federation_id"):
            if key in body:
                doc[key] = body[key]
        if "active" in body:
            doc["active"] = as_bool(body["active"], "active")
        return self.store.put("user", doc)

    def delete_user(self, ref: str) -> None:
        """Delete a user and the tokens minted for it."""
        doc = self.user(ref)
        self.store.delete("user", doc["id"])
        self.store.delete_children("token", doc["id"])

    def generate_token(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Mint an auth token for a user named by ``user``/``user_id``/``name``."""
        body = normalize(raw)
        ref = body.get("user") or body.get("user_id") or body.get("name") or body.get("id")
        if not ref:
            raise bad_request("user", "the field is required (a user name or id)")
        try:
            doc = self.user(str(ref))
        except ApiError:
            raise bad_request("user", f"user '{ref}' does not exist") from None
        token = secrets.token_urlsafe(24)
        self.store.put(
            "token", {"id": token, "user_id": doc["id"], "created_time": now_iso()}, parent=doc["id"]
        )
        return {"token": token, "user": doc["name"], "user_id": doc["id"]}


def parse_connection_string(text: str) -> dict[str, str]:
    """``Database=a.db;Timeout=5`` -> properties."""
    props: dict[str, str] = {}
    for part in text.split(";"):
        if "=" in part:
            key, value = part.split("=", 1)
            props[key.strip()] = value.strip()
    return props


def _mtime(stamp: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(stamp, tz=UTC).isoformat(timespec="milliseconds")
