"""What every run-and-wait operator of this provider does to leave nothing running: the wait's deadline,
cancelling only the run it owns and watching the cancel take effect, on timeout, on kill and when Airflow
fails a deferral itself. Shared by the CData Sync and AI Squared operators."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_cdata_sync.client.runs import Target

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

#: How long to wait for a cancel to take effect before giving up watching it.
CANCEL_WAIT_SECONDS = 30.0


def seconds(value: float | timedelta | None) -> float | None:
    """A duration in seconds (None stays None)."""
    if value is None:
        return None
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class RemoteRunMixin:
    """Mix into a ``BaseOperator`` (before it) whose ``client`` has ``current_run``, ``cancel_run`` and
    ``get_run`` for a :class:`Target`, and which keeps ``self._active = (target, run_id)`` while it owns a
    run and pushes the target and run id to XCom under ``target_xcom_key`` / ``run_id_xcom_key``."""

    service: ClassVar[str]
    client_error: ClassVar[type[Exception]]
    run_id_xcom_key: ClassVar[str]
    target_xcom_key: ClassVar[str]

    # Provided by the operator.
    log: Any
    client: Any
    timeout: float | timedelta | None
    execution_timeout: timedelta | None
    _active: tuple[Target, str | None] | None

    def _label(self, target: Target) -> str:
        return f"{self.service} {target.kind} {target.name!r}"

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

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """When Airflow fails the deferral itself (its timeout, a trigger crash), cancel the run first."""
        try:
            return super().resume_execution(next_method, next_kwargs, context)  # type: ignore[misc]
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
            self.log.error("Cannot find the %s run to cancel: %s", self.service, exc)
            return
        if isinstance(target_data, dict):
            self._cancel(Target.from_dict(target_data), run_id, "the deferral failed or timed out")

    def _cancel_and_fail(self, target: Target, run_id: str | None, why: str) -> NoReturn:
        self._cancel(target, run_id, why)
        self._active = None
        raise AirflowException(f"{self._label(target)} run {run_id}: {why}; the run was cancelled.")

    def _cancel(self, target: Target, run_id: str | None, why: str) -> None:
        """Cancel the run and wait briefly until the server says it stopped (best effort, logged)."""
        self.log.warning("Cancelling %s run %s (%s).", self._label(target), run_id, why)
        try:
            current = self.client.current_run(target)
            if run_id:  # cancel acts on whatever runs now: never cancel a run this task does not own
                if current is None or (current.id and current.id != str(run_id)):
                    self.log.info("%s run %s is no longer running: nothing to cancel.", self.service, run_id)
                    return
            else:  # killed before the answer to "execute" came: the run that runs now is the one to watch
                run_id = current.id if current is not None else None
            self.client.cancel_run(target)
        except self.client_error as exc:
            self.log.error("Could not cancel %s run %s: %s", self._label(target), run_id, exc)
            return
        self._until_stopped(target, run_id)

    def _until_stopped(self, target: Target, run_id: str | None) -> None:
        end = time.time() + CANCEL_WAIT_SECONDS
        while time.time() < end:
            try:
                run = self.client.get_run(target, run_id) if run_id else None
            except self.client_error:
                run = None
            if run is None or run.state.is_terminal:
                self.log.info("%s run %s is %s.", self.service, run_id, run.status if run else "stopped")
                return
            time.sleep(1.0)
        self.log.warning(
            "%s run %s had not stopped %.0f s after the cancel.", self.service, run_id, CANCEL_WAIT_SECONDS
        )

    def on_kill(self) -> None:
        """Cancel the run this task started, if it is still going (best effort, logged)."""
        if self._active is None:
            return
        target, run_id = self._active
        self._cancel(target, run_id, "the Airflow task was killed")
        self._active = None
