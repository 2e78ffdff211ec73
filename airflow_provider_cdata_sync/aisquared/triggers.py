"""The trigger that waits for an AI Squared sync run: the CData Sync run trigger (deadline, error limits
with backoff, unknown-status limit, JSON-safe events, client closed at the end) served by the async AI
Squared client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_cdata_sync.aisquared.errors import AISquaredError
from airflow_provider_cdata_sync.triggers.cdata_sync import CDataSyncRunTrigger


def reworded(event: TriggerEvent) -> TriggerEvent:
    """The shared loop's messages, naming AI Squared."""
    payload = dict(event.payload)
    if isinstance(payload.get("message"), str):
        payload["message"] = payload["message"].replace("CData Sync", "AI Squared")
    return TriggerEvent(payload)


class AISquaredSyncRunTrigger(CDataSyncRunTrigger):
    """Wait for a run of a sync to finish: ``run_id``, else the first run started at or after ``after``
    (ISO 8601), else the sync's active (or latest) run.

    ``target`` is the sync as a :class:`~airflow_provider_cdata_sync.client.runs.Target` dict (kind
    ``sync``); ``conn_id`` an ``aisquared`` connection. With ``cancel_on_kill`` (operators, not sensors)
    killing the deferred task cancels the run if it still runs.
    """

    kind = "sync"
    service = "AI Squared"

    def __init__(self, *, after: str | None = None, **kwargs: Any) -> None:
        kwargs["coalesce"] = False  # the shared poller batches CData Sync calls; each trigger polls here
        super().__init__(**kwargs)
        self.after = after

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and JSON-safe kwargs."""
        path, kwargs = super().serialize()
        return path, {**kwargs, "after": self.after}

    async def _client(self) -> Any:
        """This trigger's own AI Squared client (closed by the shared ``run``)."""
        if self._own_client is None:
            from airflow_provider_cdata_sync.aisquared.hook import AISquaredHook

            hook = AISquaredHook(aisquared_conn_id=self.conn_id)
            self._own_client = await hook.aget_client()  # type: ignore[assignment]
        return self._own_client

    async def check(self) -> TriggerEvent | None:
        """Look once; until a run since ``after`` shows up there is nothing to follow."""
        if not self.run_id and self.after:
            client = await self._client()
            runs = await client.runs_since(self.parsed_target, datetime.fromisoformat(self.after))
            if not runs:
                return None
            self.run_id = runs[0].id
        return await super().check()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """The shared polling loop."""
        async for event in super().run():
            yield reworded(event)

    async def on_kill(self) -> None:
        """Cancel the run when the deferred task is killed, if it is still the one running."""
        if not self.cancel_on_kill:
            return
        target = self.parsed_target
        try:
            client = await self._client()
            current = await client.current_run(target)
            if current is None or (self.run_id and current.id != self.run_id):
                return
            self.log.warning("Cancelling AI Squared sync %r run %s.", target.name, current.id)
            await client.cancel_run(target)
        except AISquaredError as exc:
            self.log.warning("Could not cancel AI Squared sync %r: %s", target.name, exc)
        finally:
            client, self._own_client = self._own_client, None
            if client is not None:
                await client.aclose()
