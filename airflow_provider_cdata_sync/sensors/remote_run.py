"""What every sensor of this provider does, written once: look at a remote run (or at the runs since a
cut-off), judge it with the engine's :class:`~airflow_provider_cdata_sync.client.control.WaitMachine`
(error and unknown-status budgets), poke or defer, and fail (or skip with ``soft_fail``) when the run did
not succeed. Sensors watch: they never cancel a run."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
)

from airflow_provider_cdata_sync.client.control import (
    Finished,
    RunControl,
    RunEvent,
    Target,
    WaitMachine,
    WaitSettings,
    is_transient,
)
from airflow_provider_cdata_sync.client.errors import ServiceError, ServiceProfile
from airflow_provider_cdata_sync.client.models import Run
from airflow_provider_cdata_sync.operators.remote_run import default_deferrable

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


def parse_started_after(value: Any) -> datetime | None:
    """A ``started_after`` value as an aware datetime: ISO 8601 text (``Z`` allowed) or a datetime, naive
    ones taken as UTC; None for nothing, including a template that rendered to ``''``/``None``/``null``."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = "" if value is None else str(value).strip()
    if text in ("", "None", "null"):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AirflowFailException(f"started_after {text!r} is not an ISO 8601 time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def given(value: Any) -> str | None:
    """A templated id: None when it rendered to nothing (``''``, ``None``, ``null``)."""
    text = "" if value is None else str(value).strip()
    return None if text in ("", "None", "null") else text


class RemoteRunSensor(BaseSensorOperator):
    """Base of the sensors: subclasses say how to find the target, look and report.

    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param trigger_queue: the triggerer queue of the deferred wait (Airflow 3.2+ with
        ``[triggerer] queues_enabled``; ignored elsewhere).
    """

    profile: ClassVar[ServiceProfile]
    run_model: ClassVar[type[Run]] = Run
    kinds: ClassVar[tuple[str, ...]]

    def __init__(
        self, *, deferrable: bool = default_deferrable(), trigger_queue: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.deferrable = deferrable
        self.trigger_queue = trigger_queue
        self._machine: WaitMachine | None = None

    # ------------------------------------------------------------------ to implement
    def _client(self) -> RunControl:
        raise NotImplementedError

    def _target(self) -> Target:
        raise NotImplementedError

    def _since(self, context: Context) -> datetime | None:
        """History sensors: the cut-off (a good run started since then ends the wait)."""
        return None

    def _look(self, context: Context, target: Target) -> Any:
        """One look: the run followed, or the runs since the cut-off."""
        raise NotImplementedError

    def _finished(self, context: Context, target: Target, run: Run) -> dict[str, Any]:
        """Report the finished run: its summary, or fail (see :meth:`_fail`)."""
        raise NotImplementedError

    def _trigger(self, context: Context, target: Target, seen: Any) -> Any:
        raise NotImplementedError

    # ------------------------------------------------------------------ poke
    def _machine_for(self, context: Context, target: Target, run_id: str | None) -> WaitMachine:
        if self._machine is None or self._machine.target != target:
            since = self._since(context)
            self._machine = WaitMachine(
                self.profile.name,
                target,
                run_id,
                WaitSettings(float(self.poke_interval)),
                since,
                getattr(self, "fail_on_failure", False),
            )
        return self._machine

    def _judge(self, context: Context, target: Target, seen: Any) -> Any:
        machine = self._machine_for(context, target, getattr(seen, "id", None))
        decision = machine.observed_history(seen) if machine.since is not None else machine.observed(seen)
        for warning in machine.take_warnings():
            self.log.warning("%s", warning)
        if not isinstance(decision, Finished):
            return None
        if decision.event.status == "error" or decision.event.run is None:
            raise AirflowException(
                f"Waiting for {self.profile.name} {target.label} failed: {decision.event.message}"
            )
        return decision.event.run

    def poke(self, context: Context) -> bool | Any:
        """True (with the summary in XCom) when the run finished well; fails (or skips) when it did not."""
        target = self._target()
        try:
            seen = self._look(context, target)
        except ServiceError as exc:
            if not is_transient(exc):
                raise
            self.log.warning("%s could not be polled (%s); poking again.", self.profile.name, exc)
            return False
        run = self._judge(context, target, seen)
        if run is None:
            self._waiting(target, seen)
            return False
        from airflow.providers.common.compat.sdk import PokeReturnValue

        return PokeReturnValue(is_done=True, xcom_value=self._finished(context, target, run))

    def _waiting(self, target: Target, seen: Any) -> None:
        if isinstance(seen, list):
            self.log.info(
                "No successful run of %s %s yet (%d run(s) since).",
                self.profile.name,
                target.label,
                len(seen),
            )
        else:
            self.log.info(
                "%s %s: %s",
                self.profile.name,
                target.label,
                f"run {seen.id} {seen.status}" if seen else "no run yet",
            )

    # ------------------------------------------------------------------ deferred
    def execute(self, context: Context) -> Any:
        """Poke, or (``deferrable``) look once and defer to the trigger."""
        if not self.deferrable:
            return super().execute(context)
        target = self._target()
        seen = self._look(context, target)
        run = self._judge(context, target, seen)
        if run is not None:
            return self._finished(context, target, run)
        if self.trigger_queue:
            self.queue = self.trigger_queue  # Airflow gives the trigger the deferring task's queue
        self.defer(
            trigger=self._trigger(context, target, seen),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout) + 60),
        )

    def _end_time(self) -> float:
        return time.time() + float(self.timeout)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: timeout, error or the finished run."""
        try:
            outcome = RunEvent.from_payload(
                event, run_model=self.run_model, kinds=self.kinds, service=self.profile.name
            )
        except ValueError as exc:
            raise AirflowException(str(exc)) from None
        target = outcome.target
        if outcome.status == "timeout":
            message = f"Sensor timed out waiting for {self.profile.name} {target.label}."
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        if outcome.status == "error" or outcome.run is None:
            raise AirflowException(
                f"Waiting for {self.profile.name} {target.label} failed: {outcome.message}"
            )
        return self._finished(context, target, outcome.run)

    def _fail(self, message: str) -> NoReturn:
        """A failed run fails the sensor, or skips it with ``soft_fail``."""
        if self.soft_fail:
            raise AirflowSkipException(f"{message} (soft_fail is set)")
        raise AirflowFailException(message)
