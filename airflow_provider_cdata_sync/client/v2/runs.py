"""Run control over the CData Sync API v2: the :class:`~airflow_provider_cdata_sync.client.control.RunControl`
operations on jobs, transformations and pipelines, built on the v2 resources."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from airflow_provider_cdata_sync.client.control import (
    RunLog,
    StartOnce,
    Target,
    TargetStates,
    check_kind,
    newest,
    runs_started_since,
)
from airflow_provider_cdata_sync.client.errors import (
    CDataSyncError,
    CDataSyncMethodNotAllowedError,
    CDataSyncNotFoundError,
    CDataSyncUnsupportedError,
)
from airflow_provider_cdata_sync.client.http import (
    TRUNCATED_HEADER,
    ApiRequest,
    Call,
    operation,
    parse_json,
    parse_model,
    unwrap_one,
)
from airflow_provider_cdata_sync.client.models import ConnectionRef, Run, RunStatus, to_snake
from airflow_provider_cdata_sync.client.v2.common import Runnable, seg
from airflow_provider_cdata_sync.client.v2.connections import Connections
from airflow_provider_cdata_sync.client.v2.jobs import Jobs
from airflow_provider_cdata_sync.client.v2.pipelines import Pipelines
from airflow_provider_cdata_sync.client.v2.transformations import Transformations
from airflow_provider_cdata_sync.client.v2.users import Users
from airflow_provider_cdata_sync.client.v2.workspaces import Workspaces


class RunsV2(StartOnce):
    """Run control over API v2 (the resources are attached by the client classes)."""

    api_version = "v2"
    workspaces: Workspaces[Any]
    connections: Connections[Any]
    jobs: Jobs[Any]
    transformations: Transformations[Any]
    pipelines: Pipelines[Any]
    users: Users[Any]

    def _attach(self) -> None:
        self.workspaces = Workspaces(self)
        self.connections = Connections(self)
        self.jobs = Jobs(self)
        self.transformations = Transformations(self)
        self.pipelines = Pipelines(self)
        self.users = Users(self)

    def _runnable(self, target: Target) -> Runnable[Any]:
        return {"job": self.jobs, "transformation": self.transformations, "pipeline": self.pipelines}[
            check_kind(target.kind)
        ]

    # ------------------------------------------------------------------ targets
    @operation
    def resolve_target(self, kind: str, ref: str, workspace: str | None = None) -> Call[Target]:
        """Resolve a job, transformation or pipeline given by id or name, in a workspace given by id or
        name (an unknown workspace raises a lookup error listing the workspaces).

        :param kind: ``job``, ``transformation`` or ``pipeline``.
        :param ref: its id or name.
        :param workspace: workspace id or name; the connection's by default.
        """
        kind = check_kind(kind)
        try:
            return (yield from self._resolve_in(kind, ref, workspace))
        except CDataSyncNotFoundError:
            found = yield from self.workspaces.resolve.steps(workspace or self.config.workspace)
            if found.id == (workspace or self.config.workspace):
                raise
            return (yield from self._resolve_in(kind, ref, str(found.id)))

    def _resolve_in(self, kind: str, ref: str, workspace: str | None) -> Call[Target]:
        ws = workspace or self.config.workspace
        if kind == "job":
            job = yield from self.jobs.resolve.steps(ref, workspace)
            ids = yield from self._connection_ids(
                [job.source_connection, job.destination_connection], workspace
            )
            return Target("job", str(job.id), job.name, ws, ids, "v2")
        if kind == "transformation":
            item = yield from self.transformations.resolve.steps(ref, workspace)
            ids = (str(item.connection_id),) if item.connection_id else ()
            return Target("transformation", str(item.id), item.name, ws, ids, "v2")
        pipeline = yield from self.pipelines.resolve.steps(ref, workspace)
        return Target("pipeline", str(pipeline.id), pipeline.name, ws, (), "v2")

    def _connection_ids(
        self, refs: list[ConnectionRef | None], workspace: str | None
    ) -> Call[tuple[str, ...]]:
        ids: list[str] = []
        for ref in refs:
            if ref is None:
                continue
            if ref.id:
                ids.append(str(ref.id))
            elif ref.name:
                try:
                    found = yield from self.connections.resolve.steps(ref.name, workspace)
                except CDataSyncError:
                    continue  # only needed to find logs: never fail a run for it
                ids.append(str(found.id))
        return tuple(ids)

    @operation
    def resolve_tasks(self, target: Target, tasks: list[str]) -> Call[list[str]]:
        """Task ids of a job, the tasks given by id or table name.

        :param target: the job.
        :param tasks: task ids or table names.
        """
        if target.kind != "job":
            raise CDataSyncUnsupportedError(f"Only jobs run a chosen subset of tasks, not a {target.kind}.")
        found = yield from self.jobs.tasks.resolve.steps(target.id, tasks)
        return [str(task.id) for task in found]

    # ------------------------------------------------------------------ runs
    def _execute(self, target: Target, task_ids: list[str] | None) -> Call[Run]:
        if target.kind == "job":
            return (yield from self.jobs.execute.steps(target.id, task_ids))
        return (yield from self._runnable(target)._start(target.id))

    @operation
    def get_status(self, target: Target) -> Call[RunStatus]:
        """The status endpoint of the target.

        :param target: the job, transformation or pipeline.
        """
        return (yield from self._runnable(target).status.steps(target.id))

    @operation
    def current_run(self, target: Target) -> Call[Run | None]:
        """The queued or running run of the target, from its status; None when idle.

        :param target: the job, transformation or pipeline.
        """
        status = yield from self.get_status.steps(target)
        if not status.state.is_active:
            return None
        return Run(id=status.history_id, status=status.status, tasks=status.tasks)

    @operation
    def list_runs(self, target: Target) -> Call[list[Run]]:
        """The target's run history (in the server's order).

        :param target: the job, transformation or pipeline.
        """
        return (yield from self._runnable(target).history.steps(target.id))

    @operation
    def latest_run(self, target: Target) -> Call[Run | None]:
        """The most recent run in the history.

        :param target: the job, transformation or pipeline.
        """
        return newest((yield from self.list_runs.steps(target)))

    @operation
    def get_run(self, target: Target, run_id: str) -> Call[Run]:
        """One run by id; a run not yet in the history is read from the status.

        :param target: the job, transformation or pipeline.
        :param run_id: the run (history) id.
        """
        runnable = self._runnable(target)
        request = ApiRequest(
            "GET", runnable._path(target.id, f"/history/{seg(run_id)}"), accept_statuses=frozenset({404})
        )
        response: httpx.Response = yield request
        if response.status_code != 404:
            return parse_model(
                request, Run, unwrap_one(parse_json(request, response, self.profile)), self.profile
            )
        status = yield from self.get_status.steps(target)
        if status.history_id == str(run_id):
            return Run(id=status.history_id, status=status.status, tasks=status.tasks)
        raise CDataSyncNotFoundError(
            404, f"No run {run_id} of {target.label}", method="GET", path=request.path
        )

    @operation
    def cancel_run(self, target: Target) -> Call[bool]:
        """Ask the server to cancel the target's running run.

        :param target: the job, transformation or pipeline.
        """
        try:
            yield from self._runnable(target).cancel.steps(target.id)
        except CDataSyncMethodNotAllowedError as exc:
            raise CDataSyncUnsupportedError(f"This server cannot cancel a {target.kind}: {exc}") from exc
        except CDataSyncNotFoundError as exc:
            if target.kind == "transformation":
                raise CDataSyncUnsupportedError(f"This server cannot cancel a transformation: {exc}") from exc
            raise
        return True

    @operation
    def runs_since(self, target: Target, since: datetime) -> Call[list[Run]]:
        """Runs that started at or after ``since`` (with clock-skew allowance), oldest first.

        :param target: the job, transformation or pipeline.
        :param since: the cut-off (aware datetime).
        """
        return runs_started_since((yield from self.list_runs.steps(target)), since)

    @operation
    def fetch_run_log(
        self, target: Target, run: Run, tail_bytes: int | None = 1_000_000
    ) -> Call[RunLog | None]:
        """The run's log: the history record names its file, fetched through the connection logs of the
        target's connections. None when it cannot be found (that never fails a run).

        :param target: the job, transformation or pipeline.
        :param run: the run (its ``log_file``).
        :param tail_bytes: only the log's last bytes.
        """
        if not run.log_file:
            return None
        connection_ids = list(target.connection_ids)
        if target.kind == "pipeline":
            connection_ids = yield from self._pipeline_connection_ids(target)
        for connection_id in connection_ids:
            path = f"v2/connections/{seg(connection_id)}/logs/{seg(run.log_file)}/download"
            request = ApiRequest(
                "POST", path, idempotent=True, tail_bytes=tail_bytes, accept_statuses=frozenset({404, 405})
            )
            response: httpx.Response = yield request
            if not response.is_error:
                truncated = int(response.headers.get(TRUNCATED_HEADER, "0") or 0)
                return RunLog(response.text, truncated, f"connection {connection_id} log {run.log_file}")
        return None

    def _pipeline_connection_ids(self, target: Target) -> Call[list[str]]:
        ids: list[str] = []
        steps = yield from self.pipelines.steps.list.steps(target.id)
        jobs = None
        for step in steps:
            if (step.type or "").lower() == "transformation" and step.target_id:
                item = yield from self.transformations.get.steps(step.target_id)
                if item.connection_id:
                    ids.append(str(item.connection_id))
            elif step.target_id:
                if jobs is None:
                    jobs = yield from self.jobs.list.steps(target.workspace)
                for job in jobs:
                    if job.id == step.target_id:
                        for ref in (job.source_connection, job.destination_connection):
                            if ref is not None and ref.id:
                                ids.append(str(ref.id))
        return list(dict.fromkeys(ids))

    # ------------------------------------------------------------------ bulk (the shared poller)
    @operation
    def target_states(
        self, kind: str, workspace: str | None = None
    ) -> Call[dict[str, tuple[str, str | None]]]:
        """target id -> (status, last run id) for every job, transformation or pipeline of a workspace, from
        its list (every page). Entries without a status are left out: the caller then asks per run.

        :param kind: ``job``, ``transformation`` or ``pipeline``.
        :param workspace: the workspace id; the configured one by default.
        """
        states: dict[str, tuple[str, str | None]] = {}
        page = yield from self.target_states_page.steps(kind, workspace)
        seen: set[str] = set()
        while True:
            states.update(page.states)
            following = page.following
            if following is None or str(following.url) in seen:
                return states
            seen.add(str(following.url))
            page = yield from self.target_states_page.steps(kind, workspace, following)

    @operation
    def target_states_page(
        self, kind: str, workspace: str | None = None, following: ApiRequest | None = None
    ) -> Call[TargetStates]:
        """One page of a workspace list read as run states (straight from the JSON: the poller reads it
        every tick for many waits): which targets run, and their last run id.

        :param kind: ``job``, ``transformation`` or ``pipeline``.
        :param workspace: the workspace id; the configured one by default.
        :param following: the next page's request, as the previous page gave it.
        """
        path = f"v2/workspaces/{seg(workspace or self.config.workspace)}/{check_kind(kind)}s"
        page = yield from self._page(following or ApiRequest("GET", path))
        return states_of(kind, page.items, page.size, page.following)


#: Keys of list entries as the poller reads them (answers repeat the same few keys: spelt once).
_FIELD_NAMES: dict[str, str] = {}


def states_of(kind: str, items: list[Any], size: int, following: Any = None) -> TargetStates:
    """Read run states out of list entries (any key spelling: ``last_run_id``, ``LastRunId``...)."""
    names = _FIELD_NAMES
    id_keys, status_keys = ("id", f"{kind}_id"), ("status", f"{kind}_status")
    last_keys = ("last_run_id", "current_run_id", "last_history_id")
    states: dict[str, tuple[str, str | None]] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        fields: dict[str, Any] = {}
        for key, value in item.items():
            name = names.get(key)
            if name is None:
                name = names[key] = to_snake(str(key))
            fields[name] = value
        ident = next((fields[key] for key in id_keys if fields.get(key) is not None), None)
        status = next((fields[key] for key in status_keys if fields.get(key)), None)
        if ident is None or status is None:
            continue
        last = next((fields[key] for key in last_keys if fields.get(key) not in (None, "")), None)
        states[str(ident)] = (str(status), None if last is None else str(last))
    return TargetStates(states, len(items), size, following)
