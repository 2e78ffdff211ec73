"""Run states: every status word CData Sync is known to use, normalised to one enum."""

from __future__ import annotations

import re
from enum import Enum


class RunState(str, Enum):
    """The normalised state of a job, transformation or pipeline run (or of one task of a run)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    WARNING = "warning"  # finished, with warnings: success unless the user asks otherwise
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    IDLE = "idle"  # nothing is running now (a job status, never a run's final state)
    UNKNOWN = "unknown"  # a word we do not know: never treated as success

    @property
    def is_terminal(self) -> bool:
        """Whether a run in this state has finished."""
        return self in TERMINAL_STATES

    @property
    def is_active(self) -> bool:
        """Whether a run in this state is still going."""
        return self in ACTIVE_STATES

    @property
    def is_failure(self) -> bool:
        """Whether a run in this state finished unsuccessfully."""
        return self in FAILURE_STATES


ACTIVE_STATES = frozenset({RunState.QUEUED, RunState.RUNNING})
SUCCESS_STATES = frozenset({RunState.SUCCESS, RunState.WARNING})
FAILURE_STATES = frozenset({RunState.FAILED, RunState.CANCELLED})
TERMINAL_STATES = SUCCESS_STATES | FAILURE_STATES | {RunState.SKIPPED}

_WORDS: dict[str, RunState] = {
    "queued": RunState.QUEUED,
    "pending": RunState.QUEUED,
    "waiting": RunState.QUEUED,
    "scheduled": RunState.QUEUED,
    "starting": RunState.RUNNING,
    "started": RunState.RUNNING,
    "testing": RunState.RUNNING,
    "running": RunState.RUNNING,
    "in progress": RunState.RUNNING,
    "inprogress": RunState.RUNNING,
    "executing": RunState.RUNNING,
    "processing": RunState.RUNNING,
    "cancelling": RunState.RUNNING,
    "canceling": RunState.RUNNING,
    "success": RunState.SUCCESS,
    "successful": RunState.SUCCESS,
    "succeeded": RunState.SUCCESS,
    "completed": RunState.SUCCESS,
    "complete": RunState.SUCCESS,
    "finished": RunState.SUCCESS,
    "ok": RunState.SUCCESS,
    "warning": RunState.WARNING,
    "warnings": RunState.WARNING,
    "completed with warnings": RunState.WARNING,
    "partial": RunState.WARNING,
    "failed": RunState.FAILED,
    "failure": RunState.FAILED,
    "error": RunState.FAILED,
    "errored": RunState.FAILED,
    "cancelled": RunState.CANCELLED,
    "canceled": RunState.CANCELLED,
    "aborted": RunState.CANCELLED,
    "stopped": RunState.CANCELLED,
    "skipped": RunState.SKIPPED,
    "idle": RunState.IDLE,
    "not running": RunState.IDLE,
    "no jobs running": RunState.IDLE,
    "never run": RunState.IDLE,
    "none": RunState.IDLE,
}

_TASKS_FAILED = re.compile(r"^\s*(\d+)\s+of\s+(\d+)\s+tasks?\s+failed", re.IGNORECASE)


def normalise_state(word: object) -> RunState:
    """Map a status word from any Sync version (any case) to a :class:`RunState`.

    ``"7 of 13 Tasks Failed"`` is a failure (or a success when 0 failed); an empty status is UNKNOWN;
    so is any word not listed, so that it is never mistaken for success.
    """
    if isinstance(word, RunState):
        return word
    if word is None:
        return RunState.UNKNOWN
    text = " ".join(str(word).replace("_", " ").split()).lower()
    if not text:
        return RunState.UNKNOWN
    if text in _WORDS:
        return _WORDS[text]
    match = _TASKS_FAILED.match(text)
    if match:
        return RunState.FAILED if int(match.group(1)) > 0 else RunState.SUCCESS
    if text.startswith("no jobs running") or text.startswith("no job running"):
        return RunState.IDLE
    return RunState.UNKNOWN
