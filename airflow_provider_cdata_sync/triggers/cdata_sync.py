"""Triggers that poll CData Sync until a run finishes, asynchronously, with a wall-clock deadline.

Kwargs are JSON-safe (plain dicts, strings and numbers), so a trigger rebuilt from its serialised form in
a new triggerer process resumes where it was. Only the async client is used: nothing blocks the loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_cdata_sync.client import (
    AnyAsyncClient,
    CDataSyncError,
    CDataSyncRateLimitError,
    CDataSyncResponseError,
    CDataSyncServerError,
    CDataSyncTransportError,
    RunState,
)
from airflow_provider_cdata_sync.client.models import Run
from airflow_provider_cdata_sync.client.runs import Target
from airflow_provider_cdata_sync.triggers.poller import shared_poller

TRANSIENT_ERRORS = (
    CDataSyncTransportError,
    CDataSyncServerError,
    CDataSyncRateLimitError,
    CDataSyncResponseError,
)
#: How long on_kill watches a cancel take effect (Airflow gives on_kill 30 s by default).
CANCEL_WAIT_SECONDS = 25.0
EVENT_STATUSES = frozenset({"success", "failed", "cancelled", "timeout", "error"})


def is_transient(error: BaseException) -> bool:
    """Errors worth polling through: the network, the server's 5xx/429, a garbled answer."""
    return isinstance(error, TRANSIENT_ERRORS)


def run_event(status: str, target: Target, run: Run | None, message: str, **extra: Any) -> TriggerEvent:
    """A JSON-safe event the operator's ``execute_complete`` validates."""
    payload = {
        "status": status,
        "target": target.to_dict(),
        "run_id": run.id if run else extra.pop("run_id", None),
        "run": run.model_dump(mode="json") if run else None,
        "message": message,
        **extra,
    }
    return TriggerEvent(payload)


def final_event_status(run: Run) -> str:
    """success / failed / cancelled for a finished run (tasks are judged by the operator)."""
    if run.state is RunState.CANCELLED:
        return "cancelled"
    if run.state is RunState.FAILED:
        return "failed"
    return "success"


class _PollingTrigger(BaseTrigger):
    """Shared polling loop: deadline, consecutive-error limit with backoff, unknown-status limit."""

    #: The service named in messages (the AI Squared triggers reuse this loop).
    service: ClassVar[str] = "CData Sync"

    def __init__(
        self,
        conn_id: str,
        target: dict[str, Any],
        poll_interval: float = 30.0,
        end_time: float | None = None,
        max_consecutive_errors: int = 5,
        max_unknown_polls: int = 10,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.target = dict(target)
        self.poll_interval = float(poll_interval)
        self.end_time = float(end_time) if end_time is not None else None
        self.max_consecutive_errors = int(max_consecutive_errors)
        self.max_unknown_polls = int(max_unknown_polls)
        self._own_client: AnyAsyncClient | None = None

    def _common_kwargs(self) -> dict[str, Any]:
        return {
            "conn_id": self.conn_id,
            "target": self.target,
            "poll_interval": self.poll_interval,
            "end_time": self.end_time,
            "max_consecutive_errors": self.max_consecutive_errors,
            "max_unknown_polls": self.max_unknown_polls,
        }

    @property
    def parsed_target(self) -> Target:
        """The target as a :class:`Target`."""
        return Target.from_dict(self.target)

    async def check(self) -> TriggerEvent | None:
        """One poll: an event when done, None to keep waiting."""
        raise NotImplementedError

    async def _client(self) -> AnyAsyncClient:
        """This trigger's own client, created on first need (coalesced waits never need one)."""
        if self._own_client is None:
            from airflow_provider_cdata_sync.hooks.cdata_sync import CDataSyncHook

            hook = CDataSyncHook(cdata_sync_conn_id=self.conn_id)
            self._own_client = await hook.aget_client(self.parsed_target.api_version)
        return self._own_client

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the run finishes, the deadline passes or errors pile up."""
        target = self.parsed_target
        try:
            async for event in self._loop(target):
                yield event
                return
        except asyncio.CancelledError:
            self.log.info("Stopped waiting for %s %s %r.", self.service, target.kind, target.name)
            raise
        finally:
            client, self._own_client = self._own_client, None
            if client is not None:
                await client.aclose()

    def _remaining(self) -> float | None:
        return None if self.end_time is None else self.end_time - time.time()

    async def _loop(self, target: Target) -> AsyncIterator[TriggerEvent]:
        errors = 0
        while True:
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                yield self._timeout_event(target)
                return
            try:
                event = await asyncio.wait_for(self.check(), remaining)
            except TimeoutError:
                yield self._timeout_event(target)
                return
            except CDataSyncError as exc:
                if not is_transient(exc):
                    yield run_event("error", target, None, str(exc), run_id=self._run_id())
                    return
                errors += 1
                if errors > self.max_consecutive_errors:
                    message = f"Gave up after {errors} consecutive failed polls of {self.service}: {exc}"
                    yield run_event("error", target, None, message, run_id=self._run_id())
                    return
                self.log.warning("Poll %d of %s failed (%s); polling on.", errors, self.service, exc)
                await self._sleep(
                    min(self.poll_interval * (2 ** (errors - 1)), max(self.poll_interval, 300.0))
                )
                continue
            errors = 0
            if event is not None:
                yield event
                return
            if not self._waits_in_check():
                await self._sleep(self.poll_interval)

    async def _sleep(self, seconds: float) -> None:
        remaining = self._remaining()
        await asyncio.sleep(seconds if remaining is None else max(0.0, min(seconds, remaining)))

    def _timeout_event(self, target: Target) -> TriggerEvent:
        message = f"Timed out waiting for {self.service} {target.kind} {target.name!r}."
        return run_event("timeout", target, None, message, run_id=self._run_id())

    def _waits_in_check(self) -> bool:
        """True when ``check`` itself waits a poll interval (the shared poller's tick)."""
        return False

    def _run_id(self) -> str | None:
        return None


class CDataSyncRunTrigger(_PollingTrigger):
    """Wait for one run of a job, transformation or pipeline (the current one when ``run_id`` is None)."""

    kind: ClassVar[str] = "job"

    def __init__(
        self, *, run_id: str | None = None, cancel_on_kill: bool = True, coalesce: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.run_id = run_id
        self.cancel_on_kill = bool(cancel_on_kill)
        self.coalesce = bool(coalesce)
        self._unknown_polls = 0

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and JSON-safe kwargs."""
        kwargs = {
            **self._common_kwargs(),
            "run_id": self.run_id,
            "cancel_on_kill": self.cancel_on_kill,
            "coalesce": self.coalesce,
        }
        return (f"{type(self).__module__}.{type(self).__qualname__}", kwargs)

    def _waits_in_check(self) -> bool:
        return self.coalesce and bool(self.run_id)

    async def on_kill(self) -> None:
        """When the user kills the deferred task: cancel the run if it is still the one running
        (never when ``cancel_on_kill`` is False, as for sensors that only watch)."""
        if not self.cancel_on_kill:
            return
        target = self.parsed_target
        try:
            from airflow_provider_cdata_sync.hooks.cdata_sync import CDataSyncHook

            hook = CDataSyncHook(cdata_sync_conn_id=self.conn_id)
            async with await hook.aget_client(target.api_version) as client:
                current = await client.current_run(target)
                if current is None or (self.run_id and current.id and current.id != self.run_id):
                    self.log.info("Run %s of %s %r no longer runs.", self.run_id, target.kind, target.name)
                    return
                self.log.warning(
                    "Cancelling %s %s %r run %s.", self.service, target.kind, target.name, current.id
                )
                await client.cancel_run(target)
                await self._until_stopped(client, target, current.id)
        except CDataSyncError as exc:
            self.log.warning("Could not cancel %s %s %r: %s", self.service, target.kind, target.name, exc)

    async def _until_stopped(self, client: AnyAsyncClient, target: Target, run_id: str | None) -> None:
        """Watch the cancel take effect (bounded below the triggerer's default 30 s ``on_kill_timeout``)."""
        deadline = time.time() + CANCEL_WAIT_SECONDS
        while run_id and time.time() < deadline:
            run = await client.get_run(target, run_id)
            if run.state.is_terminal:
                self.log.info("%s run %s is %s.", self.service, run_id, run.status)
                return
            await asyncio.sleep(1.0)
        self.log.warning(
            "%s run %s had not stopped %.0f s after the cancel.", self.service, run_id, CANCEL_WAIT_SECONDS
        )

    def _run_id(self) -> str | None:
        return self.run_id

    async def check(self) -> TriggerEvent | None:
        """Look at the run once (through the shared poller when coalescing)."""
        target = self.parsed_target
        run: Run | None
        if self.run_id and self.coalesce:
            poller = shared_poller(self.conn_id, target.api_version, self.poll_interval)
            run = await poller.observe(target, self.run_id)
        elif self.run_id:
            run = await (await self._client()).get_run(target, self.run_id)
        else:
            client = await self._client()
            run = await client.current_run(target) or await client.latest_run(target)
            if run is not None and run.id and run.state.is_active:
                self.run_id = run.id  # follow this run from now on
        if run is None:
            return None
        if run.state is RunState.UNKNOWN:
            self._unknown_polls += 1
            self.log.warning("%s reports an unknown status %r for run %s.", self.service, run.status, run.id)
            if self._unknown_polls >= self.max_unknown_polls:
                return run_event(
                    "error",
                    target,
                    run,
                    f"{self.service} kept reporting the unknown status {run.status!r} for run {run.id} "
                    f"({self._unknown_polls} polls); it is not treated as success.",
                )
            return None
        self._unknown_polls = 0
        if not run.state.is_terminal:
            return None
        return run_event(final_event_status(run), target, run, f"Run {run.id} ended: {run.status}")


class CDataSyncJobTrigger(CDataSyncRunTrigger):
    """Wait for a CData Sync job run."""

    kind = "job"


class CDataSyncTransformationTrigger(CDataSyncRunTrigger):
    """Wait for a CData Sync transformation run."""

    kind = "transformation"


class CDataSyncPipelineTrigger(CDataSyncRunTrigger):
    """Wait for a CData Sync pipeline run."""

    kind = "pipeline"


class CDataSyncJobHistoryTrigger(_PollingTrigger):
    """Wait until a job's history shows a successful run started at or after ``since`` (ISO 8601)."""

    def __init__(self, *, since: str, fail_on_failure: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.since = since
        self.fail_on_failure = bool(fail_on_failure)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and JSON-safe kwargs."""
        kwargs = {**self._common_kwargs(), "since": self.since, "fail_on_failure": self.fail_on_failure}
        return (f"{type(self).__module__}.{type(self).__qualname__}", kwargs)

    async def check(self) -> TriggerEvent | None:
        """Look at the history once."""
        target = self.parsed_target
        runs = await (await self._client()).runs_since(target, datetime.fromisoformat(self.since))
        return history_event(target, runs, self.fail_on_failure)


def history_event(target: Target, runs: list[Run], fail_on_failure: bool) -> TriggerEvent | None:
    """success when a run since the cut-off succeeded; failed (if asked) when one failed; else None."""
    for run in reversed(runs):  # newest first
        if run.state in (RunState.SUCCESS, RunState.WARNING) and not run.failed_tasks:
            return run_event("success", target, run, f"Run {run.id} succeeded.")
        if fail_on_failure and run.state.is_failure:
            return run_event(final_event_status(run), target, run, f"Run {run.id} ended {run.status}.")
    return None
