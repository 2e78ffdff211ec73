"""What a user sees of an AI Squared run: its JSON-safe summary, row counts, failed records and the
failure message. No Airflow imports; built on the CData Sync reporting helpers."""

from __future__ import annotations

from typing import Any

from airflow_provider_cdata_sync.aisquared.models import SyncRecord, SyncRun
from airflow_provider_cdata_sync.client.control import Target
from airflow_provider_cdata_sync.client.models import RunState
from airflow_provider_cdata_sync.reporting import _duration, _iso, grouped

RECORDS_GROUP = "::group::AI Squared failed records"


def record_summary(record: SyncRecord) -> dict[str, Any]:
    """One failed record, JSON-safe."""
    return {
        "id": record.id,
        "primary_key": record.primary_key,
        "action": record.action,
        "error": record.error_text,
    }


def run_summary(
    target: Target, run: SyncRun, failed_records: list[SyncRecord] | None = None
) -> dict[str, Any]:
    """The JSON-safe summary the operator and the sensor return."""
    return {
        "kind": "sync",
        "sync_id": target.id,
        "name": target.name,
        "run_id": run.id,
        "status": run.state.value,
        "server_status": run.status,
        "start_time": _iso(run.start_time),
        "end_time": _iso(run.end_time),
        "duration_seconds": _duration(run),
        "total_query_rows": run.total_query_rows,
        "total_rows": run.total_rows,
        "successful_rows": run.successful_rows,
        "failed_rows": run.failed_rows,
        "skipped_rows": run.skipped_rows,
        "error": run.error,
        "failed_records": [record_summary(record) for record in failed_records or []],
    }


def row_counts(run: SyncRun) -> str:
    """``250 queried, 250 processed: 240 successful, 10 failed, 0 skipped``."""

    def number(value: int | None) -> str:
        return "?" if value is None else str(value)

    return (
        f"{number(run.total_query_rows)} queried, {number(run.total_rows)} processed: "
        f"{number(run.successful_rows)} successful, {number(run.failed_rows)} failed, "
        f"{number(run.skipped_rows)} skipped"
    )


def failed_record_lines(records: list[SyncRecord], total_failed: int | None) -> list[str]:
    """The first failed records' errors, in a folded log group (nothing when there are none)."""
    lines = [
        f"record {record.id}{f' (key {record.primary_key})' if record.primary_key else ''}: "
        f"{record.error_text[:300]}"
        for record in records
    ]
    if total_failed and total_failed > len(records):
        lines.append(f"... and {total_failed - len(records)} more failed record(s)")
    return [RECORDS_GROUP if line.startswith("::group::") else line for line in grouped(lines)]


def failure_message(target: Target, run: SyncRun, *, max_failed_rows: int | None = None) -> str | None:
    """Why this finished run fails the Airflow task, or None when it succeeded.

    A run fails when it ended failed or canceled (or unknown), or when more rows failed than
    ``max_failed_rows`` allows (None: failed rows alone never fail the task, as in AI Squared itself).
    """
    label = f"AI Squared sync {target.name!r} (id {target.id}) run {run.id or '(no id)'}"
    state = run.state
    if state is RunState.SUCCESS:
        failed = run.failed_rows or 0
        if max_failed_rows is not None and failed > max_failed_rows:
            return f"{label} succeeded but {failed} row(s) failed (max_failed_rows={max_failed_rows})."
        return None
    if state is RunState.UNKNOWN:
        return f"{label} ended with an unknown status {run.status!r}; it is not treated as success."
    word = {RunState.CANCELLED: "was canceled", RunState.FAILED: "failed"}.get(state, f"ended {run.status}")
    return f"{label} {word}" + (f": {run.error}" if run.error else "") + "."
