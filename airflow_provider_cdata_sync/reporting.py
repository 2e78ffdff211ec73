"""What a user sees of a run: its JSON-safe summary, the failure message, the per-task table and the
remote log lines, bounded. No Airflow imports: operators, sensors and tests share these."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_cdata_sync.client.control import RunLog, Target
from airflow_provider_cdata_sync.client.models import Run, RunState, TaskRun

LOG_GROUP_START = "::group::CData Sync log"
LOG_GROUP_END = "::endgroup::"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _duration(task: TaskRun | Run) -> float | None:
    if task.start_time and task.end_time:
        return round((task.end_time - task.start_time).total_seconds(), 3)
    return None


def task_summary(task: TaskRun) -> dict[str, Any]:
    """One task's result, JSON-safe."""
    return {
        "task_id": task.task_id,
        "table": task.table,
        "status": task.state.value,
        "records_affected": task.records_affected,
        "start_time": _iso(task.start_time),
        "end_time": _iso(task.end_time),
        "duration_seconds": _duration(task),
        "error": task.error_text,
    }


def run_summary(target: Target, run: Run, console_url: str | None = None) -> dict[str, Any]:
    """The JSON-safe summary an operator returns (and pushes to XCom)."""
    records = run.records_affected
    if records is None and run.tasks:
        counted = [task.records_affected for task in run.tasks if task.records_affected is not None]
        records = sum(counted) if counted else None
    return {
        "kind": target.kind,
        "id": target.id,
        "name": target.name,
        "run_id": run.id,
        "status": run.state.value,
        "server_status": run.status,
        "start_time": _iso(run.start_time),
        "end_time": _iso(run.end_time),
        "duration_seconds": _duration(run),
        "records_affected": records,
        "error": run.error_text,
        "console_url": console_url,
        "tasks": [task_summary(task) for task in run.tasks],
    }


def failure_message(
    target: Target, run: Run, *, fail_on_warnings: bool = False, service: str = "CData Sync"
) -> str | None:
    """Why this finished run fails the Airflow task, or None when it succeeded.

    A run fails when it ended failed or cancelled, when any task failed (even if the run says success),
    or ended with warnings and ``fail_on_warnings`` is set. An unknown status is never success. The
    remote reason (a task's error or details, the run's details) is part of the message.
    """
    state = run.state
    failed = [task for task in run.tasks if task.state in (RunState.FAILED, RunState.CANCELLED)]
    label = f"{service} {target.kind} {target.name!r} run {run.id or '(no id)'}"
    if state is RunState.SUCCESS and not failed:
        return None
    if state is RunState.WARNING and not failed and not fail_on_warnings:
        return None
    if state is RunState.WARNING and not failed:
        return f"{label} finished with warnings (fail_on_warnings is set): {run.error_text or run.status}"
    if state is RunState.UNKNOWN:
        return f"{label} ended with an unknown status {run.status!r}; it is not treated as success."
    word = {RunState.CANCELLED: "was cancelled", RunState.FAILED: "failed"}.get(state, f"ended {state.value}")
    parts = [f"{label} {word}"]
    if failed:
        parts.append(
            "failed tasks: "
            + "; ".join(f"[{task.label}] {task.error_text or task.state.value}" for task in failed)
        )
        if run.error_text and not any(task.error_text for task in failed):
            parts.append(run.error_text)
    elif run.error_text:
        parts.append(run.error_text)
    return ". ".join(parts) + "."


def task_table(run: Run) -> list[str]:
    """A fixed-width table of the run's tasks: task, status, records, duration, error."""
    rows = [("task", "status", "records", "duration", "error")]
    for task in run.tasks:
        duration = _duration(task)
        rows.append(
            (
                task.label,
                task.state.value,
                "" if task.records_affected is None else str(task.records_affected),
                "" if duration is None else f"{duration:.1f}s",
                (task.error_text or "")[:200],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return [
        "  ".join(
            [*(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)), row[4]]
        ).rstrip()
        for row in rows
    ]


@dataclass
class LogPrinter:
    """Turns remote log text into bounded task-log lines: at most ``max_lines`` lines and ``max_bytes``
    bytes in all, the tail kept, with a line saying what was cut. In streaming mode (blocking waits) it
    prints new lines as the log grows, using half of the budget, and keeps the rest for the final tail."""

    max_lines: int = 1000
    max_bytes: int = 1_000_000
    printed_lines: int = 0
    printed_bytes: int = 0
    offset: int = 0  # bytes of the remote log already handled (append-only logs)
    streaming_done: bool = False
    _pending: list[str] = field(default_factory=list)

    def _new_part(self, log: RunLog) -> str:
        """The part of the log after what was already handled (logs only grow)."""
        data = log.text.encode("utf-8", "replace")
        start = log.truncated_bytes  # absolute offset of the first byte we were given
        new = data[max(self.offset - start, 0) :]
        self.offset = max(self.offset, start + len(data))
        return new.decode("utf-8", "replace")

    def stream(self, log: RunLog) -> list[str]:
        """Lines that appeared since the last call, within half of the budget (then nothing more)."""
        if self.streaming_done:
            return []
        before = max(self.offset, log.truncated_bytes)
        new_text = self._new_part(log)
        if not new_text.endswith("\n"):  # keep an incomplete last line for later
            cut = new_text.rfind("\n") + 1
            self.offset -= len(new_text[cut:].encode("utf-8"))
            new_text = new_text[:cut]
        lines = new_text.splitlines()
        budget_lines = self.max_lines // 2 - self.printed_lines
        budget_bytes = self.max_bytes // 2 - self.printed_bytes
        taken: list[str] = []
        for line in lines:
            size = len(line.encode("utf-8")) + 1
            if len(taken) >= budget_lines or size > budget_bytes:
                self.streaming_done = True
                self.offset = before + sum(len(x.encode("utf-8")) + 1 for x in taken)
                break
            taken.append(line)
            budget_bytes -= size
        self.printed_lines += len(taken)
        self.printed_bytes += sum(len(x.encode("utf-8")) + 1 for x in taken)
        return taken

    def final(self, log: RunLog) -> list[str]:
        """The rest of the log not printed yet, its tail within the remaining budget, with a cut notice."""
        rest = self._new_part(log)
        lines = rest.splitlines()
        budget_lines = max(self.max_lines - self.printed_lines, 1)
        budget_bytes = max(self.max_bytes - self.printed_bytes, 1)
        kept: list[str] = []
        size = 0
        for line in reversed(lines):
            line_size = len(line.encode("utf-8")) + 1
            if len(kept) >= budget_lines or size + line_size > budget_bytes:
                break
            kept.append(line)
            size += line_size
        kept.reverse()
        cut_lines = len(lines) - len(kept)
        notes: list[str] = []
        if cut_lines or (log.truncated_bytes and self.printed_lines == 0):
            earlier = f"{cut_lines} line(s)" if cut_lines else "the start"
            extra = (
                f" and {log.truncated_bytes} earlier byte(s) not downloaded" if log.truncated_bytes else ""
            )
            notes.append(
                f"[... {earlier}{extra} of the CData Sync log cut here: only the last {len(kept)} "
                f"line(s) are shown (log_max_lines={self.max_lines}, log_max_bytes={self.max_bytes}) ...]"
            )
        self.printed_lines += len(kept)
        self.printed_bytes += size
        return notes + kept


def grouped(lines: list[str]) -> Iterator[str]:
    """Lines wrapped in a folded log group, nothing when there are no lines."""
    if not lines:
        return
    yield LOG_GROUP_START
    yield from lines
    yield LOG_GROUP_END
