"""Pipelines (v2): ``client.pipelines``, their steps ``client.pipelines.steps`` and events
``client.pipelines.events``."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow_provider_cdata_sync.client.http import ApiRequest, Call, D, Resource, operation, resolve
from airflow_provider_cdata_sync.client.models import Pipeline, PipelineEvent, PipelineStep, Run
from airflow_provider_cdata_sync.client.v2.common import Runnable, drop_none, schedule_body, seg, snake_fields


class Pipelines(Runnable[D]):
    """The pipelines of a workspace: jobs and transformations run as steps, with events."""

    collection = "pipelines"

    @cached_property
    def steps(self) -> PipelineSteps[D]:
        """The steps of a pipeline (``client.pipelines.steps.move(...)``)."""
        return PipelineSteps(self)

    @cached_property
    def events(self) -> PipelineEvents[D]:
        """The events of a pipeline (scripts run as event steps)."""
        return PipelineEvents(self)

    @operation
    def list(self, workspace: str | None = None) -> Call[builtins.list[Pipeline]]:
        """List the pipelines of a workspace.

        :param workspace: the workspace id; the configured one by default.
        """
        return (
            yield from self._many(ApiRequest("GET", self._in_workspace(workspace, "pipelines")), Pipeline)
        )

    @operation
    def get(self, pipeline_id: str) -> Call[Pipeline]:
        """Get one pipeline.

        :param pipeline_id: the pipeline id.
        """
        return (yield from self._one(ApiRequest("GET", f"v2/pipelines/{seg(pipeline_id)}"), Pipeline))

    @operation
    def resolve(self, pipeline: str, workspace: str | None = None) -> Call[Pipeline]:
        """Find a pipeline by id or name; unknown names list the pipelines.

        :param pipeline: a pipeline id or name.
        :param workspace: the workspace id; the configured one by default.
        """
        items = yield from self.list.steps(workspace)
        return resolve(
            "pipeline", items, pipeline, lambda p: p.id, lambda p: p.name, self.profile.errors.lookup
        )

    @operation
    def create(
        self,
        name: str,
        *,
        schedule_enabled: bool | None = None,
        cron: str | None = None,
        labels: Sequence[str] | None = None,
        workspace: str | None = None,
    ) -> Call[Pipeline]:
        """Create a pipeline (add steps with ``client.pipelines.steps.create``).

        :param name: its name.
        :param schedule_enabled: run it on Sync's own schedule.
        :param cron: that schedule.
        :param labels: labels.
        :param workspace: the workspace id; the configured one by default.
        """
        body = drop_none(
            {
                "name": name,
                "schedule": schedule_body(schedule_enabled, cron),
                "labels": builtins.list(labels) if labels is not None else None,
            }
        )
        return (
            yield from self._one(
                ApiRequest("POST", self._in_workspace(workspace, "pipelines"), json=body), Pipeline
            )
        )

    @operation
    def update(
        self,
        pipeline_id: str,
        *,
        name: str | None = None,
        schedule_enabled: bool | None = None,
        cron: str | None = None,
        labels: Sequence[str] | None = None,
    ) -> Call[Any]:
        """Update a pipeline.

        :param pipeline_id: the pipeline id.
        :param name: a new name.
        :param schedule_enabled: run it on Sync's own schedule.
        :param cron: that schedule.
        :param labels: new labels.
        """
        body = drop_none(
            {
                "name": name,
                "schedule": schedule_body(schedule_enabled, cron),
                "labels": builtins.list(labels) if labels is not None else None,
            }
        )
        return (yield from self._json(ApiRequest("PUT", f"v2/pipelines/{seg(pipeline_id)}", json=body)))

    @operation
    def delete(self, pipeline_id: str, *, pipeline_only: bool = False) -> Call[None]:
        """Delete a pipeline.

        :param pipeline_id: the pipeline id.
        :param pipeline_only: keep its jobs and transformations (by default they are deleted too).
        """
        params = {"pipeline_only": True} if pipeline_only else None
        yield from self._json(ApiRequest("DELETE", f"v2/pipelines/{seg(pipeline_id)}", params=params))

    @operation
    def execute(self, pipeline_id: str) -> Call[Run]:
        """Start a pipeline run (never retried once it may have reached the server).

        :param pipeline_id: the pipeline id.
        """
        return (yield from self._start(pipeline_id))


class PipelineSteps(Resource[D]):
    """The steps of a pipeline: jobs and transformations in order."""

    def _path(self, pipeline_id: str, step_id: str | None = None, suffix: str = "") -> str:
        path = f"v2/pipelines/{seg(pipeline_id)}/steps"
        return path + (f"/{seg(step_id)}" if step_id is not None else "") + suffix

    @operation
    def list(self, pipeline_id: str) -> Call[builtins.list[PipelineStep]]:
        """The steps of a pipeline.

        :param pipeline_id: the pipeline id.
        """
        return (yield from self._many(ApiRequest("GET", self._path(pipeline_id)), PipelineStep))

    @operation
    def create(
        self, pipeline_id: str, step_type: str, target_id: str, *, index: int | None = None, **fields: Any
    ) -> Call[PipelineStep]:
        """Add a step to a pipeline.

        :param pipeline_id: the pipeline id.
        :param step_type: ``job`` or ``transformation``.
        :param target_id: the job or transformation id.
        :param index: its position (0-based); last by default.
        :param fields: other documented fields.
        """
        body = drop_none({"type": step_type, "target_id": target_id, "index": index, **snake_fields(fields)})
        return (yield from self._one(ApiRequest("POST", self._path(pipeline_id), json=body), PipelineStep))

    @operation
    def update(self, pipeline_id: str, step_id: str, **fields: Any) -> Call[Any]:
        """Update a step.

        :param pipeline_id: the pipeline id.
        :param step_id: the step id.
        :param fields: fields to change.
        """
        request = ApiRequest("PUT", self._path(pipeline_id, step_id), json=snake_fields(fields))
        return (yield from self._json(request))

    @operation
    def delete(self, pipeline_id: str, step_id: str) -> Call[None]:
        """Delete a step.

        :param pipeline_id: the pipeline id.
        :param step_id: the step id.
        """
        yield from self._json(ApiRequest("DELETE", self._path(pipeline_id, step_id)))

    @operation
    def move(self, pipeline_id: str, step_id: str, from_index: int, to_index: int) -> Call[Any]:
        """Move a step to another position.

        :param pipeline_id: the pipeline id.
        :param step_id: the step id.
        :param from_index: its current position (checked by the server).
        :param to_index: the new position.
        """
        body = {"from_index": from_index, "to_index": to_index}
        return (
            yield from self._json(ApiRequest("POST", self._path(pipeline_id, step_id, "/move"), json=body))
        )


class PipelineEvents(Resource[D]):
    """The events of a pipeline: an event step runs an API or Python script (documented body
    ``{"name", "script", "labels"}``)."""

    def _path(self, pipeline_id: str, event_id: str | None = None) -> str:
        path = f"v2/pipelines/{seg(pipeline_id)}/events"
        return path + (f"/{seg(event_id)}" if event_id is not None else "")

    @operation
    def list(self, pipeline_id: str) -> Call[builtins.list[PipelineEvent]]:
        """The events of a pipeline.

        :param pipeline_id: the pipeline id.
        """
        return (yield from self._many(ApiRequest("GET", self._path(pipeline_id)), PipelineEvent))

    @operation
    def get(self, pipeline_id: str, event_id: str) -> Call[PipelineEvent]:
        """One event.

        :param pipeline_id: the pipeline id.
        :param event_id: the event id.
        """
        return (yield from self._one(ApiRequest("GET", self._path(pipeline_id, event_id)), PipelineEvent))

    @operation
    def create(
        self, pipeline_id: str, name: str, script: str, *, labels: Sequence[str] | None = None
    ) -> Call[PipelineEvent]:
        """Create an event.

        :param pipeline_id: the pipeline id.
        :param name: its name.
        :param script: the API or Python script it runs.
        :param labels: labels.
        """
        body = drop_none(
            {"name": name, "script": script, "labels": builtins.list(labels) if labels is not None else None}
        )
        return (yield from self._one(ApiRequest("POST", self._path(pipeline_id), json=body), PipelineEvent))

    @operation
    def update(
        self,
        pipeline_id: str,
        event_id: str,
        *,
        name: str | None = None,
        script: str | None = None,
        labels: Sequence[str] | None = None,
    ) -> Call[Any]:
        """Update an event.

        :param pipeline_id: the pipeline id.
        :param event_id: the event id.
        :param name: a new name.
        :param script: a new script.
        :param labels: new labels.
        """
        body = drop_none(
            {"name": name, "script": script, "labels": builtins.list(labels) if labels is not None else None}
        )
        return (yield from self._json(ApiRequest("PUT", self._path(pipeline_id, event_id), json=body)))

    @operation
    def delete(self, pipeline_id: str, event_id: str) -> Call[None]:
        """Delete an event.

        :param pipeline_id: the pipeline id.
        :param event_id: the event id.
        """
        yield from self._json(ApiRequest("DELETE", self._path(pipeline_id, event_id)))
