"""Run control shared by operators, sensors and triggers: start, find, poll, cancel and read the log of a
run of a job, transformation or pipeline. Written once (sans-IO); served by the sync and async clients.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import httpx

from airflow_provider_cdata_sync.client.base import ApiBase, parse_model, unwrap_one
from airflow_provider_cdata_sync.client.errors import (
    CDataSyncError,
    CDataSyncMethodNotAllowedError,
    CDataSyncNotFoundError,
    CDataSyncOutcomeUnknownError,
    CDataSyncServerError,
    CDataSyncUnsupportedError,
)
from airflow_provider_cdata_sync.client.models import Run, RunStatus, to_snake
from airflow_provider_cdata_sync.client.runner import TRUNCATED_HEADER, operation
from airflow_provider_cdata_sync.client.transport import ApiRequest, Call, Sleep, parse_json
from airflow_provider_cdata_sync.client.v2 import V2Api, seg

Kind = Literal["job", "transformation", "pipeline"]
KINDS: tuple[Kind, ...] = ("job", "transformation", "pipeline")
#: The server's clock is not ours: a run that started this long before we asked may still be ours.
CLOCK_SKEW = timedelta(seconds=10)


class CDataSyncRunNotFoundError(CDataSyncError):
    """A run that should exist could not be found (for example after a lost answer to execute)."""


@dataclass(frozen=True)
class Target:
    """A job, transformation or pipeline resolved to its id; JSON-safe through :meth:`to_dict`."""

    kind: Kind
    id: str
    name: str
    workspace: str | None = None
    connection_ids: tuple[str, ...] = field(default_factory=tuple)
    api_version: str | None = None  # the API the target was found with (saves an auto-detection)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (for trigger kwargs and XCom)."""
        data = asdict(self)
        data["connection_ids"] = list(self.connection_ids)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Target:
        """Rebuild from :meth:`to_dict`."""
        return cls(
            kind=data["kind"],
            id=str(data["id"]),
            name=str(data.get("name") or data["id"]),
            workspace=data.get("workspace"),
            connection_ids=tuple(data.get("connection_ids") or ()),
            api_version=data.get("api_version"),
        )


@dataclass(frozen=True)
class RunLog:
    """The text of a run's log (possibly only its tail) and where it came from."""

    text: str
    truncated_bytes: int = 0
    source: str = ""


def check_kind(kind: str) -> Kind:
    """Validate a kind name."""
    if kind not in KINDS:
        raise ValueError(f"Unknown kind {kind!r}: use one of {', '.join(KINDS)}.")
    return kind  # type: ignore[return-value]


def newest(runs: list[Run]) -> Run | None:
    """The most recent run whatever the server's order (oldest-first lists are common)."""
    if not runs:
        return None
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    return max(enumerate(runs), key=lambda pair: (pair[1].start_time or epoch, pair[0]))[1]


def runs_started_since(runs: list[Run], since: datetime, skew: timedelta = CLOCK_SKEW) -> list[Run]:
    """Runs that started at or after ``since`` (allowing for clock skew), oldest first."""
    floor = since - skew
    started = [run for run in runs if run.start_time is not None and run.start_time >= floor]
    return sorted(started, key=lambda run: run.start_time or floor)


def after_known(runs: list[Run], known_run_id: str | None) -> list[Run]:
    """The runs (oldest first) that come after the known run; all of them when it is not among them."""
    ids = [run.id for run in runs]
    if known_run_id is None or known_run_id not in ids:
        return runs
    return runs[len(ids) - ids[::-1].index(known_run_id) :]


class StartOnce(ApiBase):
    """Starting a run exactly once, shared by both API versions: each provides ``_execute`` and the
    ``get_status``, ``current_run`` and ``runs_since`` operations."""

    get_status: Any
    current_run: Any
    runs_since: Any

    def _execute(self, target: Target, task_ids: list[str] | None) -> Call[Run]:
        raise NotImplementedError

    @operation
    def start_run(self, target: Target, task_ids: list[str] | None = None) -> Call[Run]:
        """Start a run and return it with its id. Never starts a second run when an answer is lost:
        the run is then looked up by status and by start time in the history."""
        known = yield from self.last_run_id.steps(target)
        asked_at = datetime.now(timezone.utc)
        try:
            run = yield from self._execute(target, task_ids)
        except (CDataSyncOutcomeUnknownError, CDataSyncServerError) as lost:
            if isinstance(lost, CDataSyncServerError) and lost.status_code not in (502, 504):
                raise
            found = yield from self.find_started_run.steps(target, asked_at, known_run_id=known)
            if found is None:
                raise CDataSyncRunNotFoundError(
                    f"The answer to starting {target.kind} {target.name!r} was lost and no run started since "
                    f"{asked_at.isoformat()} can be found; it was not started again to avoid a duplicate. "
                    f"Check the {target.kind} in the Sync console."
                ) from lost
            return found
        if run.id:
            return run
        found = yield from self.find_started_run.steps(target, asked_at, known_run_id=known)
        return found or run

    @operation
    def last_run_id(self, target: Target) -> Call[str | None]:
        """The id of the target's latest run according to its status (None when unknown or on error).

        Taken just before starting a run, so that a lost answer is never matched with an earlier run that
        started within the clock-skew allowance."""
        try:
            status = yield from self.get_status.steps(target)
        except CDataSyncError:
            return None
        return status.history_id or status.last_history_id  # type: ignore[no-any-return]

    @operation
    def find_started_run(
        self,
        target: Target,
        asked_at: datetime,
        attempts: int = 4,
        pause: float = 1.0,
        known_run_id: str | None = None,
    ) -> Call[Run | None]:
        """The run started at or after ``asked_at``: the current run if active, else the history.

        :param known_run_id: the latest run before the request (see :meth:`last_run_id`): neither it nor
            an earlier run is ever taken for the new one."""
        for attempt in range(attempts):
            current = yield from self.current_run.steps(target)
            if current is not None and current.id and current.id != known_run_id:
                return current  # type: ignore[no-any-return]
            started = after_known((yield from self.runs_since.steps(target, asked_at)), known_run_id)
            if started:
                return started[-1]
            if attempt + 1 < attempts:
                yield Sleep(pause)
        return None


class RunsApi(V2Api, StartOnce):
    """Run control over API v2."""

    api_version = "v2"

    def _path(self, target: Target) -> str:
        return f"v2/{target.kind}s/{seg(target.id)}"

    @operation
    def resolve_target(self, kind: str, ref: str, workspace: str | None = None) -> Call[Target]:
        """Resolve a job, transformation or pipeline given by id or name, in a workspace given by id or name
        (an unknown workspace raises :class:`CDataSyncLookupError` listing the workspaces)."""
        kind = check_kind(kind)
        try:
            return (yield from self._resolve_target_in(kind, ref, workspace))
        except CDataSyncNotFoundError:
            found = yield from self.resolve_workspace.steps(workspace or self.config.workspace)
            if found.id == (workspace or self.config.workspace):
                raise
            return (yield from self._resolve_target_in(kind, ref, str(found.id)))

    def _resolve_target_in(self, kind: Kind, ref: str, workspace: str | None) -> Call[Target]:
        ws = workspace or self.config.workspace
        if kind == "job":
            job = yield from self.resolve_job.steps(ref, workspace)
            connection_ids = yield from self._connection_ids(
                [job.source_connection, job.destination_connection], workspace
            )
            return Target("job", str(job.id), job.name, ws, connection_ids, "v2")
        if kind == "transformation":
            item = yield from self.resolve_transformation.steps(ref, workspace)
            ids = (str(item.connection_id),) if item.connection_id else ()
            return Target("transformation", str(item.id), item.name, ws, ids, "v2")
        pipeline = yield from self.resolve_pipeline.steps(ref, workspace)
        return Target("pipeline", str(pipeline.id), pipeline.name, ws, (), "v2")

    def _connection_ids(self, refs: list[Any], workspace: str | None) -> Call[tuple[str, ...]]:
        ids: list[str] = []
        for ref in refs:
            if ref is None:
                continue
            if ref.id:
                ids.append(str(ref.id))
            elif ref.name:
                try:
                    found = yield from self.resolve_connection.steps(ref.name, workspace)
                except CDataSyncError:
                    continue  # only needed to find logs: never fail a run for it
                ids.append(str(found.id))
        return tuple(ids)

    @operation
    def target_states(
        self, kind: str, workspace: str | None = None
    ) -> Call[dict[str, tuple[str | None, str | None]]]:
        """target id -> (status, last run id) for every job/transformation/pipeline of a workspace, from one
        list (read straight from the JSON: this runs every poll tick for many waits). Entries without a
        status are left out: the caller then asks per run."""
        path = f"v2/workspaces/{seg(self._workspace(workspace))}/{check_kind(kind)}s"
        states: dict[str, tuple[str | None, str | None]] = {}
        for item in (yield from self._raw_items(ApiRequest("GET", path))):
            fields = {to_snake(str(key)): value for key, value in item.items()}
            ident = fields.get("id") or fields.get(f"{kind}_id")
            status = fields.get("status") or fields.get(f"{kind}_status")
            if ident is None or status is None:
                continue
            last = fields.get("last_run_id") or fields.get("current_run_id") or fields.get("last_history_id")
            states[str(ident)] = (str(status), None if last in (None, "") else str(last))
        return states

    @operation
    def resolve_tasks(self, target: Target, tasks: list[str]) -> Call[list[str]]:
        """Task ids of a job (tasks given by id or table name)."""
        if target.kind != "job":
            raise CDataSyncUnsupportedError(f"Only jobs run a chosen subset of tasks, not a {target.kind}.")
        found = yield from self.resolve_job_tasks.steps(target.id, tasks)
        return [str(task.id) for task in found]

    def _execute(self, target: Target, task_ids: list[str] | None) -> Call[Run]:
        body = {"tasks": task_ids} if task_ids is not None else None
        answer = yield from self._json(ApiRequest("POST", f"{self._path(target)}/execute", json=body))
        return Run.model_validate(answer if isinstance(answer, dict) else {})

    @operation
    def current_run(self, target: Target) -> Call[Run | None]:
        """The queued or running run of the target, from its status; None when idle."""
        status = yield from self.get_status.steps(target)
        if not status.state.is_active:
            return None
        return Run(id=status.history_id, status=status.status, tasks=status.tasks)

    @operation
    def get_status(self, target: Target) -> Call[RunStatus]:
        """The status endpoint of the target."""
        return (yield from self._one(ApiRequest("GET", f"{self._path(target)}/status"), RunStatus))

    @operation
    def list_runs(self, target: Target) -> Call[list[Run]]:
        """The target's run history (server order)."""
        return (yield from self._many(ApiRequest("GET", f"{self._path(target)}/history"), Run))

    @operation
    def latest_run(self, target: Target) -> Call[Run | None]:
        """The most recent run in the history."""
        runs = yield from self.list_runs.steps(target)
        return newest(runs)

    @operation
    def get_run(self, target: Target, run_id: str) -> Call[Run]:
        """One run by id; a run not yet in the history is read from the status."""
        request = ApiRequest(
            "GET", f"{self._path(target)}/history/{seg(run_id)}", accept_statuses=frozenset({404})
        )
        response: httpx.Response = yield request
        if response.status_code != 404:
            return parse_model(request, Run, unwrap_one(parse_json(request, response)))
        status = yield from self.get_status.steps(target)
        if status.history_id == str(run_id):
            return Run(id=status.history_id, status=status.status, tasks=status.tasks)
        raise CDataSyncNotFoundError(
            404, f"No run {run_id} of {target.kind} {target.name!r}", method="GET", path=request.path
        )

    @operation
    def cancel_run(self, target: Target) -> Call[bool]:
        """Ask the server to cancel the target's running run. False when nothing was running."""
        request = ApiRequest("POST", f"{self._path(target)}/cancel", idempotent=True)
        try:
            yield from self._json(request)
        except CDataSyncMethodNotAllowedError as exc:
            raise CDataSyncUnsupportedError(f"This server cannot cancel a {target.kind}: {exc}") from exc
        except CDataSyncNotFoundError as exc:
            if target.kind == "transformation":
                raise CDataSyncUnsupportedError(f"This server cannot cancel a transformation: {exc}") from exc
            raise
        return True

    @operation
    def runs_since(self, target: Target, since: datetime) -> Call[list[Run]]:
        """Runs that started at or after ``since`` (with clock-skew allowance), oldest first."""
        runs = yield from self.list_runs.steps(target)
        return runs_started_since(runs, since)

    @operation
    def fetch_run_log(
        self, target: Target, run: Run, tail_bytes: int | None = 1_000_000
    ) -> Call[RunLog | None]:
        """The run's log: the history record names its file, fetched through the connection logs of the
        target's connections. None when it cannot be found (that never fails a run)."""
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
        steps = yield from self.list_pipeline_steps.steps(target.id)
        jobs = None
        for step in steps:
            if (step.type or "").lower() == "transformation" and step.target_id:
                item = yield from self.get_transformation.steps(step.target_id)
                if item.connection_id:
                    ids.append(str(item.connection_id))
            elif step.target_id:
                if jobs is None:
                    jobs = yield from self.list_jobs.steps(target.workspace)
                for job in jobs:
                    if job.id == step.target_id:
                        for ref in (job.source_connection, job.destination_connection):
                            if ref is not None and ref.id:
                                ids.append(str(ref.id))
        return list(dict.fromkeys(ids))
