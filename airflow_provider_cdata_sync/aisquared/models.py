"""AI Squared resources (JSON:API ``attributes`` flattened), on the CData Sync client's tolerant models."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from airflow_provider_cdata_sync.client.models import (
    OptionalInt,
    OptionalStr,
    Run,
    RunState,
    SyncModel,
    Timestamp,
    normalise_state,
)

#: AI Squared run statuses that the shared status table does not know, or knows otherwise.
_RUN_STATES: dict[str, RunState] = {
    "pending": RunState.QUEUED,
    "queued": RunState.QUEUED,
    # Not active (the server's own "active" list leaves it out) and not final: never success.
    "paused": RunState.UNKNOWN,
    "started": RunState.RUNNING,
    "querying": RunState.RUNNING,
    "in_progress": RunState.RUNNING,
    "success": RunState.SUCCESS,
    "failed": RunState.FAILED,
    "canceled": RunState.CANCELLED,
    "cancelled": RunState.CANCELLED,
}
ACTIVE_STATUSES = ("pending", "started", "querying", "queued", "in_progress")
TERMINAL_STATUSES = ("success", "failed", "canceled")
#: Every field of the create-sync document.
SYNC_FIELDS = (
    "source_id",
    "destination_id",
    "model_id",
    "schedule_type",
    "configuration",
    "stream_name",
    "sync_mode",
    "sync_interval",
    "sync_interval_unit",
    "cron_expression",
    "cursor_field",
)
#: Fields that identify a sync for idempotent creation.
IDENTITY_FIELDS = ("source_id", "destination_id", "model_id", "stream_name")


def run_state(status: object) -> RunState:
    """An AI Squared run status (any case) as a :class:`RunState`; unknown words are never success."""
    word = str(status or "").strip().lower().replace(" ", "_")
    return _RUN_STATES.get(word) or normalise_state(status)


class Sync(SyncModel):
    """A sync: a model of a source copied into a destination stream, on a schedule or by hand."""

    id: OptionalStr = None
    name: str | None = None
    source_id: OptionalStr = None
    destination_id: OptionalStr = None
    model_id: OptionalStr = None
    schedule_type: str | None = None
    sync_mode: str | None = None
    sync_interval: OptionalInt = None
    sync_interval_unit: str | None = None
    cron_expression: str | None = None
    cursor_field: str | None = None
    stream_name: str | None = None
    status: str | None = None
    configuration: dict[str, Any] | list[Any] | None = None

    @property
    def enabled(self) -> bool:
        """Whether the sync may run (a disabled sync answers 424 to a manual run)."""
        return str(self.status or "").lower() not in ("disabled", "paused", "inactive")

    @property
    def is_manual(self) -> bool:
        """Whether runs are triggered by hand (``schedule_type`` manual); others run on their schedule."""
        return str(self.schedule_type or "").lower() == "manual"

    @property
    def label(self) -> str:
        """How the sync is named in messages."""
        name = self.name or self.stream_name
        return f"{self.id} ({name})" if name else str(self.id)


class SyncRun(Run):
    """A run of a sync, with its row counts; ``start_time``/``end_time`` are started_at/finished_at."""

    aliases: ClassVar[dict[str, str]] = {**Run.aliases, "sync_run_id": "id"}
    sync_id: OptionalStr = None
    total_query_rows: OptionalInt = None
    total_rows: OptionalInt = None
    successful_rows: OptionalInt = None
    failed_rows: OptionalInt = None
    skipped_rows: OptionalInt = None
    created_at: Timestamp = None

    @classmethod
    def _reshape(cls, data: dict[str, Any]) -> dict[str, Any]:
        if isinstance(data.get("error"), dict | list):
            data["error"] = json.dumps(data["error"])
        return data

    @property
    def state(self) -> RunState:
        """The normalised state (pending/started/querying/in_progress are active)."""
        return run_state(self.status)

    @property
    def started(self) -> Any:
        """When the run started (its creation time when the server has not set started_at yet)."""
        return self.start_time or self.created_at


class SyncRecord(SyncModel):
    """One record written (or not) by a run: its data, action, status and error."""

    aliases: ClassVar[dict[str, str]] = {"error_message": "error"}
    id: OptionalStr = None
    sync_id: OptionalStr = None
    sync_run_id: OptionalStr = None
    status: str | None = None
    action: str | None = None
    primary_key: OptionalStr = None
    record: dict[str, Any] | None = None
    error: Any = None
    logs: Any = None
    created_at: Timestamp = None

    @property
    def failed(self) -> bool:
        """Whether the destination refused the record."""
        return str(self.status or "").lower() in ("failed", "failure", "error")

    @property
    def error_text(self) -> str:
        """The error as one line, from ``error`` or the record's logs."""
        for value in (self.error, (self.logs or {}).get("response") if isinstance(self.logs, dict) else None):
            if isinstance(value, str) and value:
                return value
            if value:
                return json.dumps(value, default=str)
        return self.status or ""
