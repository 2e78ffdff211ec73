"""Every CData Sync API v2 operation, each written once (see ``runner.operation``).

Paths follow the vendor documentation; where the documentation contradicts itself or is silent, the
client follows ``API-FACTS.md``: tables are listed with POST and fall back to GET on 405; a job is
fetched with ``GET /v2/jobs/{id}`` falling back to the workspace's job list on 404/405.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from airflow_provider_cdata_sync.client.base import (
    ApiBase,
    extract_items,
    page_url,
    parse_model,
    resolve,
    unwrap_one,
)
from airflow_provider_cdata_sync.client.errors import (
    CDataSyncConfigError,
    CDataSyncLookupError,
    CDataSyncResponseError,
)
from airflow_provider_cdata_sync.client.models import (
    Column,
    Connection,
    Job,
    LogFileInfo,
    Pipeline,
    PipelineEvent,
    PipelineStep,
    Run,
    RunStatus,
    Table,
    Task,
    TaskRun,
    TestResult,
    Transformation,
    User,
    Workspace,
    to_snake,
)
from airflow_provider_cdata_sync.client.runner import operation
from airflow_provider_cdata_sync.client.transport import ApiRequest, Call, find_message, parse_json

#: Documented job body parameters (create and update), in the lower snake case the client sends.
JOB_SETTINGS = frozenset(
    {
        "send_email",
        "email_to",
        "email_subject",
        "email_error_only",
        "enable_parallel_processing",
        "worker_pool",
        "verbosity",
        "destination_schema",
        "table_name_prefix",
        "use_gmt_datetime",
        "history_mode",
        "truncate_table_data",
        "drop_table",
        "auto_truncate_strings",
        "continue_on_error",
        "deletion_behavior",
        "alter_schema",
        "replicate_interval",
        "replicate_interval_unit",
        "replicate_start_date",
        "batch_size",
        "pre_job_event",
        "post_job_event",
        "cdc_engine_settings",
        "labels",
        "pipeline_id",
    }
)
JOB_TYPES = ("Standard", "SyncAll", "LoadFolder", "ChangeDataCapture", "ReverseETL")
_SETTING_ALIASES = {
    "emailerroronly": "email_error_only",
    "email_error": "email_error_only",
    "use_gmt_date_time": "use_gmt_datetime",  # the documented ``Use_GMT_DateTime`` splits at "DateTime"
}


def seg(value: object) -> str:
    """One URL path segment, quoted so a name or id can never change the path."""
    return quote(str(value), safe="")


def job_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise job settings given in any spelling; reject unknown ones with the list of known ones."""
    body: dict[str, Any] = {}
    for key, value in settings.items():
        name = to_snake(key)
        name = _SETTING_ALIASES.get(name, name)
        if name not in JOB_SETTINGS:
            raise CDataSyncConfigError(
                f"Unknown job setting {key!r}. Known settings: {', '.join(sorted(JOB_SETTINGS))}."
            )
        if value is not None:
            body[name] = value
    return body


def schedule_body(enabled: bool | None, cron: str | None) -> dict[str, Any] | None:
    """The ``schedule`` object, or None when neither part is given."""
    if enabled is None and cron is None:
        return None
    schedule: dict[str, Any] = {}
    if enabled is not None:
        schedule["enabled"] = enabled
    if cron is not None:
        schedule["cron"] = cron
    return schedule


def drop_none(body: Mapping[str, Any]) -> dict[str, Any]:
    """A request body without the parameters the caller did not give."""
    return {key: value for key, value in body.items() if value is not None}


class V2Api(ApiBase):
    """The CData Sync API v2 (Sync 26.x): workspaces, connections, jobs, transformations, pipelines, users."""

    # Tasks of jobs and of transformations share one shape under their owner; moves share one body.
    def _task_path(self, owner: str, owner_id: str, task_id: str | None = None, suffix: str = "") -> str:
        path = f"v2/{owner}/{seg(owner_id)}/tasks"
        if task_id is not None:
            path += f"/{seg(task_id)}"
        return path + suffix

    def _task_body(self, query: str | None, is_active: bool | None, index: int | None) -> dict[str, Any]:
        return drop_none({"query": query, "is_active": is_active, "index": index})

    def _move(self, path: str, from_index: int, to_index: int) -> Call[Any]:
        return (
            yield from self._json(
                ApiRequest("POST", path, json={"from_index": from_index, "to_index": to_index})
            )
        )

    # ----------------------------------------------------------------- workspaces
    @operation
    def list_workspaces(self) -> Call[list[Workspace]]:
        """List the workspaces the token's user can access."""
        return (yield from self._many(ApiRequest("GET", "v2/workspaces"), Workspace))

    @operation
    def get_workspace(self, workspace_id: str) -> Call[Workspace]:
        """Get one workspace."""
        return (yield from self._one(ApiRequest("GET", f"v2/workspaces/{seg(workspace_id)}"), Workspace))

    @operation
    def create_workspace(self, name: str) -> Call[Workspace]:
        """Create a workspace."""
        return (yield from self._one(ApiRequest("POST", "v2/workspaces", json={"name": name}), Workspace))

    @operation
    def rename_workspace(self, workspace_id: str, name: str) -> Call[Workspace]:
        """Change a workspace's name."""
        request = ApiRequest("PUT", f"v2/workspaces/{seg(workspace_id)}", json={"name": name})
        return (yield from self._one(request, Workspace))

    @operation
    def delete_workspace(self, workspace_id: str) -> Call[None]:
        """Delete a workspace."""
        yield from self._json(ApiRequest("DELETE", f"v2/workspaces/{seg(workspace_id)}"))

    @operation
    def resolve_workspace(self, workspace: str) -> Call[Workspace]:
        """Find a workspace by id or name (exact, then case-insensitive)."""
        workspaces = yield from self.list_workspaces.steps()
        return resolve("workspace", workspaces, workspace, lambda w: w.id, lambda w: w.name)

    # ---------------------------------------------------------------- connections
    @operation
    def list_connections(self, workspace: str | None = None) -> Call[list[Connection]]:
        """List the connections of a workspace (the configured one by default)."""
        path = f"v2/workspaces/{seg(self._workspace(workspace))}/connections"
        return (yield from self._many(ApiRequest("GET", path), Connection))

    @operation
    def get_connection(self, connection_id: str) -> Call[Connection]:
        """Get one connection."""
        return (yield from self._one(ApiRequest("GET", f"v2/connections/{seg(connection_id)}"), Connection))

    @operation
    def create_connection(
        self,
        name: str,
        connector: str,
        properties: Mapping[str, Any] | None = None,
        *,
        settings: Mapping[str, Any] | None = None,
        connector_version: str | None = None,
        labels: Sequence[str] | None = None,
        workspace: str | None = None,
    ) -> Call[Connection]:
        """Create a connection (``settings``: metadata_refresh_interval, logfile_verbosity, ...)."""
        body = drop_none(
            {
                "name": name,
                "connector": connector,
                "connector_version": connector_version,
                "properties": dict(properties or {}),
                "settings": {to_snake(k): v for k, v in (settings or {}).items()} or None,
                "labels": list(labels) if labels is not None else None,
            }
        )
        path = f"v2/workspaces/{seg(self._workspace(workspace))}/connections"
        return (yield from self._one(ApiRequest("POST", path, json=body), Connection))

    @operation
    def update_connection(
        self,
        connection_id: str,
        *,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        connector_version: str | None = None,
        labels: Sequence[str] | None = None,
    ) -> Call[Connection | None]:
        """Update a connection. Properties and settings are merged into the existing ones by the server."""
        body = drop_none(
            {
                "name": name,
                "properties": dict(properties) if properties is not None else None,
                "settings": {to_snake(k): v for k, v in settings.items()} if settings is not None else None,
                "connector_version": connector_version,
                "labels": list(labels) if labels is not None else None,
            }
        )
        request = ApiRequest("PUT", f"v2/connections/{seg(connection_id)}", json=body)
        answer = unwrap_one((yield from self._json(request)))
        # Any spelling of the name (``Name``, ``ConnectionName``) means the answer is the connection.
        named = isinstance(answer, dict) and any(
            to_snake(str(key)) in ("name", "connection_name") and value for key, value in answer.items()
        )
        return parse_model(request, Connection, answer) if named else None

    @operation
    def delete_connection(self, connection_id: str) -> Call[None]:
        """Delete a connection (the server refuses while a running job uses it)."""
        yield from self._json(ApiRequest("DELETE", f"v2/connections/{seg(connection_id)}"))

    @operation
    def test_connection(self, connection_id: str) -> Call[TestResult]:
        """Test a connection. A failed test is returned (``success=False``), not raised."""
        request = ApiRequest(
            "POST",
            f"v2/connections/{seg(connection_id)}/test",
            idempotent=True,
            accept_statuses=frozenset({400, 422, 500}),
        )
        response: httpx.Response = yield request
        body = parse_json(request, response) if response.content else None
        message = find_message(body) if body is not None else ""
        if response.is_error:
            return TestResult(success=False, message=message or f"HTTP {response.status_code}")
        if isinstance(body, dict):
            result = TestResult.model_validate(body)
            if result.message is None:
                result.message = message or None
            return result
        return TestResult(success=True, message=message or None)

    @operation
    def list_tables(
        self,
        connection_id: str,
        *,
        schema: str | None = None,
        include_table_types: Sequence[str] | str | None = None,
        reset_metadata: bool | None = None,
    ) -> Call[list[Table]]:
        """List a connection's tables, filtered by schema and table types (TABLE, VIEW, SYNONYM)."""
        types = (
            include_table_types
            if isinstance(include_table_types, str | None)
            else ",".join(include_table_types)
        )
        params = {"schema": schema, "include_table_types": types, "reset_metadata": reset_metadata}
        path = f"v2/connections/{seg(connection_id)}/tables"
        # The detailed page documents POST, the overview GET: send POST and fall back on 405.
        request = ApiRequest("POST", path, params=params, idempotent=True, accept_statuses=frozenset({405}))
        response: httpx.Response = yield request
        if response.status_code == 405:
            return (yield from self._many(ApiRequest("GET", path, params=params), Table))
        return (yield from self._many_from(request, response, Table))

    def _many_from(self, request: ApiRequest, response: httpx.Response, model: type[Any]) -> Call[list[Any]]:
        """Parse a list answer already received, then follow its paging."""

        body = parse_json(request, response)
        try:
            items, link = extract_items(body)
        except TypeError as exc:
            raise CDataSyncResponseError(
                str(exc), method=request.method, path=f"/api.rsc/{request.path}", body_excerpt=str(body)[:80]
            ) from exc
        results = [parse_model(request, model, unwrap_one(item)) for item in items]
        if link and items:
            absolute = page_url(self.config.api_root, link)  # links may be relative
            results.extend((yield from self._many(ApiRequest("GET", request.path, url=absolute), model)))
        return results

    @operation
    def list_columns(
        self, connection_id: str, table: str, *, reset_metadata: bool | None = None
    ) -> Call[list[Column]]:
        """List the columns of a table (include the schema when needed, e.g. ``dbo.Customer``)."""
        path = f"v2/connections/{seg(connection_id)}/tables/{seg(table)}/columns"
        request = ApiRequest("GET", path, params={"reset_metadata": reset_metadata})
        return (yield from self._many(request, Column))

    @operation
    def reset_metadata(self, connection_id: str) -> Call[Any]:
        """Reset a connection's cached metadata."""
        request = ApiRequest("POST", f"v2/connections/{seg(connection_id)}/reset-metadata", idempotent=True)
        return (yield from self._json(request))

    @operation
    def reset_credentials(self, connection_id: str) -> Call[Any]:
        """Reset the OAuth or stored credentials of a connection."""
        return (
            yield from self._json(
                ApiRequest("POST", f"v2/connections/{seg(connection_id)}/reset-credentials")
            )
        )

    @operation
    def list_connection_logs(self, connection_id: str) -> Call[list[LogFileInfo]]:
        """List the log files of a connection."""
        return (
            yield from self._many(ApiRequest("GET", f"v2/connections/{seg(connection_id)}/logs"), LogFileInfo)
        )

    @operation
    def download_connection_log(
        self, connection_id: str, log_name: str, *, tail_bytes: int | None = None
    ) -> Call[str]:
        """Download a connection log file as text; with ``tail_bytes``, only its end (bounded memory)."""
        path = f"v2/connections/{seg(connection_id)}/logs/{seg(log_name)}/download"
        return (yield from self._text(ApiRequest("POST", path, idempotent=True, tail_bytes=tail_bytes)))

    @operation
    def resolve_connection(self, connection: str, workspace: str | None = None) -> Call[Connection]:
        """Find a connection by id or name (exact, then case-insensitive)."""
        connections = yield from self.list_connections.steps(workspace)
        return resolve("connection", connections, connection, lambda c: c.id, lambda c: c.name)

    # ----------------------------------------------------------------------- jobs
    @operation
    def list_jobs(self, workspace: str | None = None) -> Call[list[Job]]:
        """List the jobs of a workspace."""
        path = f"v2/workspaces/{seg(self._workspace(workspace))}/jobs"
        return (yield from self._many(ApiRequest("GET", path), Job))

    @operation
    def get_job(self, job_id: str, workspace: str | None = None) -> Call[Job]:
        """Get one job by id. No retrieve-job endpoint is documented: falls back to the workspace's list."""
        request = ApiRequest("GET", f"v2/jobs/{seg(job_id)}", accept_statuses=frozenset({404, 405}))
        response: httpx.Response = yield request
        if not response.is_error:
            return parse_model(request, Job, unwrap_one(parse_json(request, response)))
        jobs = yield from self.list_jobs.steps(workspace)
        for job in jobs:
            if job.id == str(job_id):
                return job
        raise CDataSyncLookupError("job", str(job_id), [f"{job.name} (id {job.id})" for job in jobs])

    @operation
    def resolve_job(self, job: str, workspace: str | None = None) -> Call[Job]:
        """Find a job by id or name (exact, then case-insensitive); the error lists the jobs that exist."""
        jobs = yield from self.list_jobs.steps(workspace)
        return resolve("job", jobs, job, lambda j: j.id, lambda j: j.name)

    @operation
    def create_job(
        self,
        name: str,
        *,
        type: str = "Standard",
        source_connection: str | None = None,
        destination_connection: str | None = None,
        schedule_enabled: bool | None = None,
        cron: str | None = None,
        queries: Sequence[str] | None = None,
        workspace: str | None = None,
        **settings: Any,
    ) -> Call[Job]:
        """Create a job. Connections are given by id or name; ``settings`` take any documented job
        parameter (``continue_on_error``, ``worker_pool``, ``table_name_prefix``, ... in any spelling)."""
        if type not in JOB_TYPES:
            raise CDataSyncConfigError(f"Unknown job type {type!r}. Use one of: {', '.join(JOB_TYPES)}.")
        body: dict[str, Any] = {"name": name, "type": type}
        for side, ref in (("source", source_connection), ("destination", destination_connection)):
            if ref is not None:
                connection = yield from self.resolve_connection.steps(ref, workspace)
                body[f"{side}_connection_id"] = connection.id
        schedule = schedule_body(schedule_enabled, cron)
        if schedule is not None:
            body["schedule"] = schedule
        if queries is not None:
            body["queries"] = list(queries)
        body.update(job_settings(settings))
        path = f"v2/workspaces/{seg(self._workspace(workspace))}/jobs"
        return (yield from self._one(ApiRequest("POST", path, json=body), Job))

    @operation
    def update_job(
        self,
        job_id: str,
        *,
        name: str | None = None,
        schedule_enabled: bool | None = None,
        cron: str | None = None,
        **settings: Any,
    ) -> Call[Any]:
        """Update a job (the server refuses while it runs)."""
        body: dict[str, Any] = drop_none({"name": name, "schedule": schedule_body(schedule_enabled, cron)})
        body.update(job_settings(settings))
        return (yield from self._json(ApiRequest("PUT", f"v2/jobs/{seg(job_id)}", json=body)))

    @operation
    def delete_job(self, job_id: str) -> Call[None]:
        """Delete a job (the server refuses while it runs)."""
        yield from self._json(ApiRequest("DELETE", f"v2/jobs/{seg(job_id)}"))

    @operation
    def execute_job(self, job_id: str, tasks: Iterable[str] | None = None) -> Call[Run]:
        """Start a job run (optionally of some task ids); not retried once it may have reached the server."""
        body = {"tasks": [str(task) for task in tasks]} if tasks is not None else None
        return (yield from self._run_answer(ApiRequest("POST", f"v2/jobs/{seg(job_id)}/execute", json=body)))

    def _run_answer(self, request: ApiRequest) -> Call[Run]:
        body = yield from self._json(request)

        return parse_model(request, Run, unwrap_one(body) if isinstance(body, dict | list) else {})

    @operation
    def cancel_job(self, job_id: str) -> Call[Any]:
        """Cancel the running run of a job."""
        return (yield from self._json(ApiRequest("POST", f"v2/jobs/{seg(job_id)}/cancel", idempotent=True)))

    @operation
    def list_job_history(self, job_id: str) -> Call[list[Run]]:
        """All runs of a job (the order is the server's: it may be oldest first)."""
        return (yield from self._many(ApiRequest("GET", f"v2/jobs/{seg(job_id)}/history"), Run))

    @operation
    def get_job_history(self, job_id: str, history_id: str) -> Call[Run]:
        """One run of a job."""
        path = f"v2/jobs/{seg(job_id)}/history/{seg(history_id)}"
        return (yield from self._one(ApiRequest("GET", path), Run))

    @operation
    def get_job_status(self, job_id: str) -> Call[RunStatus]:
        """The job's current execution status."""
        return (yield from self._one(ApiRequest("GET", f"v2/jobs/{seg(job_id)}/status"), RunStatus))

    @operation
    def list_job_tasks(self, job_id: str) -> Call[list[Task]]:
        """The tasks of a job."""
        return (yield from self._many(ApiRequest("GET", self._task_path("jobs", job_id)), Task))

    @operation
    def get_job_task(self, job_id: str, task_id: str) -> Call[Task]:
        """One task of a job."""
        return (yield from self._one(ApiRequest("GET", self._task_path("jobs", job_id, task_id)), Task))

    @operation
    def add_job_task(
        self, job_id: str, query: str, *, is_active: bool = True, index: int | None = None
    ) -> Call[Task]:
        """Add a task (a query such as ``REPLICATE [Accounts]``) to a job."""
        request = ApiRequest(
            "POST", self._task_path("jobs", job_id), json=self._task_body(query, is_active, index)
        )
        return (yield from self._one(request, Task))

    @operation
    def update_job_task(
        self,
        job_id: str,
        task_id: str,
        *,
        query: str | None = None,
        is_active: bool | None = None,
        index: int | None = None,
    ) -> Call[Any]:
        """Update a task of a job."""
        body = self._task_body(query, is_active, index)
        return (yield from self._json(ApiRequest("PUT", self._task_path("jobs", job_id, task_id), json=body)))

    @operation
    def delete_job_task(self, job_id: str, task_id: str) -> Call[None]:
        """Delete a task of a job."""
        yield from self._json(ApiRequest("DELETE", self._task_path("jobs", job_id, task_id)))

    @operation
    def move_job_task(self, job_id: str, task_id: str, from_index: int, to_index: int) -> Call[Any]:
        """Move a task to another position in its job."""
        return (
            yield from self._move(self._task_path("jobs", job_id, task_id, "/move"), from_index, to_index)
        )

    @operation
    def get_job_tasks_last_run(self, job_id: str) -> Call[list[TaskRun]]:
        """The last run of every task of a job."""
        return (yield from self._many(ApiRequest("GET", f"v2/jobs/{seg(job_id)}/tasks/last-run"), TaskRun))

    @operation
    def list_job_task_history(self, job_id: str, task_id: str) -> Call[list[TaskRun]]:
        """The run history of one task."""
        path = f"v2/jobs/{seg(job_id)}/tasks/{seg(task_id)}/history"
        return (yield from self._many(ApiRequest("GET", path), TaskRun))

    @operation
    def resolve_job_tasks(self, job_id: str, tasks: Iterable[str]) -> Call[list[Task]]:
        """Find tasks of a job by id or by table name; the error lists the job's tasks."""
        known = yield from self.list_job_tasks.steps(job_id)
        return [resolve("task", known, str(ref), lambda t: t.id, lambda t: t.table) for ref in tasks]

    # -------------------------------------------------------------- transformations
    @operation
    def list_transformations(self, workspace: str | None = None) -> Call[list[Transformation]]:
        """List the transformations of a workspace."""
        path = f"v2/workspaces/{seg(self._workspace(workspace))}/transformations"
        return (yield from self._many(ApiRequest("GET", path), Transformation))

    @operation
    def get_transformation(self, transformation_id: str) -> Call[Transformation]:
        """Get one transformation."""
        path = f"v2/transformations/{seg(transformation_id)}"
        return (yield from self._one(ApiRequest("GET", path), Transformation))

    @operation
    def resolve_transformation(
        self, transformation: str, workspace: str | None = None
    ) -> Call[Transformation]:
        """Find a transformation by id or name."""
        items = yield from self.list_transformations.steps(workspace)
        return resolve("transformation", items, transformation, lambda t: t.id, lambda t: t.name)

    @operation
    def create_transformation(
        self,
        name: str,
        connection: str,
        *,
        queries: Sequence[str] | None = None,
        schedule_enabled: bool | None = None,
        cron: str | None = None,
        workspace: str | None = None,
        **fields: Any,
    ) -> Call[Transformation]:
        """Create a transformation running SQL ``queries`` on a connection (id or name)."""
        found = yield from self.resolve_connection.steps(connection, workspace)
        body = drop_none(
            {
                "name": name,
                "connection_id": found.id,
                "queries": list(queries) if queries is not None else None,
                "schedule": schedule_body(schedule_enabled, cron),
                **{to_snake(k): v for k, v in fields.items()},
            }
        )
        path = f"v2/workspaces/{seg(self._workspace(workspace))}/transformations"
        return (yield from self._one(ApiRequest("POST", path, json=body), Transformation))

    @operation
    def update_transformation(self, transformation_id: str, **fields: Any) -> Call[Any]:
        """Update a transformation (any fields, sent in lower snake case)."""
        body = drop_none({to_snake(k): v for k, v in fields.items()})
        return (
            yield from self._json(
                ApiRequest("PUT", f"v2/transformations/{seg(transformation_id)}", json=body)
            )
        )

    @operation
    def delete_transformation(self, transformation_id: str) -> Call[None]:
        """Delete a transformation."""
        yield from self._json(ApiRequest("DELETE", f"v2/transformations/{seg(transformation_id)}"))

    @operation
    def execute_transformation(self, transformation_id: str) -> Call[Run]:
        """Start a transformation run."""
        request = ApiRequest("POST", f"v2/transformations/{seg(transformation_id)}/execute")
        return (yield from self._run_answer(request))

    @operation
    def cancel_transformation(self, transformation_id: str) -> Call[Any]:
        """Cancel a running transformation (not documented by the vendor; servers may answer 404/405)."""
        path = f"v2/transformations/{seg(transformation_id)}/cancel"
        return (yield from self._json(ApiRequest("POST", path, idempotent=True)))

    @operation
    def list_transformation_history(self, transformation_id: str) -> Call[list[Run]]:
        """All runs of a transformation."""
        return (
            yield from self._many(
                ApiRequest("GET", f"v2/transformations/{seg(transformation_id)}/history"), Run
            )
        )

    @operation
    def get_transformation_history(self, transformation_id: str, history_id: str) -> Call[Run]:
        """One run of a transformation."""
        path = f"v2/transformations/{seg(transformation_id)}/history/{seg(history_id)}"
        return (yield from self._one(ApiRequest("GET", path), Run))

    @operation
    def get_transformation_status(self, transformation_id: str) -> Call[RunStatus]:
        """The transformation's current execution status."""
        path = f"v2/transformations/{seg(transformation_id)}/status"
        return (yield from self._one(ApiRequest("GET", path), RunStatus))

    @operation
    def list_transformation_tasks(self, transformation_id: str) -> Call[list[Task]]:
        """The tasks of a transformation."""
        return (
            yield from self._many(
                ApiRequest("GET", self._task_path("transformations", transformation_id)), Task
            )
        )

    @operation
    def get_transformation_task(self, transformation_id: str, task_id: str) -> Call[Task]:
        """One task of a transformation."""
        path = self._task_path("transformations", transformation_id, task_id)
        return (yield from self._one(ApiRequest("GET", path), Task))

    @operation
    def add_transformation_task(
        self, transformation_id: str, query: str, *, is_active: bool = True, index: int | None = None
    ) -> Call[Task]:
        """Add a task (SQL) to a transformation."""
        path = self._task_path("transformations", transformation_id)
        return (
            yield from self._one(
                ApiRequest("POST", path, json=self._task_body(query, is_active, index)), Task
            )
        )

    @operation
    def update_transformation_task(
        self,
        transformation_id: str,
        task_id: str,
        *,
        query: str | None = None,
        is_active: bool | None = None,
        index: int | None = None,
    ) -> Call[Any]:
        """Update a task of a transformation."""
        path = self._task_path("transformations", transformation_id, task_id)
        return (yield from self._json(ApiRequest("PUT", path, json=self._task_body(query, is_active, index))))

    @operation
    def delete_transformation_task(self, transformation_id: str, task_id: str) -> Call[None]:
        """Delete a task of a transformation."""
        yield from self._json(
            ApiRequest("DELETE", self._task_path("transformations", transformation_id, task_id))
        )

    @operation
    def move_transformation_task(
        self, transformation_id: str, task_id: str, from_index: int, to_index: int
    ) -> Call[Any]:
        """Move a task to another position in its transformation."""
        path = self._task_path("transformations", transformation_id, task_id, "/move")
        return (yield from self._move(path, from_index, to_index))

    # ------------------------------------------------------------------- pipelines
    @operation
    def list_pipelines(self, workspace: str | None = None) -> Call[list[Pipeline]]:
        """List the pipelines of a workspace."""
        path = f"v2/workspaces/{seg(self._workspace(workspace))}/pipelines"
        return (yield from self._many(ApiRequest("GET", path), Pipeline))

    @operation
    def get_pipeline(self, pipeline_id: str) -> Call[Pipeline]:
        """Get one pipeline."""
        return (yield from self._one(ApiRequest("GET", f"v2/pipelines/{seg(pipeline_id)}"), Pipeline))

    @operation
    def resolve_pipeline(self, pipeline: str, workspace: str | None = None) -> Call[Pipeline]:
        """Find a pipeline by id or name."""
        items = yield from self.list_pipelines.steps(workspace)
        return resolve("pipeline", items, pipeline, lambda p: p.id, lambda p: p.name)

    @operation
    def create_pipeline(
        self,
        name: str,
        *,
        schedule_enabled: bool | None = None,
        cron: str | None = None,
        labels: Sequence[str] | None = None,
        workspace: str | None = None,
    ) -> Call[Pipeline]:
        """Create a pipeline (add steps with :meth:`create_pipeline_step`)."""
        body = drop_none(
            {
                "name": name,
                "schedule": schedule_body(schedule_enabled, cron),
                "labels": list(labels) if labels is not None else None,
            }
        )
        path = f"v2/workspaces/{seg(self._workspace(workspace))}/pipelines"
        return (yield from self._one(ApiRequest("POST", path, json=body), Pipeline))

    @operation
    def update_pipeline(
        self,
        pipeline_id: str,
        *,
        name: str | None = None,
        schedule_enabled: bool | None = None,
        cron: str | None = None,
        labels: Sequence[str] | None = None,
    ) -> Call[Any]:
        """Update a pipeline."""
        body = drop_none(
            {
                "name": name,
                "schedule": schedule_body(schedule_enabled, cron),
                "labels": list(labels) if labels is not None else None,
            }
        )
        return (yield from self._json(ApiRequest("PUT", f"v2/pipelines/{seg(pipeline_id)}", json=body)))

    @operation
    def delete_pipeline(self, pipeline_id: str, *, pipeline_only: bool = False) -> Call[None]:
        """Delete a pipeline; with ``pipeline_only`` its jobs and transformations are kept."""
        params = {"pipeline_only": True} if pipeline_only else None
        yield from self._json(ApiRequest("DELETE", f"v2/pipelines/{seg(pipeline_id)}", params=params))

    @operation
    def execute_pipeline(self, pipeline_id: str) -> Call[Run]:
        """Start a pipeline run."""
        return (yield from self._run_answer(ApiRequest("POST", f"v2/pipelines/{seg(pipeline_id)}/execute")))

    @operation
    def cancel_pipeline(self, pipeline_id: str) -> Call[Any]:
        """Cancel a running pipeline."""
        return (
            yield from self._json(
                ApiRequest("POST", f"v2/pipelines/{seg(pipeline_id)}/cancel", idempotent=True)
            )
        )

    @operation
    def list_pipeline_history(self, pipeline_id: str) -> Call[list[Run]]:
        """All runs of a pipeline."""
        return (yield from self._many(ApiRequest("GET", f"v2/pipelines/{seg(pipeline_id)}/history"), Run))

    @operation
    def get_pipeline_history(self, pipeline_id: str, history_id: str) -> Call[Run]:
        """One run of a pipeline."""
        path = f"v2/pipelines/{seg(pipeline_id)}/history/{seg(history_id)}"
        return (yield from self._one(ApiRequest("GET", path), Run))

    @operation
    def get_pipeline_status(self, pipeline_id: str) -> Call[RunStatus]:
        """The pipeline's current execution status."""
        return (yield from self._one(ApiRequest("GET", f"v2/pipelines/{seg(pipeline_id)}/status"), RunStatus))

    @operation
    def list_pipeline_steps(self, pipeline_id: str) -> Call[list[PipelineStep]]:
        """The steps of a pipeline."""
        return (
            yield from self._many(ApiRequest("GET", f"v2/pipelines/{seg(pipeline_id)}/steps"), PipelineStep)
        )

    @operation
    def create_pipeline_step(
        self, pipeline_id: str, step_type: str, target_id: str, *, index: int | None = None, **fields: Any
    ) -> Call[PipelineStep]:
        """Add a step (``job`` or ``transformation``, by id) to a pipeline."""
        body = drop_none(
            {
                "type": step_type,
                "target_id": target_id,
                "index": index,
                **{to_snake(k): v for k, v in fields.items()},
            }
        )
        path = f"v2/pipelines/{seg(pipeline_id)}/steps"
        return (yield from self._one(ApiRequest("POST", path, json=body), PipelineStep))

    @operation
    def update_pipeline_step(self, pipeline_id: str, step_id: str, **fields: Any) -> Call[Any]:
        """Update a pipeline step."""
        body = drop_none({to_snake(k): v for k, v in fields.items()})
        path = f"v2/pipelines/{seg(pipeline_id)}/steps/{seg(step_id)}"
        return (yield from self._json(ApiRequest("PUT", path, json=body)))

    @operation
    def delete_pipeline_step(self, pipeline_id: str, step_id: str) -> Call[None]:
        """Delete a pipeline step."""
        yield from self._json(ApiRequest("DELETE", f"v2/pipelines/{seg(pipeline_id)}/steps/{seg(step_id)}"))

    @operation
    def move_pipeline_step(self, pipeline_id: str, step_id: str, from_index: int, to_index: int) -> Call[Any]:
        """Move a step to another position in its pipeline."""
        path = f"v2/pipelines/{seg(pipeline_id)}/steps/{seg(step_id)}/move"
        return (yield from self._move(path, from_index, to_index))

    @operation
    def list_pipeline_events(self, pipeline_id: str) -> Call[list[PipelineEvent]]:
        """The events of a pipeline."""
        return (
            yield from self._many(ApiRequest("GET", f"v2/pipelines/{seg(pipeline_id)}/events"), PipelineEvent)
        )

    @operation
    def get_pipeline_event(self, pipeline_id: str, event_id: str) -> Call[PipelineEvent]:
        """One event of a pipeline."""
        path = f"v2/pipelines/{seg(pipeline_id)}/events/{seg(event_id)}"
        return (yield from self._one(ApiRequest("GET", path), PipelineEvent))

    @operation
    def create_pipeline_event(self, pipeline_id: str, **fields: Any) -> Call[PipelineEvent]:
        """Create an event in a pipeline (fields such as name, trigger, action)."""
        body = drop_none({to_snake(k): v for k, v in fields.items()})
        path = f"v2/pipelines/{seg(pipeline_id)}/events"
        return (yield from self._one(ApiRequest("POST", path, json=body), PipelineEvent))

    @operation
    def update_pipeline_event(self, pipeline_id: str, event_id: str, **fields: Any) -> Call[Any]:
        """Update an event of a pipeline."""
        body = drop_none({to_snake(k): v for k, v in fields.items()})
        path = f"v2/pipelines/{seg(pipeline_id)}/events/{seg(event_id)}"
        return (yield from self._json(ApiRequest("PUT", path, json=body)))

    @operation
    def delete_pipeline_event(self, pipeline_id: str, event_id: str) -> Call[None]:
        """Delete an event of a pipeline."""
        yield from self._json(ApiRequest("DELETE", f"v2/pipelines/{seg(pipeline_id)}/events/{seg(event_id)}"))

    # ----------------------------------------------------------------------- users
    @operation
    def list_users(self) -> Call[list[User]]:
        """List the Sync users."""
        return (yield from self._many(ApiRequest("GET", "v2/users"), User))

    @operation
    def get_user(self, user_id: str) -> Call[User]:
        """Get one user."""
        return (yield from self._one(ApiRequest("GET", f"v2/users/{seg(user_id)}"), User))

    @operation
    def create_user(
        self, name: str, *, password: str | None = None, role: str | None = None, **fields: Any
    ) -> Call[User]:
        """Create a Sync user."""
        body = drop_none(
            {"name": name, "password": password, "role": role, **{to_snake(k): v for k, v in fields.items()}}
        )
        return (yield from self._one(ApiRequest("POST", "v2/users", json=body), User))

    @operation
    def update_user(self, user_id: str, **fields: Any) -> Call[Any]:
        """Update a Sync user."""
        body = drop_none({to_snake(k): v for k, v in fields.items()})
        return (yield from self._json(ApiRequest("PUT", f"v2/users/{seg(user_id)}", json=body)))

    @operation
    def delete_user(self, user_id: str) -> Call[None]:
        """Delete a Sync user."""
        yield from self._json(ApiRequest("DELETE", f"v2/users/{seg(user_id)}"))

    @operation
    def generate_token(self, user: str) -> Call[str]:
        """Mint an API token for a user (name or id). The token is returned, never logged."""
        body = yield from self._json(ApiRequest("POST", "v2/users/generate-token", json={"user": user}))
        if isinstance(body, dict):
            for key in ("token", "Token", "authtoken", "auth_token", "AuthToken"):
                if isinstance(body.get(key), str):
                    return str(body[key])
        if isinstance(body, str):
            return body

        raise CDataSyncResponseError(
            "no token in the answer", method="POST", path="/api.rsc/v2/users/generate-token"
        )
