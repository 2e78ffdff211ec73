"""The trigger that waits for CData Sync runs (jobs, transformations, pipelines, history waits).

One class, :class:`CDataSyncRunTrigger`; the class paths of earlier releases
(``CDataSyncJobTrigger``, ``CDataSyncTransformationTrigger``, ``CDataSyncPipelineTrigger``,
``CDataSyncJobHistoryTrigger``) stay importable as aliases, so triggers serialised by them still load.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_cdata_sync.client.control import AsyncRunControl, Target, is_transient
from airflow_provider_cdata_sync.client.errors import CDATA_SYNC
from airflow_provider_cdata_sync.client.models import Run
from airflow_provider_cdata_sync.hooks.cdata_sync import CDataSyncHook, console_url
from airflow_provider_cdata_sync.reporting import run_summary
from airflow_provider_cdata_sync.triggers.poller import shared_poller
from airflow_provider_cdata_sync.triggers.remote_run import RemoteRunTrigger, RemoteRunWatcher


class CDataSyncRunTrigger(RemoteRunTrigger):
    """Wait for a run of a CData Sync job, transformation or pipeline, or (with ``since``) for a good run
    of a job in its history. Parameters: see :class:`RemoteRunTrigger`; ``conn_id`` is a ``cdata_sync``
    connection."""

    profile = CDATA_SYNC

    async def client(self) -> AsyncRunControl:
        """A new async client for the connection, of the API version the operator found."""
        hook = CDataSyncHook(cdata_sync_conn_id=self.conn_id)
        return await hook.aget_run_control(self.parsed_target.api_version)

    def poller(self) -> Any:
        """The triggerer's shared poller for the connection, API version and interval (every wait: on a
        run, without a run id, history waits; ``coalesce=False``: the one that asks at once)."""
        return shared_poller(
            self.conn_id, self.parsed_target.api_version, self.poll_interval, coalesce=self.coalesce
        )


class CDataSyncRunWatcher(RemoteRunWatcher):
    """Fire an asset event for each new finished run of a CData Sync job, transformation or pipeline,
    whoever started it (Sync's own schedule, a person, another tool)::

        Asset(
            name="orders",
            uri="cdata-sync://sync-host:8181/jobs/NightlyLoad",
            watchers=[AssetWatcher(name="nightly_load", trigger=CDataSyncRunWatcher(job="NightlyLoad"))],
        )

    The event's payload is the run's summary (as the run operators return it), with its console URL. See
    :class:`RemoteRunWatcher` for the fire-once guarantees.

    :param job: the job to watch (id or name); or ``transformation``, or ``pipeline``.
    :param transformation: the transformation to watch.
    :param pipeline: the pipeline to watch.
    :param conn_id: the ``cdata_sync`` connection.
    :param workspace: its workspace; the connection's by default.
    :param statuses: which final statuses fire (``success`` by default; ``failed``, ``cancelled``).
    :param poll_interval: seconds between looks.
    :param queue: a triggerer queue (see :class:`RemoteRunWatcher`).
    :param kind: with ``ref``, what to watch (as the serialised form gives it).
    :param ref: with ``kind``, its id or name.
    """

    profile = CDATA_SYNC

    def __init__(
        self,
        *,
        job: str | None = None,
        transformation: str | None = None,
        pipeline: str | None = None,
        conn_id: str = CDataSyncHook.default_conn_name,
        workspace: str | None = None,
        statuses: Sequence[str] = ("success",),
        poll_interval: float = 60.0,
        queue: str | None = None,
        kind: str | None = None,
        ref: str | None = None,
    ) -> None:
        given = {"job": job, "transformation": transformation, "pipeline": pipeline}
        chosen = [(name, value) for name, value in given.items() if value is not None]
        if kind is not None and ref is not None:
            chosen = [(kind, ref)]
        if len(chosen) != 1:
            raise ValueError("Give exactly one of job=, transformation= or pipeline= to watch.")
        ((what, which),) = chosen
        super().__init__(conn_id, what, which, workspace, statuses, poll_interval, queue)

    async def client(self) -> AsyncRunControl:
        """A new async client for the connection's API version."""
        self._hook = CDataSyncHook(cdata_sync_conn_id=self.conn_id)
        return await self._hook.aget_run_control()

    async def source(self) -> Any:
        """The triggerer's shared poller for the connection (the console URL's config looked up first)."""
        self._hook = CDataSyncHook(cdata_sync_conn_id=self.conn_id)
        await self._hook.aget_config()
        return shared_poller(self.conn_id, None, self.poll_interval)

    def payload(self, target: Target, run: Run) -> dict[str, Any]:
        """The run's summary with its console URL (no secrets: the payload lands in the asset event)."""
        config = self._hook.__dict__.get("config")  # looked up (the async way) when the client was made
        url = console_url(config, target.kind, target.id, run.id) if config is not None else None
        return run_summary(target, run, url)


# Earlier releases had one class per kind: their serialised triggers name these paths.
CDataSyncJobTrigger = CDataSyncRunTrigger
CDataSyncTransformationTrigger = CDataSyncRunTrigger
CDataSyncPipelineTrigger = CDataSyncRunTrigger
CDataSyncJobHistoryTrigger = CDataSyncRunTrigger

__all__ = [
    "CDataSyncJobHistoryTrigger",
    "CDataSyncJobTrigger",
    "CDataSyncPipelineTrigger",
    "CDataSyncRunTrigger",
    "CDataSyncRunWatcher",
    "CDataSyncTransformationTrigger",
    "is_transient",
]
