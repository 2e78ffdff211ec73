"""The CData Sync API v1 (OData 4.0, name keys), behind the same run-control interface as v2.

Entity sets: jobs, connections, tasks, transformations, history, users; actions: executeJob, executeQuery,
cancelJob, getJobStatus, getJobLog, testConnection, getConnectionTables, getConnectionTableColumns,
createUsers. Bodies are PascalCase. Workspaces and pipelines do not exist in v1: asking for them raises
:class:`CDataSyncUnsupportedError` naming API v2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from airflow_provider_cdata_sync.client import odata
from airflow_provider_cdata_sync.client.base import ApiBase, resolve
from airflow_provider_cdata_sync.client.errors import (
    CDataSyncError,
    CDataSyncNotFoundError,
    CDataSyncUnsupportedError,
)
from airflow_provider_cdata_sync.client.models import (
    Column,
    Connection,
    Job,
    Run,
    RunStatus,
    SyncModel,
    Table,
    Task,
    TaskRun,
    TestResult,
    Transformation,
    User,
)
from airflow_provider_cdata_sync.client.runner import operation
from airflow_provider_cdata_sync.client.runs import (
    RunLog,
    StartOnce,
    Target,
    check_kind,
    newest,
    runs_started_since,
)
from airflow_provider_cdata_sync.client.status import RunState
from airflow_provider_cdata_sync.client.transport import ApiRequest, Call, find_message, parse_json

V2_ONLY = "needs the CData Sync API v2 (Sync 26.x): set the connection extra api_version to v2"


def pascal(key: str) -> str:
    """``source_connection`` -> ``SourceConnection`` (PascalCase body keys)."""
    return "".join(part[:1].upper() + part[1:] for part in key.split("_"))


def pascal_body(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A PascalCase body without the fields left out."""
    return {
        pascal(key) if key[:1].islower() else key: value for key, value in fields.items() if value is not None
    }


def flag(value: bool) -> str:
    """v1 actions take booleans as the strings "true"/"false"."""
    return "true" if value else "false"


class V1Api(ApiBase):
    """The v1 OData API: entity sets and actions."""

    api_version = "v1"

    # --------------------------------------------------------------- generic
    def _list(self, entity_set: str, model: type[Any], **query: Any) -> Call[list[Any]]:
        params = {f"${key}": value for key, value in query.items() if value is not None}
        return (yield from self._many(ApiRequest("GET", entity_set, params=params or None), model))

    def _action(
        self, name: str, body: Mapping[str, Any], *, idempotent: bool = False
    ) -> Call[list[dict[str, Any]]]:
        """POST an action; its answer as a list of rows (``value``), whatever the envelope."""
        answer = yield from self._json(ApiRequest("POST", name, json=dict(body), idempotent=idempotent))
        if isinstance(answer, dict) and isinstance(answer.get("value"), list):
            return [row for row in answer["value"] if isinstance(row, dict)]
        if isinstance(answer, list):
            return [row for row in answer if isinstance(row, dict)]
        return [answer] if isinstance(answer, dict) else []

    # --------------------------------------------------------------- entity sets
    @operation
    def list_jobs(self, workspace: str | None = None) -> Call[list[Job]]:
        """All jobs (v1 has no workspaces: only the default one is accepted)."""
        self._check_workspace(workspace)
        return (yield from self._list("jobs", Job))

    @operation
    def get_job(self, job: str) -> Call[Job]:
        """One job by name."""
        return (yield from self._one(ApiRequest("GET", odata.entity_path("jobs", job)), Job))

    @operation
    def create_job(self, name: str, **fields: Any) -> Call[Job]:
        """Create a job (fields such as Source, Destination, Queries, in any case)."""
        body = pascal_body({"JobName": name, **fields})
        return (yield from self._one(ApiRequest("POST", "jobs", json=body), Job))

    @operation
    def update_job(self, job: str, **fields: Any) -> Call[Any]:
        """Update a job."""
        return (
            yield from self._json(ApiRequest("PUT", odata.entity_path("jobs", job), json=pascal_body(fields)))
        )

    @operation
    def delete_job(self, job: str) -> Call[None]:
        """Delete a job."""
        yield from self._json(ApiRequest("DELETE", odata.entity_path("jobs", job)))

    @operation
    def list_connections(self, workspace: str | None = None) -> Call[list[Connection]]:
        """All connections."""
        self._check_workspace(workspace)
        return (yield from self._list("connections", Connection))

    @operation
    def get_connection(self, connection: str) -> Call[Connection]:
        """One connection by name."""
        return (
            yield from self._one(ApiRequest("GET", odata.entity_path("connections", connection)), Connection)
        )

    @operation
    def create_connection(
        self, name: str, provider_name: str, connection_string: str, **fields: Any
    ) -> Call[Connection]:
        """Create a connection."""
        body = pascal_body(
            {"Name": name, "ProviderName": provider_name, "ConnectionString": connection_string, **fields}
        )
        return (yield from self._one(ApiRequest("POST", "connections", json=body), Connection))

    @operation
    def update_connection(self, connection: str, **fields: Any) -> Call[Any]:
        """Update a connection."""
        path = odata.entity_path("connections", connection)
        return (yield from self._json(ApiRequest("PUT", path, json=pascal_body(fields))))

    @operation
    def delete_connection(self, connection: str) -> Call[None]:
        """Delete a connection."""
        yield from self._json(ApiRequest("DELETE", odata.entity_path("connections", connection)))

    @operation
    def list_tasks(self, job: str | None = None) -> Call[list[Task]]:
        """Tasks, of one job (by name) or of all."""
        filter_ = odata.eq("JobName", job) if job is not None else None
        return (yield from self._list("tasks", Task, filter=filter_, orderby="Index asc"))

    @operation
    def create_task(self, job: str, query: str, **fields: Any) -> Call[Task]:
        """Add a task to a job."""
        body = pascal_body({"JobName": job, "Query": query, **fields})
        return (yield from self._one(ApiRequest("POST", "tasks", json=body), Task))

    @operation
    def update_task(self, task_id: str, **fields: Any) -> Call[Any]:
        """Update a task (by task id)."""
        return (
            yield from self._json(
                ApiRequest("PUT", odata.entity_path("tasks", task_id), json=pascal_body(fields))
            )
        )

    @operation
    def delete_task(self, task_id: str) -> Call[None]:
        """Delete a task (by task id)."""
        yield from self._json(ApiRequest("DELETE", odata.entity_path("tasks", task_id)))

    @operation
    def list_transformations(self, workspace: str | None = None) -> Call[list[Transformation]]:
        """All transformations."""
        self._check_workspace(workspace)
        return (yield from self._list("transformations", Transformation))

    @operation
    def get_transformation(self, transformation: str) -> Call[Transformation]:
        """One transformation by name."""
        path = odata.entity_path("transformations", transformation)
        return (yield from self._one(ApiRequest("GET", path), Transformation))

    @operation
    def create_transformation(self, name: str, **fields: Any) -> Call[Transformation]:
        """Create a transformation."""
        body = pascal_body({"TransformationName": name, **fields})
        return (yield from self._one(ApiRequest("POST", "transformations", json=body), Transformation))

    @operation
    def update_transformation(self, transformation: str, **fields: Any) -> Call[Any]:
        """Update a transformation."""
        path = odata.entity_path("transformations", transformation)
        return (yield from self._json(ApiRequest("PUT", path, json=pascal_body(fields))))

    @operation
    def delete_transformation(self, transformation: str) -> Call[None]:
        """Delete a transformation."""
        yield from self._json(ApiRequest("DELETE", odata.entity_path("transformations", transformation)))

    @operation
    def list_users(self) -> Call[list[User]]:
        """All users."""
        return (yield from self._list("users", User))

    @operation
    def get_user(self, user: str) -> Call[User]:
        """One user by name."""
        return (yield from self._one(ApiRequest("GET", odata.entity_path("users", user)), User))

    @operation
    def create_user(self, user: str, password: str, roles: str | None = None, **fields: Any) -> Call[User]:
        """Create a user."""
        body = pascal_body({"User": user, "Password": password, "Roles": roles, **fields})
        return (yield from self._one(ApiRequest("POST", "users", json=body), User))

    @operation
    def update_user(self, user: str, **fields: Any) -> Call[Any]:
        """Update a user."""
        return (
            yield from self._json(
                ApiRequest("PUT", odata.entity_path("users", user), json=pascal_body(fields))
            )
        )

    @operation
    def delete_user(self, user: str) -> Call[None]:
        """Delete a user."""
        yield from self._json(ApiRequest("DELETE", odata.entity_path("users", user)))

    @operation
    def create_users(self, users: Sequence[Mapping[str, Any]]) -> Call[list[User]]:
        """Create several users at once (``createUsers``)."""
        rows = yield from self._action("createUsers", {"Users": [pascal_body(dict(user)) for user in users]})
        return [User.model_validate(row) for row in rows]

    @operation
    def list_history(
        self,
        *,
        filter: str | None = None,
        orderby: str | None = None,
        top: int | None = None,
        skip: int | None = None,
        select: str | None = None,
    ) -> Call[list[Run]]:
        """History records with OData options (build ``filter`` with :mod:`odata` helpers)."""
        return (
            yield from self._list(
                "history", Run, filter=filter, orderby=orderby, top=top, skip=skip, select=select
            )
        )

    # --------------------------------------------------------------- actions
    @operation
    def execute_job(
        self, job: str, *, wait_for_results: bool = False, timeout: int = 0
    ) -> Call[list[TaskRun]]:
        """``executeJob``; without waiting, answers at once (poll the status and history)."""
        body = {"JobName": job, "WaitForResults": flag(wait_for_results), "Timeout": str(timeout)}
        rows = yield from self._action("executeJob", body)
        return [TaskRun.model_validate(row) for row in rows]

    @operation
    def execute_query(
        self, job: str, queries: Sequence[str], *, wait_for_results: bool = False
    ) -> Call[list[TaskRun]]:
        """``executeQuery``: run some of a job's queries."""
        body: dict[str, Any] = {"JobName": job, "WaitForResults": flag(wait_for_results)}
        body.update({f"Query#{number}": query for number, query in enumerate(queries, start=1)})
        rows = yield from self._action("executeQuery", body)
        return [TaskRun.model_validate(row) for row in rows]

    @operation
    def cancel_job(self, job: str) -> Call[list[dict[str, Any]]]:
        """``cancelJob``."""
        return (yield from self._action("cancelJob", {"JobName": job}, idempotent=True))

    @operation
    def get_job_status(self, job: str | None = None) -> Call[list[dict[str, Any]]]:
        """``getJobStatus``: per query of one job, or every job when ``job`` is None."""
        body = {"JobName": job, "PushOnQuery": "true"} if job else {}
        return (yield from self._action("getJobStatus", body, idempotent=True))

    @operation
    def get_job_log(
        self, job: str, history_id: str | None = None, days: int | None = None
    ) -> Call[list[dict[str, Any]]]:
        """``getJobLog``: the logs of earlier runs."""
        body = pascal_body({"JobName": job, "HistoryId": history_id, "Days": days})
        return (yield from self._action("getJobLog", body, idempotent=True))

    @operation
    def test_connection(self, connection: str) -> Call[TestResult]:
        """``testConnection``: a failed test is returned, not raised."""
        request = ApiRequest(
            "POST",
            "testConnection",
            json={"ConnectionName": connection},
            idempotent=True,
            accept_statuses=frozenset({400, 422, 500}),
        )
        response: httpx.Response = yield request
        body = parse_json(request, response) if response.content else None
        message = find_message(body) if body is not None else ""
        if response.is_error:
            return TestResult(success=False, message=message or f"HTTP {response.status_code}")
        rows = body.get("value") if isinstance(body, dict) else None
        row = rows[0] if isinstance(rows, list) and rows else (body if isinstance(body, dict) else {})
        ok = str(row.get("Status", "success")).lower() in ("success", "true", "ok")
        return TestResult(success=ok, message=row.get("Message") or message or None)

    @operation
    def get_connection_tables(self, connection: str) -> Call[list[Table]]:
        """``getConnectionTables``."""
        rows = yield from self._action("getConnectionTables", {"ConnectionName": connection}, idempotent=True)
        return [Table.model_validate(row) for row in rows]

    @operation
    def get_connection_table_columns(self, connection: str, table: str) -> Call[list[Column]]:
        """``getConnectionTableColumns``."""
        body = {"ConnectionName": connection, "Table": table}
        rows = yield from self._action("getConnectionTableColumns", body, idempotent=True)
        return [Column.model_validate(row) for row in rows]

    # --------------------------------------------------------------- resolution
    def _check_workspace(self, workspace: str | None) -> None:
        if workspace not in (None, "", "default"):
            raise CDataSyncUnsupportedError(f"Workspaces ({workspace!r}) {V2_ONLY}.")

    @operation
    def resolve_job(self, job: str, workspace: str | None = None) -> Call[Job]:
        """Find a job by id or name (exact, then case-insensitive)."""
        jobs = yield from self.list_jobs.steps(workspace)
        return resolve("job", jobs, job, lambda j: j.id, lambda j: j.name)

    @operation
    def resolve_transformation(
        self, transformation: str, workspace: str | None = None
    ) -> Call[Transformation]:
        """Find a transformation by id or name."""
        items = yield from self.list_transformations.steps(workspace)
        return resolve("transformation", items, transformation, lambda t: t.id, lambda t: t.name)


class RunsV1Api(V1Api, StartOnce):
    """Run control over API v1, with the same operation names and results as :class:`RunsApi` (v2)."""

    @operation
    def resolve_target(self, kind: str, ref: str, workspace: str | None = None) -> Call[Target]:
        """Resolve a job or transformation (pipelines need v2)."""
        kind = check_kind(kind)
        if kind == "pipeline":
            raise CDataSyncUnsupportedError(f"Pipelines: this {V2_ONLY}.")
        found: SyncModel
        if kind == "job":
            found = yield from self.resolve_job.steps(ref, workspace)
        else:
            found = yield from self.resolve_transformation.steps(ref, workspace)
        name = str(getattr(found, "name"))  # noqa: B009 - both models have a name
        return Target(kind, str(getattr(found, "id", None) or name), name, workspace)

    @operation
    def resolve_tasks(self, target: Target, tasks: list[str]) -> Call[list[str]]:
        """The queries of the chosen tasks (by task id or table name): v1 runs them with ``executeQuery``."""
        if target.kind != "job":
            raise CDataSyncUnsupportedError(f"Only jobs run a chosen subset of tasks, not a {target.kind}.")
        known = yield from self.list_tasks.steps(target.name)
        found = [resolve("task", known, str(ref), lambda t: t.id, lambda t: t.table) for ref in tasks]
        return [str(task.query) for task in found]

    def _execute(self, target: Target, task_ids: list[str] | None) -> Call[Run]:
        """``executeJob`` (or ``executeQuery`` for chosen queries) without waiting for results."""
        if task_ids:
            rows = yield from self.execute_query.steps(target.name, task_ids)
        else:
            rows = yield from self.execute_job.steps(target.name)
        history_id = next((row.extra("history_id") for row in rows if row.extra("history_id")), None)
        if history_id is not None:
            return Run(id=str(history_id), status="Running", job_id=target.id, job_name=target.name)
        return Run(status="Running", job_name=target.name)

    @operation
    def get_status(self, target: Target) -> Call[RunStatus]:
        """``getJobStatus`` of the target, as a :class:`RunStatus`."""
        rows = yield from self.get_job_status.steps(target.name)
        tasks = [TaskRun.model_validate(row) for row in rows]
        words = [row.get("JobStatus") for row in rows if row.get("JobStatus")]
        if words:
            status = str(words[0])
        elif any(task.state.is_active for task in tasks):
            status = "Running"
        else:
            status = "Idle"
        history_id = next((str(row["HistoryId"]) for row in rows if row.get("HistoryId") is not None), None)
        active = RunStatus(status=status).state.is_active
        return RunStatus(
            status=status,
            history_id=history_id if active else None,
            last_history_id=history_id,
            tasks=tasks,
        )

    @operation
    def current_run(self, target: Target) -> Call[Run | None]:
        """The running run, or None when idle."""
        status = yield from self.get_status.steps(target)
        if not status.state.is_active:
            return None
        return Run(id=status.history_id, status=status.status, tasks=status.tasks, job_name=target.name)

    @operation
    def list_runs(self, target: Target) -> Call[list[Run]]:
        """The target's history, oldest first."""
        return (
            yield from self.list_history.steps(
                filter=odata.eq("JobName", target.name), orderby="RunStartDate asc"
            )
        )

    @operation
    def latest_run(self, target: Target) -> Call[Run | None]:
        """The most recent run."""
        runs = yield from self.list_runs.steps(target)
        return newest(runs)

    @operation
    def runs_since(self, target: Target, since: datetime) -> Call[list[Run]]:
        """Runs started at or after ``since`` (clock skew allowed), oldest first; the filter is escaped."""
        from airflow_provider_cdata_sync.client.runs import CLOCK_SKEW

        filter_ = odata.all_of(odata.eq("JobName", target.name), odata.ge("RunStartDate", since - CLOCK_SKEW))
        runs = yield from self.list_history.steps(filter=filter_, orderby="RunStartDate asc")
        return runs_started_since(runs, since)

    @operation
    def get_run(self, target: Target, run_id: str) -> Call[Run]:
        """One run from the history, with its per-task results when the status still describes it."""
        key: object = int(run_id) if str(run_id).isdigit() else str(run_id)
        runs = yield from self.list_history.steps(filter=odata.eq("Id", key))
        status = yield from self.get_status.steps(target)
        tasks = status.tasks if status.last_history_id == str(run_id) else []
        if not runs:
            if status.history_id == str(run_id):
                return Run(id=str(run_id), status=status.status, tasks=tasks, job_name=target.name)
            raise CDataSyncNotFoundError(
                404,
                f"No run {run_id} of {target.kind} {target.name!r}",
                method="GET",
                path="/api.rsc/history",
            )
        run = runs[0]
        if tasks and not run.tasks:
            run = run.model_copy(update={"tasks": tasks})
        return run

    @operation
    def cancel_run(self, target: Target) -> Call[bool]:
        """``cancelJob``."""
        yield from self.cancel_job.steps(target.name)
        return True

    @operation
    def fetch_run_log(
        self, target: Target, run: Run, tail_bytes: int | None = 1_000_000
    ) -> Call[RunLog | None]:
        """``getJobLog`` for this run; None when the server has none."""
        try:
            rows = yield from self.get_job_log.steps(target.name, run.id)
        except CDataSyncError:
            return None
        texts = [str(row.get("Log") or row.get("Content") or "") for row in rows]
        text = "\n".join(filter(None, texts))
        if not text:
            return None
        data = text.encode("utf-8")
        dropped = max(len(data) - tail_bytes, 0) if tail_bytes else 0
        return RunLog(
            data[dropped:].decode("utf-8", "replace"), dropped, f"getJobLog {target.name} run {run.id}"
        )


__all__ = ["RunState", "RunsV1Api", "V1Api"]
