"""The trigger that waits for AI Squared sync runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_cdata_sync.aisquared.errors import AISQUARED
from airflow_provider_cdata_sync.aisquared.models import SyncRun
from airflow_provider_cdata_sync.aisquared.reporting import run_summary
from airflow_provider_cdata_sync.client.control import AsyncRunControl, Target
from airflow_provider_cdata_sync.client.models import Run
from airflow_provider_cdata_sync.hooks.aisquared import AISquaredHook
from airflow_provider_cdata_sync.triggers.poller import aisquared_poller
from airflow_provider_cdata_sync.triggers.remote_run import RemoteRunTrigger, RemoteRunWatcher


class AISquaredSyncRunTrigger(RemoteRunTrigger):
    """Wait for a run of an AI Squared sync: ``run_id``, else the first run started at or after ``after``
    (ISO 8601), else the sync's active (or latest) run. Parameters: see :class:`RemoteRunTrigger`;
    ``target`` is the sync (kind ``sync``), ``conn_id`` an ``aisquared`` connection."""

    profile = AISQUARED
    run_model = SyncRun

    async def client(self) -> AsyncRunControl:
        """A new async AI Squared client (it logs in itself when the connection has email and password)."""
        return await AISquaredHook(aisquared_conn_id=self.conn_id).aget_client()

    def poller(self) -> Any:
        """The triggerer's shared poller for the connection and interval."""
        return aisquared_poller(self.conn_id, self.poll_interval, coalesce=self.coalesce)


class AISquaredSyncRunWatcher(RemoteRunWatcher):
    """Fire an asset event for each new finished run of an AI Squared sync, whoever started it (its own
    schedule or a person). See :class:`RemoteRunWatcher` for the fire-once guarantees.

    :param sync_id: the sync to watch.
    :param conn_id: the ``aisquared`` connection.
    :param statuses: which final statuses fire (``success`` by default; ``failed``, ``cancelled``).
    :param poll_interval: seconds between looks.
    :param queue: a triggerer queue (see :class:`RemoteRunWatcher`).
    :param kind: the serialised form's kind (always ``sync``).
    :param ref: the serialised form's sync id.
    """

    profile = AISQUARED
    run_model = SyncRun

    def __init__(
        self,
        *,
        sync_id: str | int | None = None,
        conn_id: str = AISquaredHook.default_conn_name,
        statuses: Sequence[str] = ("success",),
        poll_interval: float = 60.0,
        queue: str | None = None,
        kind: str = "sync",
        ref: str | None = None,
    ) -> None:
        which = ref if ref is not None else sync_id
        if which is None:
            raise ValueError("Give the sync to watch: sync_id=.")
        super().__init__(conn_id, kind, str(which), None, statuses, poll_interval, queue)

    async def client(self) -> AsyncRunControl:
        """A new async AI Squared client (it logs in itself when the connection has email and password)."""
        return await AISquaredHook(aisquared_conn_id=self.conn_id).aget_client()

    async def source(self) -> Any:
        """The triggerer's shared poller for the connection and interval."""
        return aisquared_poller(self.conn_id, self.poll_interval)

    def payload(self, target: Target, run: Run) -> dict[str, Any]:
        """The run's summary (row counts)."""
        sync_run = run if isinstance(run, SyncRun) else SyncRun.model_validate(run.model_dump())
        return run_summary(target, sync_run)


__all__ = ["AISquaredSyncRunTrigger", "AISquaredSyncRunWatcher"]
