"""Tasks (v1): ``client.tasks``: the ``tasks`` entity set (one query per task of a job)."""

from __future__ import annotations

import builtins
from typing import Any

from airflow_provider_cdata_sync.client.http import Call, D, operation
from airflow_provider_cdata_sync.client.models import Task
from airflow_provider_cdata_sync.client.v1 import odata
from airflow_provider_cdata_sync.client.v1.common import V1Resource, pascal_body


class Tasks(V1Resource[D]):
    """The tasks of jobs."""

    @operation
    def list(self, job: str | None = None, workspace: str | None = None) -> Call[builtins.list[Task]]:
        """Tasks, of one job or of all, in their order. The job is filtered on the client too: a server
        that ignores ``$filter`` cannot mix in other jobs' tasks.

        :param job: the job name; None for every job.
        :param workspace: the workspace id or name; the configured one by default.
        """
        filter_ = odata.eq("JobName", job) if job is not None else None
        tasks = yield from self._list("tasks", Task, workspace, filter=filter_, orderby="Index asc")
        if job is None:
            return tasks
        return [task for task in tasks if task.extra("job_name") in (None, job)]

    @operation
    def create(self, job: str, query: str, workspace: str | None = None, **fields: Any) -> Call[Task]:
        """Add a task to a job.

        :param job: the job name.
        :param query: the task's query.
        :param workspace: the workspace id or name; the configured one by default.
        :param fields: other fields, in any case.
        """
        body = pascal_body({"JobName": job, "Query": query, **fields})
        return (yield from self._one(self._request("POST", "tasks", workspace, json=body), Task))

    @operation
    def update(self, task_id: str, workspace: str | None = None, **fields: Any) -> Call[Any]:
        """Update a task.

        :param task_id: the task id.
        :param workspace: the workspace id or name; the configured one by default.
        :param fields: fields to change, in any case.
        """
        path = odata.entity_path("tasks", task_id)
        return (yield from self._json(self._request("PUT", path, workspace, json=pascal_body(fields))))

    @operation
    def delete(self, task_id: str, workspace: str | None = None) -> Call[None]:
        """Delete a task.

        :param task_id: the task id.
        :param workspace: the workspace id or name; the configured one by default.
        """
        yield from self._json(self._request("DELETE", odata.entity_path("tasks", task_id), workspace))
