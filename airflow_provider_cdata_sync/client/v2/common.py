"""What the v2 resources share: path segments, request bodies, the run endpoints (execute, cancel, status,
history) of jobs, transformations and pipelines, and the tasks of jobs and transformations."""

from __future__ import annotations

import builtins
import functools
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar
from urllib.parse import quote

from airflow_provider_cdata_sync.client.http import (
    ApiRequest,
    Call,
    D,
    Resource,
    operation,
    parse_model,
    resolve,
    unwrap_one,
)
from airflow_provider_cdata_sync.client.models import Run, RunStatus, Task, TaskRun, to_snake


def seg(value: object) -> str:
    """One URL path segment, quoted so a name or id can never change the path.

    :param value: the name or id (any value; its ``str()``).
    """
    return _quoted_segment(str(value))


@functools.lru_cache(maxsize=4096)
def _quoted_segment(text: str) -> str:
    # Cached: the pollers build the same few thousand paths (one per job and run waited for) every tick.
    return quote(text, safe="")


def drop_none(body: Mapping[str, Any]) -> dict[str, Any]:
    """A request body without the parameters the caller did not give."""
    return {key: value for key, value in body.items() if value is not None}


def snake_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Extra body fields in the lower snake case the API documents, without None values."""
    return drop_none({to_snake(key): value for key, value in fields.items()})


def schedule_body(enabled: bool | None, cron: str | None) -> dict[str, Any] | None:
    """The ``schedule`` object, or None when neither part is given."""
    if enabled is None and cron is None:
        return None
    return drop_none({"enabled": enabled, "cron": cron})


class WorkspaceScoped(Resource[D]):
    """A resource listed and created under a workspace (the configured one by default)."""

    def _in_workspace(self, workspace: str | None, collection: str) -> str:
        return f"v2/workspaces/{seg(workspace or self.config.workspace)}/{collection}"


class Runnable(WorkspaceScoped[D]):
    """Jobs, transformations and pipelines: the run endpoints are the same under each collection."""

    collection: ClassVar[str]

    def _path(self, target_id: str, suffix: str = "") -> str:
        return f"v2/{self.collection}/{seg(target_id)}{suffix}"

    def _start(self, target_id: str, body: Any = None) -> Call[Run]:
        answer = yield from self._json(ApiRequest("POST", self._path(target_id, "/execute"), json=body))
        request = ApiRequest("POST", self._path(target_id, "/execute"))
        # Some servers answer the start without a body, or without the run's id: the run is then looked up.
        return parse_model(
            request, Run, unwrap_one(answer) if isinstance(answer, dict | list) else {}, self.profile
        )

    @operation
    def cancel(self, target_id: str) -> Call[Any]:
        """Cancel the running run.

        :param target_id: the job, transformation or pipeline id.
        """
        return (yield from self._json(ApiRequest("POST", self._path(target_id, "/cancel"), idempotent=True)))

    @operation
    def status(self, target_id: str) -> Call[RunStatus]:
        """The current execution status (the running run, else the last one).

        :param target_id: the job, transformation or pipeline id.
        """
        return (yield from self._one(ApiRequest("GET", self._path(target_id, "/status")), RunStatus))

    @operation
    def history(self, target_id: str) -> Call[list[Run]]:
        """Every run (history record), in the server's order (it may be oldest first).

        :param target_id: the job, transformation or pipeline id.
        """
        return (yield from self._many(ApiRequest("GET", self._path(target_id, "/history")), Run))

    @operation
    def get_history(self, target_id: str, history_id: str) -> Call[Run]:
        """One run (history record).

        :param target_id: the job, transformation or pipeline id.
        :param history_id: the run's id.
        """
        return (
            yield from self._one(ApiRequest("GET", self._path(target_id, f"/history/{seg(history_id)}")), Run)
        )


class Tasks(Resource[D]):
    """The tasks (one query each) of a job or a transformation: ``client.jobs.tasks``."""

    owner: str = "jobs"

    def __init__(self, parent: Resource[D], owner: str) -> None:
        super().__init__(parent)
        self.owner = owner

    def _path(self, owner_id: str, task_id: str | None = None, suffix: str = "") -> str:
        path = f"v2/{self.owner}/{seg(owner_id)}/tasks"
        if task_id is not None:
            path += f"/{seg(task_id)}"
        return path + suffix

    @staticmethod
    def _body(query: str | None, is_active: bool | None, index: int | None) -> dict[str, Any]:
        return drop_none({"query": query, "is_active": is_active, "index": index})

    @operation
    def list(self, owner_id: str) -> Call[builtins.list[Task]]:
        """The tasks, in their order.

        :param owner_id: the job or transformation id.
        """
        return (yield from self._many(ApiRequest("GET", self._path(owner_id)), Task))

    @operation
    def get(self, owner_id: str, task_id: str) -> Call[Task]:
        """One task.

        :param owner_id: the job or transformation id.
        :param task_id: the task id.
        """
        return (yield from self._one(ApiRequest("GET", self._path(owner_id, task_id)), Task))

    @operation
    def add(
        self, owner_id: str, query: str, *, is_active: bool = True, index: int | None = None
    ) -> Call[Task]:
        """Add a task (a query such as ``REPLICATE [Accounts]``, or SQL for a transformation).

        :param owner_id: the job or transformation id.
        :param query: the task's query.
        :param is_active: whether it runs.
        :param index: its position (0-based); last by default.
        """
        request = ApiRequest("POST", self._path(owner_id), json=self._body(query, is_active, index))
        return (yield from self._one(request, Task))

    @operation
    def update(
        self,
        owner_id: str,
        task_id: str,
        *,
        query: str | None = None,
        is_active: bool | None = None,
        index: int | None = None,
    ) -> Call[Any]:
        """Change a task (only the given fields).

        :param owner_id: the job or transformation id.
        :param task_id: the task id.
        :param query: a new query.
        :param is_active: run it or not.
        :param index: a new position.
        """
        body = self._body(query, is_active, index)
        return (yield from self._json(ApiRequest("PUT", self._path(owner_id, task_id), json=body)))

    @operation
    def delete(self, owner_id: str, task_id: str) -> Call[None]:
        """Delete a task.

        :param owner_id: the job or transformation id.
        :param task_id: the task id.
        """
        yield from self._json(ApiRequest("DELETE", self._path(owner_id, task_id)))

    @operation
    def move(self, owner_id: str, task_id: str, from_index: int, to_index: int) -> Call[Any]:
        """Move a task to another position.

        :param owner_id: the job or transformation id.
        :param task_id: the task id.
        :param from_index: its current position (checked by the server).
        :param to_index: the new position.
        """
        path = self._path(owner_id, task_id, "/move")
        return (
            yield from self._json(
                ApiRequest("POST", path, json={"from_index": from_index, "to_index": to_index})
            )
        )

    @operation
    def resolve(self, owner_id: str, tasks: Iterable[str]) -> Call[builtins.list[Task]]:
        """Find tasks by id or by table name; an unknown one raises an error listing the tasks.

        :param owner_id: the job or transformation id.
        :param tasks: task ids or table names.
        """
        known = yield from self.list.steps(owner_id)
        lookup = self.profile.errors.lookup
        return [resolve("task", known, str(ref), lambda t: t.id, lambda t: t.table, lookup) for ref in tasks]

    @operation
    def last_run(self, owner_id: str) -> Call[builtins.list[TaskRun]]:
        """The last run of every task (jobs).

        :param owner_id: the job id.
        """
        return (yield from self._many(ApiRequest("GET", self._path(owner_id, None, "/last-run")), TaskRun))

    @operation
    def history(self, owner_id: str, task_id: str) -> Call[builtins.list[TaskRun]]:
        """The run history of one task (jobs).

        :param owner_id: the job id.
        :param task_id: the task id.
        """
        return (yield from self._many(ApiRequest("GET", self._path(owner_id, task_id, "/history")), TaskRun))
