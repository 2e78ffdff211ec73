"""Run control over the CData Sync API v1 (OData): the same operations and results as over v2, for jobs
and transformations (pipelines need v2), without depending on ``$filter`` or on run ids in answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow_provider_cdata_sync.client.control import RunLog, StartOnce, Target, TargetStates, check_kind
from airflow_provider_cdata_sync.client.errors import (
    CDataSyncNotFoundError,
    CDataSyncUnsupportedError,
    NotFoundError,
    ServiceError,
)
from airflow_provider_cdata_sync.client.http import Call, operation, resolve
from airflow_provider_cdata_sync.client.models import Run, RunStatus, SyncModel, TaskRun
from airflow_provider_cdata_sync.client.v1.common import DEFAULT_WORKSPACES
from airflow_provider_cdata_sync.client.v1.connections import Connections
from airflow_provider_cdata_sync.client.v1.history import History
from airflow_provider_cdata_sync.client.v1.jobs import Jobs
from airflow_provider_cdata_sync.client.v1.tasks import Tasks
from airflow_provider_cdata_sync.client.v1.transformations import Transformations
from airflow_provider_cdata_sync.client.v1.users import Users
from airflow_provider_cdata_sync.client.v1.workspaces import Workspaces

V2_ONLY = "needs the CData Sync API v2 (Sync 26.x): set the connection extra api_version to v2"


class RunsV1(StartOnce):
    """Run control over API v1 (the resources are attached by the client classes)."""

    api_version = "v1"
    jobs: Jobs[Any]
    connections: Connections[Any]
    tasks: Tasks[Any]
    transformations: Transformations[Any]
    users: Users[Any]
    history: History[Any]
    workspaces: Workspaces[Any]

    def _attach(self) -> None:
        self.jobs = Jobs(self)
        self.connections = Connections(self)
        self.tasks = Tasks(self)
        self.transformations = Transformations(self)
        self.users = Users(self)
        self.history = History(self)
        self.workspaces = Workspaces(self)
        #: workspace name -> id, filled as names are resolved (every v1 call names the workspace by id).
        self.workspace_ids: dict[str, str] = {}
        #: whether this server honours ``$filter`` on history (None: not tried yet).
        self.history_filter_ok: bool | None = None

    # ------------------------------------------------------------------ targets
    @operation
    def resolve_target(self, kind: str, ref: str, workspace: str | None = None) -> Call[Target]:
        """Resolve a job or transformation given by id or name (pipelines need v2), in a workspace given
        by id or name.

        :param kind: ``job`` or ``transformation``.
        :param ref: its id or name.
        :param workspace: workspace id or name; the connection's by default.
        """
        kind = check_kind(kind)
        if kind == "pipeline":
            raise CDataSyncUnsupportedError(f"Pipelines: this {V2_ONLY}.")
        ws = yield from self._workspace(workspace)
        found: SyncModel
        if kind == "job":
            found = yield from self.jobs.resolve.steps(ref, ws)
        else:
            found = yield from self.transformations.resolve.steps(ref, ws)
        name = str(getattr(found, "name"))  # noqa: B009 - both models have a name
        return Target(kind, str(getattr(found, "id", None) or name), name, ws, (), "v1")

    def _workspace(self, workspace: str | None) -> Call[str | None]:
        """The workspace's id (v1 calls name it by id); names are looked up once."""
        chosen = workspace if workspace not in DEFAULT_WORKSPACES else self.config.workspace
        if chosen in DEFAULT_WORKSPACES:
            return None
        if chosen in self.workspace_ids:
            return self.workspace_ids[chosen]
        try:
            found = yield from self.workspaces.resolve.steps(chosen)
        except NotFoundError:
            return str(chosen)  # a server without a workspaces set: take it as an id
        self.workspace_ids[str(chosen)] = str(found.id)
        return str(found.id)

    @operation
    def resolve_tasks(self, target: Target, tasks: list[str]) -> Call[list[str]]:
        """The queries of the chosen tasks (by task id or table name): v1 runs them with ``executeQuery``.

        :param target: the job.
        :param tasks: task ids or table names.
        """
        if target.kind != "job":
            raise CDataSyncUnsupportedError(f"Only jobs run a chosen subset of tasks, not a {target.kind}.")
        known = yield from self.tasks.list.steps(target.name, target.workspace)
        lookup = self.profile.errors.lookup
        found = [resolve("task", known, str(ref), lambda t: t.id, lambda t: t.table, lookup) for ref in tasks]
        return [str(task.query) for task in found]

    # ------------------------------------------------------------------ runs
    def _execute(self, target: Target, task_ids: list[str] | None) -> Call[Run]:
        """``executeJob`` (``executeQuery`` for chosen queries) without waiting for results."""
        if task_ids:
            rows = yield from self.jobs.execute_query.steps(target.name, task_ids, workspace=target.workspace)
        else:
            rows = yield from self.jobs.execute.steps(target.name, workspace=target.workspace)
        run_id = next(
            (row.run_id or row.extra("history_id") for row in rows if row.run_id or row.extra("history_id")),
            None,
        )
        started = next((row.start_time for row in rows if row.start_time), None)
        return Run(id=run_id, status="Running", job_id=target.id, job_name=target.name, start_time=started)

    @operation
    def get_status(self, target: Target) -> Call[RunStatus]:
        """``getJobStatus`` of the target as a :class:`RunStatus`, from either answer shape: one top-level
        object (``Status``, ``Queries``, ``JobId``, ``JobName``) or one row per query with ``JobStatus``.

        :param target: the job or transformation.
        """
        rows = yield from self.jobs.status.steps(target.name, target.workspace)
        return status_from_rows(rows)

    @operation
    def current_run(self, target: Target) -> Call[Run | None]:
        """The running run (its id when the server says it), or None when idle.

        :param target: the job or transformation.
        """
        status = yield from self.get_status.steps(target)
        if not status.state.is_active:
            return None
        return Run(id=status.history_id, status=status.status, tasks=status.tasks, job_name=target.name)

    @operation
    def list_runs(self, target: Target) -> Call[list[Run]]:
        """The target's history, oldest first.

        :param target: the job or transformation.
        """
        runs = yield from self.history.recent.steps(job=target.name, workspace=target.workspace)
        return list(reversed(runs))

    @operation
    def latest_run(self, target: Target) -> Call[Run | None]:
        """The most recent run.

        :param target: the job or transformation.
        """
        runs = yield from self.history.recent.steps(job=target.name, limit=1, workspace=target.workspace)
        return runs[0] if runs else None

    @operation
    def runs_since(self, target: Target, since: datetime) -> Call[list[Run]]:
        """Runs started at or after ``since`` (clock skew allowed), oldest first.

        :param target: the job or transformation.
        :param since: the cut-off (aware datetime).
        """
        runs = yield from self.history.recent.steps(job=target.name, since=since, workspace=target.workspace)
        return list(reversed(runs))

    @operation
    def get_run(self, target: Target, run_id: str) -> Call[Run]:
        """One run from the history, with its per-task results when the status still describes it; a run
        not in the history yet is read from the status.

        :param target: the job or transformation.
        :param run_id: the run (history) id.
        """
        runs = yield from self.history.recent.steps(
            job=target.name, run_id=str(run_id), limit=1, workspace=target.workspace
        )
        status = yield from self.get_status.steps(target)
        same = status.last_history_id in (None, str(run_id))
        tasks = status.tasks if same else []
        if not runs:
            if status.history_id == str(run_id) or (
                status.history_id is None and status.state.is_active and same
            ):
                return Run(id=str(run_id), status=status.status, tasks=tasks, job_name=target.name)
            raise CDataSyncNotFoundError(
                404, f"No run {run_id} of {target.label}", method="GET", path="/api.rsc/history"
            )
        run = runs[0]
        if tasks and not run.tasks and status.history_id is None and not status.state.is_active:
            run = run.model_copy(update={"tasks": tasks})
        return run

    @operation
    def cancel_run(self, target: Target) -> Call[bool]:
        """``cancelJob``.

        :param target: the job or transformation.
        """
        yield from self.jobs.cancel.steps(target.name, target.workspace)
        return True

    @operation
    def fetch_run_log(
        self, target: Target, run: Run, tail_bytes: int | None = 1_000_000
    ) -> Call[RunLog | None]:
        """The job's log for this run (``getlogs``/``getJobLog``, as text); None when the server has none.

        :param target: the job or transformation.
        :param run: the run.
        :param tail_bytes: keep only the log's last bytes.
        """
        started = run.start_time or datetime.now(UTC)
        days = max(1, (datetime.now(UTC) - started).days + 1)
        try:
            text = yield from self.jobs.logs.steps(
                target.name, days=days, history_id=run.id, workspace=target.workspace
            )
        except ServiceError:
            return None
        if not text:
            return None
        data = text.encode("utf-8")
        dropped = max(len(data) - tail_bytes, 0) if tail_bytes else 0
        return RunLog(
            data[dropped:].decode("utf-8", "replace"), dropped, f"log of {target.label} run {run.id}"
        )

    # ------------------------------------------------------------------ bulk (the shared poller)
    @operation
    def target_states_page(
        self, kind: str, workspace: str | None = None, following: Any = None
    ) -> Call[TargetStates]:
        """Every job's state from one ``getJobStatus`` without a job (v1 has no paging here, and no bulk
        answer for transformations: those are asked per run).

        :param kind: ``job`` (anything else is unsupported).
        :param workspace: the workspace id or name; the configured one by default.
        :param following: unused (one page).
        """
        if check_kind(kind) != "job":
            raise CDataSyncUnsupportedError(f"API v1 reports no bulk state of {kind}s.")
        ws = yield from self._workspace(workspace)
        rows = yield from self.jobs.status.steps(None, ws)
        states: dict[str, tuple[str, str | None]] = {}
        for row in rows:
            status = row.get("Status") or row.get("JobStatus")
            if not status or row.get("Query") or "Queries" in row:
                continue  # a per-task row (one job's status): not a bulk answer
            last = row.get("LastRunId") or row.get("HistoryId")
            entry = (str(status), None if last in (None, "") else str(last))
            for ident in (row.get("JobId"), row.get("JobName")):
                if ident not in (None, ""):
                    states[str(ident)] = entry
        # getJobStatus answers are not paged and carry no size: about 150 bytes a row.
        return TargetStates(states, len(rows), 150 * len(rows))


def status_from_rows(rows: list[dict[str, Any]]) -> RunStatus:
    """A :class:`RunStatus` from a ``getJobStatus`` answer, whichever shape it has."""
    top = rows[0] if len(rows) == 1 and ("Queries" in rows[0] or "queries" in rows[0]) else None
    if top is not None:
        status = RunStatus.model_validate(top)
        active = status.state.is_active
        return status.model_copy(
            update={
                "history_id": status.history_id if active else None,
                "last_history_id": status.last_history_id or status.history_id,
            }
        )
    tasks = [TaskRun.model_validate(row) for row in rows]
    words = [row.get("JobStatus") for row in rows if row.get("JobStatus")]
    if words:
        word = str(words[0])
    elif rows and len(rows) == 1 and rows[0].get("Status") and not rows[0].get("Query"):
        word = str(rows[0]["Status"])
        tasks = []
    elif any(task.state.is_active for task in tasks):
        word = "Running"
    else:
        word = "Idle"
    history_id = next((str(row["HistoryId"]) for row in rows if row.get("HistoryId") is not None), None)
    active = RunStatus(status=word).state.is_active
    return RunStatus(
        status=word, history_id=history_id if active else None, last_history_id=history_id, tasks=tasks
    )
