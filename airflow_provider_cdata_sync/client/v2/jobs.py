"""Jobs (v2): ``client.jobs`` and their tasks ``client.jobs.tasks``."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import Any

import httpx

from airflow_provider_cdata_sync.client.errors import CDataSyncConfigError
from airflow_provider_cdata_sync.client.http import (
    ApiRequest,
    Call,
    D,
    operation,
    parse_json,
    parse_model,
    resolve,
    unwrap_one,
)
from airflow_provider_cdata_sync.client.models import Job, Run, to_snake
from airflow_provider_cdata_sync.client.v2.common import Runnable, Tasks, drop_none, schedule_body, seg

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


class Jobs(Runnable[D]):
    """The jobs of a workspace: a source, a destination and tasks (one query per table)."""

    collection = "jobs"

    @cached_property
    def tasks(self) -> Tasks[D]:
        """The tasks of a job (``client.jobs.tasks.list(job_id)``)."""
        return Tasks(self, "jobs")

    @operation
    def list(self, workspace: str | None = None) -> Call[builtins.list[Job]]:
        """List the jobs of a workspace.

        :param workspace: the workspace id; the configured one by default.
        """
        return (yield from self._many(ApiRequest("GET", self._in_workspace(workspace, "jobs")), Job))

    @operation
    def get(self, job_id: str, workspace: str | None = None) -> Call[Job]:
        """Get one job by id. No retrieve-job endpoint is documented: on 404/405 the workspace's job list
        is searched instead.

        :param job_id: the job id.
        :param workspace: the workspace to search on the fallback.
        """
        request = ApiRequest("GET", f"v2/jobs/{seg(job_id)}", accept_statuses=frozenset({404, 405}))
        response: httpx.Response = yield request
        if not response.is_error:
            return parse_model(
                request, Job, unwrap_one(parse_json(request, response, self.profile)), self.profile
            )
        jobs = yield from self.list.steps(workspace)
        for job in jobs:
            if job.id == str(job_id):
                return job
        raise self.profile.errors.lookup("job", str(job_id), [f"{job.name} (id {job.id})" for job in jobs])

    @operation
    def resolve(self, job: str, workspace: str | None = None) -> Call[Job]:
        """Find a job by id or name (exact, then case-insensitive); the error lists the jobs that exist.

        :param job: a job id or name.
        :param workspace: the workspace id; the configured one by default.
        """
        jobs = yield from self.list.steps(workspace)
        return resolve("job", jobs, job, lambda j: j.id, lambda j: j.name, self.profile.errors.lookup)

    @operation
    def create(
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
        """Create a job.

        :param name: its name.
        :param type: Standard, SyncAll, LoadFolder, ChangeDataCapture or ReverseETL.
        :param source_connection: the source connection, by id or name.
        :param destination_connection: the destination connection, by id or name.
        :param schedule_enabled: run it on Sync's own schedule.
        :param cron: that schedule.
        :param queries: its tasks (``REPLICATE [Accounts]``, ...).
        :param workspace: the workspace id; the configured one by default.
        :param settings: any documented job parameter (``continue_on_error``, ``worker_pool``,
            ``table_name_prefix``, ... in any spelling); unknown ones are refused with the list.
        """
        if type not in JOB_TYPES:
            raise self.profile.errors.config(
                f"Unknown job type {type!r}. Use one of: {', '.join(JOB_TYPES)}."
            )
        body: dict[str, Any] = {"name": name, "type": type}
        for side, ref in (("source", source_connection), ("destination", destination_connection)):
            if ref is not None:
                connection = yield from self._connections.resolve.steps(ref, workspace)
                body[f"{side}_connection_id"] = connection.id
        schedule = schedule_body(schedule_enabled, cron)
        if schedule is not None:
            body["schedule"] = schedule
        if queries is not None:
            body["queries"] = builtins.list(queries)
        body.update(job_settings(settings))
        path = self._in_workspace(workspace, "jobs")
        return (yield from self._one(ApiRequest("POST", path, json=body), Job))

    @property
    def _connections(self) -> Any:
        return self._runner.connections

    @operation
    def update(
        self,
        job_id: str,
        *,
        name: str | None = None,
        schedule_enabled: bool | None = None,
        cron: str | None = None,
        **settings: Any,
    ) -> Call[Any]:
        """Update a job (the server refuses while it runs).

        :param job_id: the job id.
        :param name: a new name.
        :param schedule_enabled: run it on Sync's own schedule.
        :param cron: that schedule.
        :param settings: documented job parameters to change.
        """
        body: dict[str, Any] = drop_none({"name": name, "schedule": schedule_body(schedule_enabled, cron)})
        body.update(job_settings(settings))
        return (yield from self._json(ApiRequest("PUT", f"v2/jobs/{seg(job_id)}", json=body)))

    @operation
    def delete(self, job_id: str) -> Call[None]:
        """Delete a job (the server refuses while it runs).

        :param job_id: the job id.
        """
        yield from self._json(ApiRequest("DELETE", f"v2/jobs/{seg(job_id)}"))

    @operation
    def execute(self, job_id: str, tasks: Iterable[str] | None = None) -> Call[Run]:
        """Start a job run; never retried once it may have reached the server (see
        :meth:`~airflow_provider_cdata_sync.client.v2.CDataSyncClient.start_run` for a start that also
        finds the run when the answer is lost).

        :param job_id: the job id.
        :param tasks: only these task ids.
        """
        body = {"tasks": [str(task) for task in tasks]} if tasks is not None else None
        return (yield from self._start(job_id, body))
