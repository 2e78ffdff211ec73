"""Transformations (v2): ``client.transformations`` and their tasks ``client.transformations.tasks``."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow_provider_cdata_sync.client.http import ApiRequest, Call, D, operation, resolve
from airflow_provider_cdata_sync.client.models import Run, Transformation
from airflow_provider_cdata_sync.client.v2.common import Runnable, Tasks, drop_none, seg, snake_fields

#: Documented transformation types.
TRANSFORMATION_TYPES = ("SQL", "DBT", "DBT-Cloud")
#: Documented trigger types: on a schedule, or after a job (optionally after some of its tasks).
TRIGGER_TYPES = ("Schedule", "After_Job", "None")


class Transformations(Runnable[D]):
    """The transformations of a workspace: SQL (or dbt) run on a destination connection."""

    collection = "transformations"

    @cached_property
    def tasks(self) -> Tasks[D]:
        """The tasks (queries) of a transformation (``client.transformations.tasks.list(id)``)."""
        return Tasks(self, "transformations")

    @operation
    def list(self, workspace: str | None = None) -> Call[builtins.list[Transformation]]:
        """List the transformations of a workspace.

        :param workspace: the workspace id; the configured one by default.
        """
        path = self._in_workspace(workspace, "transformations")
        return (yield from self._many(ApiRequest("GET", path), Transformation))

    @operation
    def get(self, transformation_id: str) -> Call[Transformation]:
        """Get one transformation.

        :param transformation_id: the transformation id.
        """
        path = f"v2/transformations/{seg(transformation_id)}"
        return (yield from self._one(ApiRequest("GET", path), Transformation))

    @operation
    def resolve(self, transformation: str, workspace: str | None = None) -> Call[Transformation]:
        """Find a transformation by id or name; unknown names list the transformations.

        :param transformation: a transformation id or name.
        :param workspace: the workspace id; the configured one by default.
        """
        items = yield from self.list.steps(workspace)
        lookup = self.profile.errors.lookup
        return resolve("transformation", items, transformation, lambda t: t.id, lambda t: t.name, lookup)

    @operation
    def create(
        self,
        name: str,
        connection: str,
        *,
        type: str = "SQL",
        queries: Sequence[str] | None = None,
        schedule_enabled: bool | None = None,
        cron: str | None = None,
        after_job: str | None = None,
        after_job_tasks: Sequence[str] | None = None,
        email_to: str | None = None,
        workspace: str | None = None,
        **fields: Any,
    ) -> Call[Transformation]:
        """Create a transformation with the documented body (Sync 26.2): ``name``, ``type``,
        ``destination_connection`` (``id``, ``name``), ``schedule``, ``trigger``, ``alerts``; its queries
        are then added as tasks.

        :param name: its name.
        :param connection: the destination connection it runs on, by id or name.
        :param type: SQL, DBT or DBT-Cloud.
        :param queries: SQL statements, added as tasks in this order.
        :param schedule_enabled: run it on Sync's own schedule (trigger ``Schedule``).
        :param cron: that schedule.
        :param after_job: run it after this job (id), trigger ``After_Job``.
        :param after_job_tasks: only after these tasks of that job.
        :param email_to: send alerts to this address.
        :param workspace: the workspace id; the configured one by default.
        :param fields: other documented fields, in any spelling.
        """
        if type not in TRANSFORMATION_TYPES:
            raise self.profile.errors.config(
                f"Unknown transformation type {type!r}. Use one of: {', '.join(TRANSFORMATION_TYPES)}."
            )
        found = yield from self._runner.connections.resolve.steps(connection, workspace)
        trigger: dict[str, Any] | None = None
        if after_job is not None:
            trigger = drop_none(
                {
                    "type": "After_Job",
                    "after_job": after_job,
                    "after_job_tasks": builtins.list(after_job_tasks) if after_job_tasks else None,
                }
            )
        elif cron is not None or schedule_enabled:
            trigger = drop_none({"type": "Schedule", "schedule_cron": cron})
        body = drop_none(
            {
                "name": name,
                "type": type,
                "destination_connection": {"id": found.id, "name": found.name},
                "schedule": drop_none({"enabled": schedule_enabled, "cron": cron}) or None,
                "trigger": trigger,
                "alerts": {"send_email": True, "email_to": email_to} if email_to else None,
                **snake_fields(fields),
            }
        )
        path = self._in_workspace(workspace, "transformations")
        created = yield from self._one(ApiRequest("POST", path, json=body), Transformation)
        for query in queries or ():
            yield from self.tasks.add.steps(str(created.id), query)
        return created

    @operation
    def update(self, transformation_id: str, **fields: Any) -> Call[Any]:
        """Update a transformation (any documented fields, sent in lower snake case).

        :param transformation_id: the transformation id.
        :param fields: fields to change.
        """
        body = snake_fields(fields)
        path = f"v2/transformations/{seg(transformation_id)}"
        return (yield from self._json(ApiRequest("PUT", path, json=body)))

    @operation
    def delete(self, transformation_id: str) -> Call[None]:
        """Delete a transformation.

        :param transformation_id: the transformation id.
        """
        yield from self._json(ApiRequest("DELETE", f"v2/transformations/{seg(transformation_id)}"))

    @operation
    def execute(self, transformation_id: str) -> Call[Run]:
        """Start a transformation run (never retried once it may have reached the server).

        :param transformation_id: the transformation id.
        """
        return (yield from self._start(transformation_id))
