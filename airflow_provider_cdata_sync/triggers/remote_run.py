"""The trigger that waits for a remote run, written once for every service: it drives the engine's
:class:`~airflow_provider_cdata_sync.client.control.WaitMachine` with asynchronous looks, through the
triggerer's shared poller when it can, and sends back a typed
:class:`~airflow_provider_cdata_sync.client.control.RunEvent`.

Kwargs are JSON-safe (plain dicts, strings and numbers), so a trigger rebuilt from its serialised form in a
new triggerer process resumes where it was. Nothing here blocks the event loop: the connection is looked up
the async way, and every call goes through the async client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_cdata_sync.client.control import (
    AsyncRunControl,
    Decision,
    Finished,
    Poll,
    Target,
    WaitMachine,
    WaitSettings,
    final_status,
    is_transient,
)
from airflow_provider_cdata_sync.client.errors import ServiceError, ServiceProfile
from airflow_provider_cdata_sync.client.models import Run


class RemoteRunTrigger(BaseTrigger):
    """Wait for a run of a target: the run ``run_id``; without an id, the active run or the first one
    started at or after ``after``; or, with ``since``, the first good run since then (history waits).

    :param conn_id: the Airflow connection.
    :param target: the target as :meth:`Target.to_dict` gives it.
    :param run_id: the run to wait for.
    :param poll_interval: seconds between looks.
    :param end_time: wall-clock deadline (epoch seconds); a ``timeout`` event when it passes.
    :param max_consecutive_errors: transient failures in a row before an ``error`` event.
    :param max_unknown_polls: unknown statuses in a row before an ``error`` event.
    :param cancel_on_kill: cancel the run when the deferred task is killed (operators; never sensors).
        Default: True for run waits, False for history waits.
    :param coalesce: share the triggerer's poller with other waits on the same server.
    :param after: ISO time: without ``run_id``, follow the first run started at or after it.
    :param since: ISO time: wait for a good run started since then (history waits).
    :param fail_on_failure: with ``since``: a failed run since then ends the wait too.
    """

    profile: ClassVar[ServiceProfile]
    run_model: ClassVar[type[Run]] = Run

    def __init__(
        self,
        conn_id: str,
        target: dict[str, Any],
        run_id: str | None = None,
        poll_interval: float = 30.0,
        end_time: float | None = None,
        max_consecutive_errors: int = 5,
        max_unknown_polls: int = 10,
        cancel_on_kill: bool | None = None,
        coalesce: bool = True,
        after: str | None = None,
        since: str | None = None,
        fail_on_failure: bool = False,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.target = dict(target)
        self.run_id = None if run_id in (None, "") else str(run_id)
        self.poll_interval = float(poll_interval)
        self.end_time = float(end_time) if end_time is not None else None
        self.max_consecutive_errors = int(max_consecutive_errors)
        self.max_unknown_polls = int(max_unknown_polls)
        self.cancel_on_kill = (since is None) if cancel_on_kill is None else bool(cancel_on_kill)
        self.coalesce = bool(coalesce)
        self.after = after
        self.since = since
        self.fail_on_failure = bool(fail_on_failure)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and JSON-safe kwargs."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "target": self.target,
                "run_id": self.run_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "max_consecutive_errors": self.max_consecutive_errors,
                "max_unknown_polls": self.max_unknown_polls,
                "cancel_on_kill": self.cancel_on_kill,
                "coalesce": self.coalesce,
                "after": self.after,
                "since": self.since,
                "fail_on_failure": self.fail_on_failure,
            },
        )

    # ------------------------------------------------------------------ to implement
    async def client(self) -> AsyncRunControl:
        """A new async client for the connection (the caller closes it)."""
        raise NotImplementedError

    def poller(self) -> Any:
        """The triggerer's shared poller for this wait (None: the wait polls with a client of its own)."""
        return None

    async def source(self) -> Any:
        """What the looks go through: the triggerer's shared poller (``coalesce=False``: the one that asks
        at once, on the same shared client), else a client of this trigger's own."""
        poller = self.poller()
        return poller if poller is not None else await self.client()

    # ------------------------------------------------------------------ the wait
    @property
    def parsed_target(self) -> Target:
        """The target as a :class:`Target`."""
        return Target.from_dict(self.target)

    def machine(self) -> WaitMachine:
        """The wait's state machine (deadline, error and unknown-status budgets)."""
        settings = WaitSettings(
            self.poll_interval, self.end_time, self.max_consecutive_errors, self.max_unknown_polls
        )
        since = datetime.fromisoformat(self.since) if self.since else None
        return WaitMachine(
            self.profile.name, self.parsed_target, self.run_id, settings, since, self.fail_on_failure
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Look until the run finishes, the deadline passes or errors pile up; then send the outcome."""
        machine = self.machine()
        source = await self.source()
        try:
            try:
                # One deadline for the whole wait (pauses included), not one per look: a timer per look
                # is thousands of timers a tick in a busy triggerer, each one more object to collect.
                async with asyncio.timeout(machine.remaining()):
                    decision = await self._wait(source, machine)
            except TimeoutError:
                decision = machine.timed_out()
            self.run_id = decision.event.run_id or machine.run_id
            yield TriggerEvent(decision.event.to_payload())
        except asyncio.CancelledError:
            self.log.info("Stopped waiting for %s %s.", self.profile.name, machine.target.label)
            raise
        finally:
            await self.release(source)

    async def _wait(self, source: Any, machine: WaitMachine) -> Finished:
        """Look until the machine decides the wait is over (the deadline is the caller's)."""
        # A shared poller paces the looks itself (each is answered at its next tick): asking again at
        # once keeps the wait in every tick, one answer per interval, with no drift between the two
        # clocks. After a failure the machine's backoff holds.
        paced = bool(getattr(source, "paces", False))
        decision: Decision = machine.begin()
        failed = False
        while isinstance(decision, Poll):
            pause = decision.after if failed or not paced else 0.0
            del decision  # not held through the look: one object fewer per wait per tick to collect
            if pause > 0:
                await asyncio.sleep(pause)
            machine.looking()
            failed = False
            try:
                seen = await self.look(source, machine)
            except ServiceError as exc:
                failed = True
                decision = machine.failed(exc)
            else:
                decision = machine.observed_history(seen) if self.since else machine.observed(seen)
            # Keep the run once it is known: serialised again (or killed), the trigger means that run.
            self.run_id = machine.run_id or self.run_id
            for warning in machine.take_warnings():
                self.log.warning("%s", warning)
        assert isinstance(decision, Finished)
        return decision

    def look(self, source: Any, machine: WaitMachine) -> Awaitable[Any]:
        """One look: the runs since the cut-off (history waits), else the run followed. Returns the
        awaitable answer (not a coroutine of its own: a shared poller answers thousands of looks a tick,
        each held for an interval, and every level held is one more object to collect).

        :param source: the trigger's shared poller or its own client.
        :param machine: the wait's state machine (target, run followed, cut-off).
        """
        target = machine.target
        if self.since:
            return source.runs_since(target, machine.since)  # type: ignore[no-any-return]
        after = datetime.fromisoformat(self.after) if self.after else None
        return source.look(target, machine.run_id, after)  # type: ignore[no-any-return]

    async def release(self, source: Any) -> None:
        """Give the source back (close this trigger's own client)."""
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()

    # ------------------------------------------------------------------ kill
    async def on_kill(self) -> None:
        """When the user kills the deferred task (marks it failed, clears it): cancel the run if it is still
        this task's run, and watch it stop (never for sensors, which only watch).

        Airflow 3.3.2's triggerer cancels a trigger again about every second until it ends, which would
        interrupt the cancel half-way: the cancel runs in a task of its own that those repeated cancels
        cannot reach, and is waited for (within its own 25 s bound). And Airflow also calls ``on_kill``
        when it moves a trigger away from a triggerer that only lagged (apache/airflow#73454): then the task
        is still deferred, another triggerer waits on the run, and nothing is cancelled."""
        if not self.cancel_on_kill:
            return
        target = self.parsed_target
        if await self.task_still_deferred():
            self.log.info(
                "The task of %s %s run %s is still deferred (its trigger moved to another triggerer): "
                "the run "
                "is not cancelled.",
                self.profile.name,
                target.label,
                self.run_id,
            )
            return
        cancel = asyncio.ensure_future(self._cancel_and_watch(target))
        while not cancel.done():
            try:
                await asyncio.shield(cancel)
            except asyncio.CancelledError as exc:
                if not _is_user_action(exc):  # the triggerer is shutting down: let it
                    raise

    async def _cancel_and_watch(self, target: Target) -> None:
        try:
            client = await self.client()
            try:
                self.log.warning("Cancelling %s %s run %s.", self.profile.name, target.label, self.run_id)
                outcome = await client.cancel_and_watch(target, self.run_id)
            finally:
                await client.aclose()
        except ServiceError as exc:
            self.log.warning("Could not cancel %s %s: %s", self.profile.name, target.label, exc)
            return
        self.log.info("%s %s: %s.", self.profile.name, target.label, outcome.message)

    async def task_still_deferred(self) -> bool:
        """Whether this trigger's task instance is still deferred (asked of Airflow; False when it cannot
        be asked, so that the run is cancelled as the user asked)."""
        ti = getattr(self, "task_instance", None)
        if ti is None:
            return False
        try:
            from airflow.sdk.execution_time import task_runner
            from airflow.sdk.execution_time.comms import GetTaskStates

            comms = task_runner.SUPERVISOR_COMMS
            answer = await comms.asend(
                GetTaskStates(
                    dag_id=ti.dag_id, task_ids=[ti.task_id], run_ids=[ti.run_id], map_index=ti.map_index
                )
            )
            states = answer.task_states.get(ti.run_id, {})  # type: ignore[union-attr]
            state = next(iter(states.values()), None) if isinstance(states, dict) else None
        except Exception as exc:  # Airflow < 3.2, a test without a triggerer, an API hiccup
            self.log.debug("Cannot ask the task's state (%s): cancelling as asked.", exc)
            return False
        return str(getattr(state, "value", state)) == "deferred"


def _is_user_action(error: asyncio.CancelledError) -> bool:
    """Whether a cancel came from the triggerer's user-action path (repeated while on_kill runs)."""
    return bool(error.args) and error.args[0] == "__airflow_user_action__"


# ============================================================================================ watchers
try:  # Airflow 3: event triggers for asset watchers; on 2.11 the compat name is BaseTrigger
    from airflow.providers.common.compat.triggers import BaseEventTrigger
except ImportError:  # pragma: no cover - an older common-compat
    from airflow.triggers.base import BaseEventTrigger  # type: ignore[no-redef,attr-defined]

#: Runs that finished this long before a watcher first started are looked at (and marked seen, never fired):
#: a run that started earlier but finishes after the watcher started still fires.
FIRST_LOOK_BACK = timedelta(days=1)
#: The watermark keeps at most this many run ids (those at its edge; older runs are before its start).
SEEN_LIMIT = 200
WATERMARK_KEY = "run_watermark"


@dataclass
class Watermark:
    """How far a watcher has looked: runs that started before ``after`` (minus clock skew) are done, and
    ``seen`` lists the runs from there on that were already handled (fired or skipped).

    :param after: ISO time: runs started before it are never looked at again.
    :param seen: ids of the handled runs that started at or after ``after``.
    """

    after: str
    seen: list[str] = field(default_factory=list)

    def since(self) -> datetime:
        """``after`` as a datetime."""
        return datetime.fromisoformat(self.after)

    def handled(self, run: Run) -> bool:
        """Whether this run was already handled."""
        return str(run.id) in self.seen

    def advance(self, run: Run, active_starts: list[datetime]) -> None:
        """Mark a finished run handled, and move ``after`` up to its start, but never past the start of a
        run still going (it must stay in the window until it finishes)."""
        self.seen = [*self.seen, str(run.id)][-SEEN_LIMIT:]
        if run.start_time is None:
            return
        candidate = min([run.start_time, *active_starts])
        if candidate > self.since():
            self.after = candidate.isoformat()

    def to_json(self) -> dict[str, Any]:
        """The JSON kept in the asset state store."""
        return {"after": self.after, "seen": list(self.seen)}

    @classmethod
    def from_json(cls, value: Any) -> Watermark | None:
        """Read it back (None for nothing usable)."""
        if not isinstance(value, dict) or not isinstance(value.get("after"), str):
            return None
        return cls(value["after"], [str(item) for item in value.get("seen") or []])


class RemoteRunWatcher(BaseEventTrigger):
    """An event trigger for Airflow 3 asset watchers: fires once for each new finished run of a target,
    whoever started it (a schedule inside the service, a person, another tool).

    Fires at most once per run, also across triggerer restarts: the watermark (which runs were handled) is
    kept in the asset state store (Airflow 3.3+) and written *before* the event is sent. Without a store
    (Airflow 3.0-3.2) the watcher starts from what has finished when it starts: a restart never fires a run
    twice, but runs that finished while no triggerer ran are skipped. Runs that finished before the watcher
    first started never fire.

    :param conn_id: the Airflow connection.
    :param kind: what to watch (``job``, ``transformation``, ``pipeline``, ``sync``).
    :param ref: its id or name.
    :param workspace: its workspace (CData Sync), the connection's by default.
    :param statuses: which final statuses fire: ``success`` by default; add ``failed``, ``cancelled``.
    :param poll_interval: seconds between looks.
    :param queue: a triggerer queue (accepted for symmetry with the operators; Airflow 3.3 runs watcher
        triggers only on triggerers started without ``--queues``).
    """

    profile: ClassVar[ServiceProfile]
    run_model: ClassVar[type[Run]] = Run

    def __init__(
        self,
        conn_id: str,
        kind: str,
        ref: str,
        workspace: str | None = None,
        statuses: Sequence[str] = ("success",),
        poll_interval: float = 60.0,
        queue: str | None = None,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.kind = kind
        self.ref = str(ref)
        self.workspace = workspace
        self.statuses = sorted({str(status).lower() for status in statuses})
        unknown = sorted(set(self.statuses) - {"success", "failed", "cancelled"})
        if unknown:
            raise ValueError(
                f"Unknown run status(es) {unknown} to watch for: use success, failed, cancelled."
            )
        self.poll_interval = float(poll_interval)
        self.queue = queue

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and JSON-safe kwargs (the same for the same watcher: Airflow dedupes on them)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "kind": self.kind,
                "ref": self.ref,
                "workspace": self.workspace,
                "statuses": list(self.statuses),
                "poll_interval": self.poll_interval,
                "queue": self.queue,
            },
        )

    # ------------------------------------------------------------------ to implement
    async def client(self) -> AsyncRunControl:
        """A new async client for the connection (the watcher keeps it while it runs)."""
        raise NotImplementedError

    async def source(self) -> Any:
        """What the looks go through: the triggerer's shared poller for the connection, else a client of
        this watcher's own."""
        return await self.client()

    def payload(self, target: Target, run: Run) -> dict[str, Any]:
        """The event payload: the run's JSON-safe summary."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the watch
    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Look every ``poll_interval`` seconds; never returns (a returning watcher is restarted by Airflow
        at once, which would flood events)."""
        client = await self.source()
        try:
            target = await self._resolve(client)
            mark = await self._watermark(client, target)
            while True:
                try:
                    runs = list(await client.runs_since(target, mark.since()))
                except ServiceError as exc:
                    self.log.warning(
                        "Watching %s %s: %s; looking again.", self.profile.name, target.label, exc
                    )
                    await asyncio.sleep(self.poll_interval)
                    continue
                for event in await self._handle(target, runs, mark):
                    yield event
                await asyncio.sleep(self.poll_interval)
        finally:
            aclose = getattr(client, "aclose", None)  # a client of its own; the shared poller stays
            if aclose is not None:
                await aclose()

    async def _resolve(self, client: Any) -> Target:
        while True:
            try:
                return await client.resolve_target(self.kind, self.ref, self.workspace)
            except ServiceError as exc:
                if not is_transient(exc):
                    raise
                self.log.warning("%s is not reachable (%s); looking again.", self.profile.name, exc)
                await asyncio.sleep(self.poll_interval)

    async def _handle(self, target: Target, runs: list[Run], mark: Watermark) -> list[TriggerEvent]:
        """The events for newly finished runs, oldest first; the watermark is saved before each event."""
        active = [run.start_time for run in runs if not run.state.is_terminal and run.start_time]
        events = []
        for run in runs:
            if not run.state.is_terminal or mark.handled(run):
                continue
            mark.advance(run, active)
            await self._save(mark)
            status = final_status(run)
            if status in self.statuses:
                self.log.info(
                    "%s %s run %s ended %s: firing.", self.profile.name, target.label, run.id, run.status
                )
                events.append(TriggerEvent(self.payload(target, run)))
        return events

    # ------------------------------------------------------------------ the watermark
    async def _watermark(self, client: Any, target: Target) -> Watermark:
        stored = Watermark.from_json(await self._load())
        if stored is not None:
            return stored
        # First start (or no store): what has finished already is seen, never fired.
        start = datetime.now(UTC) - FIRST_LOOK_BACK
        mark = Watermark(start.isoformat())
        try:
            earlier = list(await client.runs_since(target, start))
        except ServiceError:
            earlier = []
        mark.seen = [str(run.id) for run in earlier if run.state.is_terminal][-SEEN_LIMIT:]
        await self._save(mark)
        return mark

    def _stores(self) -> list[Any]:
        store = getattr(self, "asset_state_store", None)
        if store is None:
            return []
        try:
            store._single_accessor()
            return [store]
        except (ValueError, AttributeError):
            # One trigger watching several assets (Airflow dedupes identical watchers): keep the same
            # watermark under each of them.
            return [*getattr(store, "_by_name", {}).values(), *getattr(store, "_by_uri", {}).values()]

    async def _load(self) -> Any:
        values = [await store.aget(WATERMARK_KEY, default=None) for store in self._stores()]
        marks = [mark for mark in (Watermark.from_json(value) for value in values) if mark is not None]
        if not marks:
            return None
        best = max(marks, key=lambda mark: (mark.after, len(mark.seen)))
        best.seen = sorted({item for mark in marks for item in mark.seen})
        return best.to_json()

    async def _save(self, mark: Watermark) -> None:
        for store in self._stores():
            await store.aset(WATERMARK_KEY, mark.to_json())
