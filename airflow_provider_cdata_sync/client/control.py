"""The run-control engine: one way to start, wait for and cancel a remote run, for every service.

* :class:`RunControl` is what a client offers for runs (CData Sync v2 and v1, AI Squared): resolve a
  target, start, current run, get run, cancel, runs since, fetch log.
* :class:`WaitMachine` is the waiting logic, written once as a small pure state machine (deadline, error
  budget with backoff, unknown-status budget). Blocking operators, sensors and triggers all drive it: they
  only do the I/O it asks for.
* :meth:`ControlOps.cancel_and_watch` is cancel-and-watch, written once as a sans-IO operation: it runs on
  the sync client (``on_kill``, timeouts) and the async one (trigger ``on_kill``) alike.
* :class:`RunEvent` is the typed outcome of a wait, with one ``to_payload``/``from_payload`` for triggers.

No Airflow imports: the engine is usable (and tested) on its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal, Protocol, TypeVar

from airflow_provider_cdata_sync.client.errors import (
    ConflictError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseError,
    ServerError,
    ServiceError,
    ServiceProfile,
    TransportError,
)
from airflow_provider_cdata_sync.client.http import Api, Call, Sleep, operation
from airflow_provider_cdata_sync.client.models import Run, RunState

Kind = Literal["job", "transformation", "pipeline", "sync"]
KINDS: tuple[Kind, ...] = ("job", "transformation", "pipeline", "sync")
#: The server's clock is not ours: a run that started this long before we asked may still be ours.
CLOCK_SKEW = timedelta(seconds=10)
#: How long a cancel is watched until the run reports it stopped. Below the triggerer's default 30 s
#: ``on_kill`` budget, so a trigger's ``on_kill`` finishes watching before Airflow gives up on it.
CANCEL_WAIT_SECONDS = 25.0
EventStatus = Literal["success", "failed", "cancelled", "timeout", "error"]
EVENT_STATUSES: frozenset[str] = frozenset({"success", "failed", "cancelled", "timeout", "error"})
RunT = TypeVar("RunT", bound=Run)


# ============================================================================================ targets
@dataclass(frozen=True)
class Target:
    """What runs: a job, transformation or pipeline (CData Sync) or a sync (AI Squared), resolved to its
    id. JSON-safe through :meth:`to_dict` (trigger kwargs, XCom).

    :param kind: ``job``, ``transformation``, ``pipeline`` or ``sync``.
    :param id: the server's id (v1 jobs: the name when the server gives no id).
    :param name: the name shown in messages.
    :param workspace: the workspace it was found in.
    :param connection_ids: connections whose logs hold its runs' logs (CData Sync v2).
    :param api_version: the API it was found with (saves an auto-detection in the triggerer).
    """

    kind: Kind
    id: str
    name: str
    workspace: str | None = None
    connection_ids: tuple[str, ...] = field(default_factory=tuple)
    api_version: str | None = None

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
            connection_ids=tuple(str(item) for item in data.get("connection_ids") or ()),
            api_version=data.get("api_version"),
        )

    @property
    def label(self) -> str:
        """How the target is named in messages: ``job 'NightlyLoad'``."""
        return f"{self.kind} {self.name!r}"


def check_kind(kind: str, allowed: tuple[str, ...] = ("job", "transformation", "pipeline")) -> Kind:
    """Validate a kind name."""
    if kind not in allowed:
        raise ValueError(f"Unknown kind {kind!r}: use one of {', '.join(allowed)}.")
    return kind  # type: ignore[return-value]


@dataclass(frozen=True)
class RunLog:
    """The text of a run's log (possibly only its tail) and where it came from.

    :param text: the log text.
    :param truncated_bytes: bytes cut from the start (only the tail was downloaded).
    :param source: where it came from, for messages.
    """

    text: str
    truncated_bytes: int = 0
    source: str = ""


# ============================================================================================ run lists
def newest(runs: list[RunT]) -> RunT | None:
    """The most recent run whatever the server's order (oldest-first lists are common)."""
    if not runs:
        return None
    epoch = datetime.min.replace(tzinfo=UTC)
    return max(enumerate(runs), key=lambda pair: (pair[1].start_time or epoch, pair[0]))[1]


def runs_started_since(runs: list[RunT], since: datetime, skew: timedelta = CLOCK_SKEW) -> list[RunT]:
    """Runs that started at or after ``since`` (allowing for clock skew), oldest first."""
    floor = since - skew
    started = [run for run in runs if run.start_time is not None and run.start_time >= floor]
    return sorted(started, key=lambda run: run.start_time or floor)


def after_known(runs: list[RunT], known_run_id: str | None) -> list[RunT]:
    """The runs (oldest first) that come after the known run; all of them when it is not among them."""
    ids = [run.id for run in runs]
    if known_run_id is None or known_run_id not in ids:
        return runs
    return runs[len(ids) - ids[::-1].index(known_run_id) :]


# ============================================================================================ protocol
class RunControl(Protocol):
    """What every client offers to run and watch its targets (sync form; async clients return
    coroutines). Implemented by the CData Sync v2 and v1 clients and the AI Squared client."""

    profile: ServiceProfile

    def resolve_target(self, kind: str, ref: str, workspace: str | None = None) -> Target:
        """The target given by id or name (unknown names list what exists)."""
        ...

    def resolve_tasks(self, target: Target, tasks: list[str]) -> list[str]:
        """The ids (v1: queries) of tasks given by id or table name (jobs)."""
        ...

    def start_run(self, target: Target, task_ids: list[str] | None = None) -> Run:
        """Start a run, exactly once (a lost answer is looked up, never repeated)."""
        ...

    def current_run(self, target: Target) -> Run | None:
        """The active run, None when idle."""
        ...

    def latest_run(self, target: Target) -> Run | None:
        """The most recent run."""
        ...

    def get_run(self, target: Target, run_id: str) -> Run:
        """One run by id."""
        ...

    def look(self, target: Target, run_id: str | None = None, after: datetime | None = None) -> Run | None:
        """The run a wait follows, as it is now."""
        ...

    def cancel_run(self, target: Target) -> bool:
        """Ask the server to cancel the active run; False when nothing was running."""
        ...

    def runs_since(self, target: Target, since: datetime) -> Sequence[Run]:
        """Runs started at or after ``since`` (clock skew allowed), oldest first."""
        ...

    def fetch_run_log(self, target: Target, run: Run, tail_bytes: int | None = ...) -> RunLog | None:
        """The run's log (its tail), None when there is none."""
        ...

    def cancel_and_watch(
        self, target: Target, run_id: str | None, wait_seconds: float = ...
    ) -> CancelOutcome:
        """Cancel the run if it is ours and watch until it stops."""
        ...


class RunControlClient(RunControl, Protocol):
    """A synchronous client offering run control (what :meth:`CDataSyncHook.get_client` returns)."""

    api_version: str

    def close(self) -> None:
        """Close the keep-alive connections."""
        ...


class AsyncRunControl(Protocol):
    """The asynchronous form of :class:`RunControl` (triggers)."""

    profile: ServiceProfile

    async def resolve_target(self, kind: str, ref: str, workspace: str | None = None) -> Target:
        """The target given by id or name."""
        ...

    async def current_run(self, target: Target) -> Run | None:
        """The active run, None when idle."""
        ...

    async def latest_run(self, target: Target) -> Run | None:
        """The most recent run."""
        ...

    async def get_run(self, target: Target, run_id: str) -> Run:
        """One run by id."""
        ...

    async def cancel_run(self, target: Target) -> bool:
        """Ask the server to cancel the active run."""
        ...

    async def look(
        self, target: Target, run_id: str | None = None, after: datetime | None = None
    ) -> Run | None:
        """The run a wait follows, as it is now."""
        ...

    async def runs_since(self, target: Target, since: datetime) -> Sequence[Run]:
        """Runs started at or after ``since``, oldest first."""
        ...

    async def cancel_and_watch(
        self, target: Target, run_id: str | None, wait_seconds: float = ...
    ) -> CancelOutcome:
        """Cancel the run if it is ours and watch until it stops."""
        ...

    async def aclose(self) -> None:
        """Close the keep-alive connections."""
        ...


# ============================================================================================ events
@dataclass(frozen=True)
class RunEvent:
    """The outcome of a wait: what a trigger sends back and what a blocking wait ends with.

    :param status: success, failed, cancelled (the run ended so), timeout (the wait's deadline passed) or
        error (the wait could not go on).
    :param target: the target waited for.
    :param run_id: the run's id, when known.
    :param run: the finished run, when there is one.
    :param message: what happened, for the log and the failure message.
    """

    status: EventStatus
    target: Target
    run_id: str | None
    run: Run | None
    message: str

    def to_payload(self) -> dict[str, Any]:
        """The JSON-safe trigger event payload."""
        return {
            "status": self.status,
            "target": self.target.to_dict(),
            "run_id": self.run_id,
            "run": self.run.model_dump(mode="json") if self.run is not None else None,
            "message": self.message,
        }

    @classmethod
    def from_payload(
        cls, payload: Any, *, run_model: type[Run] = Run, kinds: tuple[str, ...] = KINDS, service: str = ""
    ) -> RunEvent:
        """Validate a trigger event payload; a payload that is not one raises ``ValueError`` saying why."""
        source = f"the {service} trigger" if service else "the trigger"
        if (
            not isinstance(payload, dict)
            or payload.get("status") not in EVENT_STATUSES
            or not isinstance(payload.get("target"), dict)
        ):
            raise ValueError(f"Unexpected event from {source}: {payload!r}")
        target = Target.from_dict(payload["target"])
        if target.kind not in kinds:
            raise ValueError(
                f"{source} reported a {target.kind}, this task waits for a {' or '.join(kinds)}."
            )
        status = payload["status"]
        run_data = payload.get("run")
        if status in ("success", "failed", "cancelled") and not isinstance(run_data, dict):
            raise ValueError(f"The {status} event of {source} carries no run: {payload!r}")
        run = run_model.model_validate(run_data) if isinstance(run_data, dict) else None
        run_id = payload.get("run_id")
        return cls(
            status, target, None if run_id is None else str(run_id), run, str(payload.get("message", ""))
        )


def final_status(run: Run) -> EventStatus:
    """success / failed / cancelled for a finished run (its tasks are judged by the reporting)."""
    if run.state is RunState.CANCELLED:
        return "cancelled"
    if run.state is RunState.FAILED:
        return "failed"
    return "success"


# ============================================================================================ waiting
#: Errors worth polling through: the network, the server's 5xx/429, a garbled answer.
TRANSIENT_ERRORS: tuple[type[ServiceError], ...] = (
    TransportError,
    ServerError,
    RateLimitError,
    ResponseError,
)


def is_transient(error: BaseException) -> bool:
    """Whether a failed poll is worth repeating."""
    return isinstance(error, TRANSIENT_ERRORS) and not isinstance(error, OutcomeUnknownError)


@dataclass(frozen=True)
class WaitSettings:
    """How a wait behaves.

    :param poll_interval: seconds between looks.
    :param end_time: wall-clock deadline (epoch seconds), None for none.
    :param max_consecutive_errors: transient failures in a row before giving up.
    :param max_unknown_polls: unknown statuses in a row before giving up (never taken for success).
    :param backoff_cap: longest pause after failures.
    """

    poll_interval: float = 30.0
    end_time: float | None = None
    max_consecutive_errors: int = 5
    max_unknown_polls: int = 10
    backoff_cap: float = 300.0


@dataclass(frozen=True)
class Poll:
    """Decision: look again after ``after`` seconds."""

    after: float


@dataclass(frozen=True)
class Finished:
    """Decision: the wait is over, with this outcome."""

    event: RunEvent


Decision = Poll | Finished


@dataclass
class WaitMachine:
    """The waiting logic, pure: it is told what a look saw (or how it failed) and says what to do next.

    Looks are spaced ``poll_interval`` apart from the *start* of one look to the start of the next, so a
    look that itself waits (the shared poller's tick) is not followed by another full interval. Nothing
    here sleeps or calls the network; the clock is injectable for tests.

    :param service: the service named in messages.
    :param target: what is waited for.
    :param run_id: the run, None to follow the current (or latest) one.
    :param settings: deadline, budgets, interval.
    :param since: for history waits (``runs since``): the cut-off.
    :param fail_on_failure: for history waits: a failed run since the cut-off ends the wait.
    """

    service: str
    target: Target
    run_id: str | None
    settings: WaitSettings
    since: datetime | None = None
    fail_on_failure: bool = False
    clock: Callable[[], float] = time.time
    errors: int = 0
    unknown_polls: int = 0
    last_error: str = ""
    _look_started: float | None = None
    warnings: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ deadline
    def remaining(self) -> float | None:
        """Seconds left before the deadline (None: no deadline)."""
        end = self.settings.end_time
        return None if end is None else end - self.clock()

    def begin(self, *, immediately: bool = True) -> Decision:
        """The first decision: look now (or after one interval)."""
        return self._poll(0.0 if immediately else self.settings.poll_interval)

    def looking(self) -> None:
        """Call just before each look: intervals are counted from here."""
        self._look_started = self.clock()

    def timed_out(self) -> Finished:
        """The deadline passed."""
        message = f"Timed out waiting for {self.service} {self.target.label}."
        return Finished(RunEvent("timeout", self.target, self.run_id, None, message))

    # ------------------------------------------------------------------ observations
    def observed(self, run: Run | None) -> Decision:
        """A look at the run (None: no run yet) came back."""
        self.errors = 0
        if run is None:
            return self._next_look()
        if self.run_id is None and run.id and run.state.is_active:
            self.run_id = run.id  # follow this run from now on
        if run.state is RunState.UNKNOWN:
            return self._unknown(run)
        self.unknown_polls = 0
        if not run.state.is_terminal:
            return self._next_look()
        message = f"Run {run.id} of {self.service} {self.target.label} ended: {run.status}"
        return Finished(RunEvent(final_status(run), self.target, run.id or self.run_id, run, message))

    def observed_history(self, runs: list[Run]) -> Decision:
        """A look at the runs since the cut-off (oldest first) came back: a good one ends the wait; a
        failed one too when ``fail_on_failure``; otherwise wait on."""
        self.errors = 0
        for run in reversed(runs):  # newest first
            if run.state in (RunState.SUCCESS, RunState.WARNING) and not run.failed_tasks:
                return Finished(RunEvent("success", self.target, run.id, run, f"Run {run.id} succeeded."))
            if self.fail_on_failure and run.state.is_failure:
                message = f"Run {run.id} ended {run.status}."
                return Finished(RunEvent(final_status(run), self.target, run.id, run, message))
        return self._next_look()

    def failed(self, error: BaseException) -> Decision:
        """A look failed: poll on through transient errors (with backoff), within the budget."""
        self.errors += 1
        self.last_error = str(error)
        if not is_transient(error):
            return Finished(RunEvent("error", self.target, self.run_id, None, str(error)))
        if self.errors > self.settings.max_consecutive_errors:
            message = f"Gave up after {self.errors} consecutive failed polls of {self.service}: {error}"
            return Finished(RunEvent("error", self.target, self.run_id, None, message))
        self.warnings.append(f"Poll {self.errors} of {self.service} failed ({error}); polling on.")
        interval = self.settings.poll_interval
        backoff = min(interval * (2 ** (self.errors - 1)), max(interval, self.settings.backoff_cap))
        return self._poll(backoff)

    def take_warnings(self) -> list[str]:
        """Warnings to log since the last call (failed polls, unknown statuses)."""
        if not self.warnings:
            return []  # no fresh list kept per look: thousands of waits hold one each for an interval
        taken, self.warnings = self.warnings, []
        return taken

    # ------------------------------------------------------------------ helpers
    def _unknown(self, run: Run) -> Decision:
        self.unknown_polls += 1
        self.warnings.append(
            f"{self.service} reports an unknown status {run.status!r} for run {run.id} "
            f"({self.unknown_polls} in a row): not success; polling on."
        )
        if self.unknown_polls >= self.settings.max_unknown_polls:
            message = (
                f"{self.service} kept reporting the unknown status {run.status!r} for run {run.id} "
                f"({self.unknown_polls} polls); it is not treated as success."
            )
            return Finished(RunEvent("error", self.target, run.id or self.run_id, run, message))
        return self._next_look()

    def _next_look(self) -> Decision:
        started = self._look_started if self._look_started is not None else self.clock()
        return self._poll(max(0.0, started + self.settings.poll_interval - self.clock()))

    def _poll(self, after: float) -> Decision:
        remaining = self.remaining()
        if remaining is not None and remaining <= 0:
            return self.timed_out()
        return Poll(after if remaining is None else min(after, remaining))


# ============================================================================================ operations
@dataclass(frozen=True)
class CancelOutcome:
    """What a cancel-and-watch did.

    :param outcome: ``cancelled`` (the run stopped), ``still_running`` (asked, not stopped in time),
        ``not_running`` (nothing to cancel) or ``not_ours`` (another run is active: left alone).
    :param run: the run as last seen.
    """

    outcome: Literal["cancelled", "still_running", "not_running", "not_ours"]
    run: Run | None = None

    @property
    def message(self) -> str:
        """A sentence for the log."""
        run = self.run
        label = f"run {run.id}" if run is not None and run.id else "the run"
        return {
            "cancelled": f"{label} is now {run.status if run else 'stopped'}",
            "still_running": f"{label} had not stopped {CANCEL_WAIT_SECONDS:.0f} s after the cancel",
            "not_running": "no run was active, nothing to cancel",
            "not_ours": f"{label} is another run than this task's: left alone",
        }[self.outcome]


class ControlOps(Api):
    """Run-control operations written once on top of each client's primitives (``current_run``,
    ``get_run``, ``cancel_run``, ``runs_since``, ``start`` via ``_execute``)."""

    #: How long a run may take to appear after its start was accepted (AI Squared creates the run row
    #: asynchronously): a cancel that finds no run looks again for this long.
    run_appear_seconds: ClassVar[float] = 3.0

    current_run: Any
    get_run: Any
    cancel_run: Any
    runs_since: Any
    get_status: Any
    latest_run: Any

    @operation
    def cancel_and_watch(
        self,
        target: Target,
        run_id: str | None,
        wait_seconds: float = CANCEL_WAIT_SECONDS,
        pause: float = 1.0,
    ) -> Call[CancelOutcome]:
        """Cancel the target's run if it is the one given (or, with ``run_id`` None, the one just started),
        then watch it until it reports a final state or ``wait_seconds`` pass.

        A run that was just started may not exist yet (its start was accepted, its record not written):
        then the engine looks again, for ``run_appear_seconds``, before deciding nothing runs. A cancel
        that answers "nothing to cancel" in that gap is asked again the same way.

        :param target: the job, transformation, pipeline or sync.
        :param run_id: the run this task owns; another active run is never cancelled.
        :param wait_seconds: how long to watch the cancel take effect.
        :param pause: seconds between looks.
        """
        appear_by = time.monotonic() + self.run_appear_seconds
        while True:
            current = yield from self.current_run.steps(target)
            if current is not None and run_id and current.id and str(current.id) != str(run_id):
                return CancelOutcome("not_ours", current)
            if current is not None:
                try:
                    accepted = yield from self.cancel_run.steps(target)
                except ConflictError:
                    accepted = False  # it ended between the look and the cancel: look again
                if accepted:
                    break
            elif run_id is not None:
                run = yield from self.get_run.steps(target, run_id)
                if run.state.is_terminal or time.monotonic() >= appear_by:
                    return CancelOutcome("not_running", run)
            if time.monotonic() >= appear_by:
                return CancelOutcome("not_running", current)
            yield Sleep(pause)
        watched = str(run_id or current.id or "")
        end = time.monotonic() + wait_seconds
        run = current
        while watched:
            run = yield from self.get_run.steps(target, watched)
            if run.state.is_terminal:
                return CancelOutcome("cancelled", run)
            if time.monotonic() >= end:
                return CancelOutcome("still_running", run)
            yield Sleep(pause)
        return CancelOutcome("still_running", run)

    @operation
    def look(
        self, target: Target, run_id: str | None = None, after: datetime | None = None
    ) -> Call[Run | None]:
        """The run a wait follows, as it is now: the run ``run_id``; without an id (servers whose start
        answer has none), the active run, else the first run started at or after ``after`` (the latest run
        when ``after`` is None); None while there is none yet.

        :param target: the job, transformation, pipeline or sync.
        :param run_id: the run, when known.
        :param after: when the run was started (clock skew allowed).
        """
        if run_id:
            return (yield from self.get_run.steps(target, run_id))
        current = yield from self.current_run.steps(target)
        if current is not None:
            return current  # type: ignore[no-any-return]
        if after is None:
            return (yield from self.latest_run.steps(target))
        started = yield from self.runs_since.steps(target, after)
        return started[0] if started else None

    @operation
    def current_or_latest(self, target: Target) -> Call[Run | None]:
        """The active run, else the most recent one (None when the target never ran)."""
        current = yield from self.current_run.steps(target)
        if current is not None:
            return current  # type: ignore[no-any-return]
        return (yield from self.latest_run.steps(target))


class StartOnce(ControlOps):
    """Starting a CData Sync run exactly once, shared by both API versions: each provides ``_execute``
    and the ``get_status``, ``current_run`` and ``runs_since`` operations."""

    def _execute(self, target: Target, task_ids: list[str] | None) -> Call[Run]:
        raise NotImplementedError

    @operation
    def start_run(self, target: Target, task_ids: list[str] | None = None) -> Call[Run]:
        """Start a run and return it with its id. Never starts a second run when an answer is lost: the
        run is then looked up by status and by start time in the history.

        :param target: the job, transformation or pipeline.
        :param task_ids: only these tasks (jobs; ids from :meth:`resolve_tasks`).
        """
        known = yield from self.last_run_id.steps(target)
        asked_at = datetime.now(UTC)
        try:
            run = yield from self._execute(target, task_ids)
        except (OutcomeUnknownError, ServerError) as lost:
            if isinstance(lost, ServerError) and lost.status_code not in (502, 504):
                raise
            found = yield from self.find_started_run.steps(target, asked_at, known_run_id=known)
            if found is None:
                raise self.profile.errors.run_not_found(
                    f"The answer to starting {target.label} was lost and no run started since "
                    f"{asked_at.isoformat()} can be found; it was not started again to avoid a duplicate. "
                    f"Check the {target.kind} in the {self.profile.name} console."
                ) from lost
            return (yield from self._with_results(target, found))
        if run.id:
            return run
        found = yield from self.find_started_run.steps(target, asked_at, known_run_id=known)
        return (yield from self._with_results(target, found)) if found is not None else run

    def _with_results(self, target: Target, run: Run) -> Call[Run]:
        """A run found in the history that already ended, with its per-task results: history records carry
        none (v1 keeps them in ``getJobStatus``), and a finished run is reported without another look."""
        if not run.state.is_terminal or run.tasks or not run.id:
            return run
        return (yield from self.get_run.steps(target, run.id))  # type: ignore[no-any-return]

    @operation
    def last_run_id(self, target: Target) -> Call[str | None]:
        """The id of the target's latest run according to its status, else its history (None when unknown
        or on error).

        Taken just before starting a run, so that a lost answer is never matched with an earlier run that
        started within the clock-skew allowance.

        :param target: the job, transformation or pipeline.
        """
        try:
            status = yield from self.get_status.steps(target)
            known = status.history_id or status.last_history_id
            if known is None:  # a status without run ids (v1 getJobStatus, some v2): the history's newest
                latest = yield from self.latest_run.steps(target)
                known = latest.id if latest is not None else None
        except ServiceError:
            return None
        return known  # type: ignore[no-any-return]

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

        :param target: the job, transformation or pipeline.
        :param asked_at: when the start was asked for.
        :param attempts: looks before giving up.
        :param pause: seconds between looks.
        :param known_run_id: the latest run before the request (see :meth:`last_run_id`): neither it nor
            an earlier run is ever taken for the new one.
        """
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


__all__ = [
    "CANCEL_WAIT_SECONDS",
    "CLOCK_SKEW",
    "KINDS",
    "AsyncRunControl",
    "CancelOutcome",
    "ControlOps",
    "Decision",
    "Finished",
    "Kind",
    "Poll",
    "RunControl",
    "RunControlClient",
    "RunEvent",
    "RunLog",
    "StartOnce",
    "Target",
    "WaitMachine",
    "WaitSettings",
    "after_known",
    "check_kind",
    "final_status",
    "is_transient",
    "newest",
    "runs_started_since",
]


# ============================================================================================ bulk states
@dataclass
class TargetStates:
    """One page of a bulk answer on many targets (a workspace list, v1 ``getJobStatus`` of all jobs), as
    the shared poller reads it.

    :param states: target id -> (status word, last run id); only entries that carry a status.
    :param items: entries on the page (with or without a status).
    :param size: bytes of the answer.
    :param following: the request for the next page (always on the configured server), None on the last.
    """

    states: dict[str, tuple[str, str | None]]
    items: int
    size: int
    following: Any = None

    @property
    def carries_status(self) -> bool:
        """Whether this answer says anything about run states (an empty page says nothing either way)."""
        return bool(self.states) or self.items == 0
