"""What every run-and-wait operator of this provider does, written once: start (or follow) a remote run, push
its id and console URL to XCom before waiting, wait blocking or deferred, and leave nothing running: on
timeout, ``execution_timeout``, kill, and when Airflow fails a deferral itself, the run this task owns is
cancelled and watched until it stops. The waiting decisions come from the engine's
:class:`~airflow_provider_cdata_sync.client.control.WaitMachine`, the cancel from its ``cancel_and_watch``;
each service (CData Sync, AI Squared) only says how to start, look and report."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from airflow.providers.common.compat.sdk import AirflowException, BaseOperator, conf

from airflow_provider_cdata_sync.client.control import (
    CLOCK_SKEW,
    Finished,
    Poll,
    RunControl,
    RunEvent,
    Target,
    WaitMachine,
    WaitSettings,
)
from airflow_provider_cdata_sync.client.errors import ServiceError, ServiceProfile
from airflow_provider_cdata_sync.client.models import Run

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


def default_deferrable() -> bool:
    """``[operators] default_deferrable`` (False when unset)."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


class DurableRun:
    """The remote run this task instance owns, kept in Airflow 3.3's task state store, which (unlike XCom)
    survives a retry: a try after a killed worker finds the run the earlier try started. Where there is no
    store (Airflow < 3.3) every method is a no-op and reattaching relies on the server (the target's
    current run).

    :param context: the task's context.
    :param key: the store key (one per operator class).
    """

    def __init__(self, context: Context, key: str) -> None:
        self.store: Any = context.get("task_state_store")
        self.key = key

    @property
    def available(self) -> bool:
        """Whether this Airflow has a task state store."""
        return self.store is not None

    def load(self, target: Target) -> dict[str, Any] | None:
        """What an earlier try saved for this target, if anything."""
        if self.store is None:
            return None
        saved = self.store.get(self.key)
        if not isinstance(saved, dict):
            return None
        same = isinstance(saved.get("target"), dict) and saved["target"].get("id") == target.id
        return saved if same else None

    def save(self, target: Target, run: Run, started_after: datetime | None, try_number: int | None) -> None:
        """Remember the run before waiting for it (blocking or deferred)."""
        if self.store is None:
            return
        value = {
            "target": target.to_dict(),
            "run_id": run.id,
            "started_after": started_after.isoformat() if started_after else None,
            "try_number": try_number,
        }
        self.store.set(self.key, value)

    def forget(self) -> None:
        """The run ended and was reported: a later clear of this task starts a new run."""
        if self.store is not None:
            self.store.delete(self.key)


def seconds(value: float | timedelta | None) -> float | None:
    """A duration in seconds (None stays None)."""
    if value is None:
        return None
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class RemoteRunOperator(BaseOperator):
    """Base of the run operators: start a run of a target, wait for it, report, cancel what it owns.

    Subclasses set the class attributes and implement :meth:`_client`, :meth:`_resolve`, :meth:`_start`,
    :meth:`_trigger` and :meth:`_finish`.

    :param wait_for_termination: wait for the run to finish (default True).
    :param deferrable: wait in the triggerer, freeing the worker slot.
    :param check_interval: seconds between status polls.
    :param timeout: longest wait for the run (seconds or timedelta); the run is cancelled when it passes.
    :param max_consecutive_poll_errors: transient poll failures in a row before the task fails.
    :param durable: on Airflow 3.3+, keep the remote run id in the task state store before waiting, so
        that a retry after a lost worker reattaches to the same run while it runs, returns its result if it
        already succeeded, and starts a new one only if it failed (default True).
    :param trigger_queue: the triggerer queue the deferred wait runs in (Airflow 3.2+ with
        ``[triggerer] queues_enabled``; ignored elsewhere).
    :param asset_alias: the name of an ``AssetAlias`` added to the outlets: when the run succeeds, one
        asset event per table it wrote is added to it (and to any other ``AssetAlias`` outlet), with
        the run id, records, status and end time in the extra (docs/lineage.md).
    :param lineage_columns: read the tables' columns for the OpenLineage schema facets and column
        lineage (a few bounded API calls per run; default True).
    """

    profile: ClassVar[ServiceProfile]
    run_model: ClassVar[type[Run]] = Run
    kinds: ClassVar[tuple[str, ...]]
    run_id_xcom_key: ClassVar[str]
    target_xcom_key: ClassVar[str]

    def __init__(
        self,
        *,
        wait_for_termination: bool = True,
        deferrable: bool = default_deferrable(),
        check_interval: float = 30,
        timeout: float | timedelta | None = None,
        max_consecutive_poll_errors: int = 5,
        durable: bool = True,
        trigger_queue: str | None = None,
        asset_alias: str | None = None,
        lineage_columns: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.asset_alias = asset_alias
        self.lineage_columns = lineage_columns
        if asset_alias:
            from airflow_provider_cdata_sync.lineage.assets import alias

            self.outlets = [*(self.outlets or []), alias(asset_alias)]
        self.wait_for_termination = wait_for_termination
        self.deferrable = deferrable
        self.check_interval = check_interval
        self.timeout = timeout
        self.max_consecutive_poll_errors = max_consecutive_poll_errors
        self.durable = durable
        self.trigger_queue = trigger_queue
        #: The run this try started (or follows) and still owns: what on_kill cancels.
        self._active: tuple[Target, str | None] | None = None
        #: Runs started after this moment may be ours (for servers whose start answer has no run id).
        self._started_after: datetime | None = None
        #: The run lineage describes (target, the run as last seen, its id) and its lineage once built.
        self._lineage_subject: tuple[Target, Run | None, str | None] | None = None
        self._lineage: Any = None

    # ------------------------------------------------------------------ to implement
    def _client(self) -> RunControl:
        """The synchronous client."""
        raise NotImplementedError

    def _resolve(self, context: Context) -> Target:
        """The target this task runs (bad input raises ``AirflowFailException``)."""
        raise NotImplementedError

    def _start(self, context: Context, target: Target, previous: Run | None) -> Run:
        """Start a run (or follow the active one); set ``self._active`` before starting.

        :param previous: this task's run from an earlier try that failed (durable runs), if any.
        """
        raise NotImplementedError

    def _succeeded(self, target: Target, run: Run) -> bool:
        """Whether a finished run counts as a success (an earlier try's run is then reported, not redone)."""
        return run.state.value in ("success", "warning") and not run.failed_tasks

    def _console_url(self, target: Target, run_id: str | None) -> str | None:
        """The console URL of the run, when the service has one."""
        return None

    def _trigger(self, target: Target, run: Run, deadline: float | None) -> Any:
        """The trigger that waits for the run in the triggerer."""
        raise NotImplementedError

    def _progress(self, target: Target, run: Run | None) -> None:
        """Called after each blocking poll (log lines, status changes)."""

    def _finish(self, context: Context, target: Target, run: Run, url: str | None) -> dict[str, Any]:
        """Report the finished run: return its summary or raise why it fails the task."""
        raise NotImplementedError

    def _summary(self, target: Target, run: Run, url: str | None) -> dict[str, Any]:
        """The JSON-safe summary of a run not waited for."""
        raise NotImplementedError

    def _lineage_for(self, target: Target, run: Run | None) -> Any:
        """The :class:`~airflow_provider_cdata_sync.lineage.model.RunLineage` of a run (API calls)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ execute
    def execute(self, context: Context) -> dict[str, Any]:
        """Start the run (or follow the one already running), then wait as configured."""
        deadline = self._deadline(context)
        target = self._resolve(context)
        durable = DurableRun(context, self.run_id_xcom_key) if self.durable else None
        run, previous = self._resume(target, durable) if durable else (None, None)
        if run is None:
            self._started_after = datetime.now(UTC) - CLOCK_SKEW
            run = self._start(context, target, previous)
            if durable is not None:
                durable.save(target, run, self._started_after, _try_number(context))
        self._lineage_subject = (target, run, run.id)
        url = self._console_url(target, run.id)
        self._push_early(context, target, run, url)
        if not self.wait_for_termination:
            self.log.info("Not waiting for run %s (wait_for_termination=False).", run.id)
            self._active = None
            return self._summary(target, run, url)
        if self.deferrable and not run.state.is_terminal:
            self._defer(target, run, deadline)
        final = run if run.state.is_terminal else self._wait_blocking(target, run, deadline)
        return self._report(context, target, final)

    def _resume(self, target: Target, durable: DurableRun) -> tuple[Run | None, Run | None]:
        """The run an earlier try of this task saved: (the run to follow or report, None) while it runs or
        when it succeeded; (None, the failed run) when a new run must start."""
        saved = durable.load(target)
        if saved is None:
            return None, None
        after = saved.get("started_after")
        self._started_after = datetime.fromisoformat(after) if after else None
        try:
            run = self._client().look(target, saved.get("run_id"), self._started_after)
        except ServiceError as exc:
            self.log.warning("The run saved by an earlier try cannot be read (%s): starting a new one.", exc)
            return None, None
        tried = saved.get("try_number")
        if run is None:
            return None, None
        name = self.profile.name
        if not run.state.is_terminal:
            self.log.info(
                "Reattaching to %s %s run %s, started by try %s of this task (kept in the task state store).",
                name,
                target.label,
                run.id,
                tried,
            )
            self._active = (target, run.id)
            return run, None
        if self._succeeded(target, run):
            self.log.info(
                "%s %s run %s, started by try %s of this task, already succeeded: reporting it instead of "
                "starting another.",
                name,
                target.label,
                run.id,
                tried,
            )
            return run, None
        self.log.info(
            "%s %s run %s of try %s ended %s: starting a new run.",
            name,
            target.label,
            run.id,
            tried,
            run.status,
        )
        return None, run

    def _deadline(self, context: Context) -> float | None:
        """Wall-clock end of the wait: ``timeout`` from now, and just before ``execution_timeout`` runs out
        (so a deferred task cancels its run itself instead of being failed by Airflow without notice)."""
        ends: list[float] = []
        timeout = seconds(self.timeout)
        if timeout is not None:
            ends.append(time.time() + timeout)
        execution_timeout = seconds(self.execution_timeout)
        if execution_timeout is not None:
            start = getattr(context.get("ti"), "start_date", None)
            started = start.timestamp() if start else time.time()
            margin = min(max(execution_timeout * 0.1, 2.0), 60.0)
            ends.append(started + execution_timeout - margin)
        return min(ends) if ends else None

    def _push_early(self, context: Context, target: Target, run: Run, url: str | None) -> None:
        """The run id (and console URL) go to XCom before any waiting: links work while it runs or fails."""
        ti = context["ti"]
        ti.xcom_push(key=self.run_id_xcom_key, value=run.id)
        ti.xcom_push(key=self.target_xcom_key, value=target.to_dict())

    # ------------------------------------------------------------------ deferred
    def _defer(self, target: Target, run: Run, deadline: float | None) -> None:
        self.log.info("Deferring until run %s of %s %s finishes.", run.id, self.profile.name, target.label)
        # Airflow's own deferral timeout is only a backstop, a minute after the trigger's deadline: the
        # trigger reports the timeout first so that execute_complete can cancel the run.
        backstop = None if deadline is None else timedelta(seconds=max(deadline - time.time(), 0) + 60)
        if self.trigger_queue:
            # Airflow gives the trigger the deferring task's queue (with [triggerer] queues_enabled): this
            # changes the queue of this deferral only; the task itself already runs on its worker.
            self.queue = self.trigger_queue
        self.defer(
            trigger=self._trigger(target, run, deadline), method_name="execute_complete", timeout=backstop
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: validate its event, cancel on timeout, report, fail or return."""
        try:
            outcome = RunEvent.from_payload(
                event, run_model=self.run_model, kinds=self.kinds, service=self.profile.name
            )
        except ValueError as exc:
            raise AirflowException(str(exc)) from None
        target = outcome.target
        self._active = (target, outcome.run_id)
        self._lineage_subject = (target, outcome.run, outcome.run_id)
        return self._conclude(context, outcome)

    def _conclude(self, context: Context, outcome: RunEvent) -> dict[str, Any]:
        target = outcome.target
        if outcome.status == "timeout":
            self._cancel_and_fail(target, outcome.run_id, outcome.message or "timed out")
        if outcome.status == "error" or outcome.run is None:
            self._active = None
            raise AirflowException(
                f"Waiting for {self.profile.name} {target.label} failed: {outcome.message}"
            )
        self._active = None
        return self._report(context, target, outcome.run)

    def _report(self, context: Context, target: Target, run: Run) -> dict[str, Any]:
        """Report the finished run. A run that succeeded is then forgotten (a clear of the task starts a
        new run); a failed one stays known to the next try (which starts anew, or re-runs what failed)."""
        self._lineage_subject = (target, run, run.id)
        self._lineage = None
        summary = self._finish(context, target, run, self._console_url(target, run.id))
        if self.durable:
            DurableRun(context, self.run_id_xcom_key).forget()
        self._emit_assets(context)
        return summary

    # ------------------------------------------------------------------ lineage and assets
    def _emit_assets(self, context: Context) -> None:
        """One asset event per table the run wrote, on every ``AssetAlias`` outlet (none: no API call)."""
        if not any(type(outlet).__name__ in ("AssetAlias", "DatasetAlias") for outlet in self.outlets or ()):
            return  # no alias outlet: the lineage package is not even imported
        from airflow_provider_cdata_sync.lineage.assets import aliases_of, emit_asset_events

        if not aliases_of(self.outlets):
            return
        lineage = self._run_lineage()
        added = emit_asset_events(context, self.outlets, lineage)
        self.log.info("Asset events: %d table(s) written by run %s.", added, getattr(lineage, "run_id", None))

    def _run_lineage(self) -> Any:
        """The lineage of the run this task started or followed, built once (None without a run); a
        failure to read it is logged, never raised."""
        if self._lineage is not None or self._lineage_subject is None:
            return self._lineage
        target, run, run_id = self._lineage_subject
        try:
            if (run is None or not run.state.is_terminal) and run_id:
                run = self._client().get_run(target, run_id)
            self._lineage = self._lineage_for(target, run)
        except Exception as exc:
            self.log.warning(
                "Lineage of %s %s run %s could not be read: %s", self.profile.name, target.label, run_id, exc
            )
            return None
        for problem in self._lineage.problems:
            self.log.info("Lineage is partial: %s", problem)
        return self._lineage

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage inputs, outputs and run facets of the run (needs the ``[openlineage]`` extra)."""
        from airflow_provider_cdata_sync.lineage.facets import operator_lineage

        return operator_lineage(self._run_lineage())

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """As on complete, with the error message facet of the failed run."""
        from airflow_provider_cdata_sync.lineage.facets import operator_lineage

        return operator_lineage(self._run_lineage(), failed=True)

    # ------------------------------------------------------------------ blocking
    def _wait_blocking(self, target: Target, run: Run, deadline: float | None) -> Run:
        """Poll every ``check_interval`` seconds until the run ends, driving the engine's wait machine."""
        machine = WaitMachine(
            self.profile.name,
            target,
            run.id,
            WaitSettings(float(self.check_interval), deadline, self.max_consecutive_poll_errors),
        )
        client = self._client()
        decision = machine.begin(immediately=False)
        while isinstance(decision, Poll):
            time.sleep(decision.after)
            machine.looking()
            try:
                seen = client.look(target, machine.run_id, self._started_after)  # type: ignore[attr-defined]
            except ServiceError as exc:
                decision = machine.failed(exc)
            else:
                if seen is not None and seen.id and self._active is not None and self._active[1] is None:
                    self._active = (target, seen.id)
                self._progress(target, seen)
                decision = machine.observed(seen)
            for warning in machine.take_warnings():
                self.log.warning("%s", warning)
        assert isinstance(decision, Finished)
        outcome = decision.event
        if outcome.status == "timeout":
            self._cancel_and_fail(target, outcome.run_id, "timed out")
        if outcome.status == "error" and machine.errors:
            raise AirflowException(
                f"Polling {self.profile.name} failed ({machine.errors} in a row): {machine.last_error}"
            )
        if outcome.status == "error" or outcome.run is None:
            raise AirflowException(f"Polling {self.profile.name} failed: {outcome.message}")
        return outcome.run

    # ------------------------------------------------------------------ cancelling
    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """When Airflow fails the deferral itself (its timeout, a trigger crash), cancel the run first."""
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except Exception:
            if next_method == "__fail__":
                self._cancel_from_xcom(context)
            raise

    def _cancel_from_xcom(self, context: Context) -> None:
        ti = context["ti"]
        try:
            target_data = ti.xcom_pull(
                task_ids=ti.task_id, key=self.target_xcom_key, map_indexes=ti.map_index
            )
            run_id = ti.xcom_pull(task_ids=ti.task_id, key=self.run_id_xcom_key, map_indexes=ti.map_index)
        except Exception as exc:  # best effort
            self.log.error("Cannot find the %s run to cancel: %s", self.profile.name, exc)
            return
        if isinstance(target_data, dict):
            self._cancel(Target.from_dict(target_data), run_id, "the deferral failed or timed out")

    def _cancel_and_fail(self, target: Target, run_id: str | None, why: str) -> NoReturn:
        self._cancel(target, run_id, why)
        self._active = None
        raise AirflowException(
            f"{self.profile.name} {target.label} run {run_id}: {why}; the run was cancelled."
        )

    def _cancel(self, target: Target, run_id: str | None, why: str) -> None:
        """Cancel the run this task owns and watch it stop (best effort, logged): never another run."""
        self.log.warning("Cancelling %s %s run %s (%s).", self.profile.name, target.label, run_id, why)
        try:
            outcome = self._client().cancel_and_watch(target, run_id)
        except ServiceError as exc:
            self.log.error("Could not cancel %s %s run %s: %s", self.profile.name, target.label, run_id, exc)
            return
        self.log.info("%s %s: %s.", self.profile.name, target.label, outcome.message)

    def on_kill(self) -> None:
        """Cancel the run this task started, if it is still going (best effort, logged)."""
        if self._active is None:
            return
        target, run_id = self._active
        self._cancel(target, run_id, "the Airflow task was killed")
        self._active = None


def _try_number(context: Context) -> int | None:
    number = getattr(context.get("ti"), "try_number", None)
    return number if isinstance(number, int) else None


def try_number(context: Context) -> int:
    """This try's number (1 for the first try)."""
    return _try_number(context) or 1


def task_refs(tasks: str | Sequence[str] | None) -> list[str] | None:
    """Task references given as a list or a comma-separated string (templates render to strings)."""
    if tasks is None:
        return None
    if isinstance(tasks, str):
        return [part.strip() for part in tasks.split(",") if part.strip()]
    return [str(task) for task in tasks]
