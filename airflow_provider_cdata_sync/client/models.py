"""Pydantic models of CData Sync resources and the run states, tolerant of what real servers send.

Keys are accepted in any case and spelling (``JobName``, ``job_name``, ``Source-Connection``,
``Worker_Pool``) and normalised to lower snake case; documented alternative names map onto one field;
unknown fields are kept (``model_extra``), so nothing a newer server sends is lost.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator


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
    if type(word) is str:  # pollers ask this of the same few words thousands of times a tick
        known = _SEEN_WORDS.get(word)
        if known is None:
            known = _normalise_text(word)
            if len(_SEEN_WORDS) < 1024:
                _SEEN_WORDS[word] = known
        return known
    return _normalise_text(str(word))


_SEEN_WORDS: dict[str, RunState] = {}


def _normalise_text(word: str) -> RunState:
    text = " ".join(word.replace("_", " ").split()).lower()
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


_SEPARATORS = re.compile(r"[\s\-.]+")
_CAMEL_1 = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_CAMEL_2 = re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])")
_UNDERSCORES = re.compile(r"_+")


@functools.lru_cache(maxsize=4096)
def to_snake(key: str) -> str:
    """``RunStartDate`` -> ``run_start_date``, ``Source-Connection`` -> ``source_connection`` (cached:
    the same few keys come back in every answer)."""
    text = _SEPARATORS.sub("_", key.strip().lstrip("@"))
    text = _CAMEL_2.sub("_", _CAMEL_1.sub("_", text))
    return _UNDERSCORES.sub("_", text).strip("_").lower()


def _parse_time(value: Any) -> Any:
    if value in ("", None):
        return None
    if isinstance(value, str) and value.endswith("Z"):
        value = value[:-1] + "+00:00"
    return value


def _assume_utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _empty_to_none(value: Any) -> Any:
    return None if value in ("", "null") else value


#: A time as servers send it (ISO text, "Z" or not, empty for none); one without a zone is UTC.
Timestamp = Annotated[datetime | None, BeforeValidator(_parse_time), AfterValidator(_assume_utc)]
OptionalInt = Annotated[int | None, BeforeValidator(_empty_to_none)]
OptionalStr = Annotated[str | None, BeforeValidator(lambda v: None if v is None else str(v))]


class SyncModel(BaseModel):
    """Base of every resource model: key normalisation, aliases, extra fields kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, coerce_numbers_to_str=True)

    #: normalised key -> field name, for the alternative spellings servers use.
    aliases: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _normalise_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        normalised: dict[str, Any] = {}
        for raw_key, value in data.items():
            key = to_snake(str(raw_key))
            key = cls.aliases.get(key, key)
            if normalised.get(key) is None:  # the first non-null spelling wins
                normalised[key] = value
        return cls._reshape(normalised)

    @classmethod
    def _reshape(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Hook for models that need more than key renaming."""
        return data

    def extra(self, key: str, default: Any = None) -> Any:
        """An unmodelled field, by its normalised (snake case) name."""
        return (self.model_extra or {}).get(key, default)


class Workspace(SyncModel):
    """A workspace (v2)."""

    aliases: ClassVar[dict[str, str]] = {"workspace_id": "id", "workspace_name": "name"}
    id: str
    name: str | None = None


class ConnectionRef(SyncModel):
    """A reference to a connection inside a job: id and/or name."""

    aliases: ClassVar[dict[str, str]] = {"connection_id": "id", "connection_name": "name"}
    id: OptionalStr = None
    name: str | None = None


def _connection_ref(value: Any) -> Any:
    """Connections in jobs come as ``{"id","name"}`` objects or as a bare name/id string."""
    if isinstance(value, str):
        return {"name": value}
    return value


ConnectionRefField = Annotated[ConnectionRef | None, BeforeValidator(_connection_ref)]


class Connection(SyncModel):
    """A connection to a source or destination."""

    aliases: ClassVar[dict[str, str]] = {
        "connection_id": "id",
        "connection_name": "name",
        "provider_name": "connector",
        "connect_version": "connector_version",
    }
    id: OptionalStr = None
    name: str
    connector: str | None = None
    connector_version: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    labels: list[str] | None = None
    workspace_id: str | None = None


class Schedule(SyncModel):
    """A job, transformation or pipeline schedule inside Sync."""

    enabled: bool = False
    cron: str | None = None


class Job(SyncModel):
    """A job: a source, a destination and tasks (one query per table)."""

    aliases: ClassVar[dict[str, str]] = {"job_id": "id", "job_name": "name", "job_type": "type"}
    id: OptionalStr = None
    name: str
    type: str | None = None
    workspace_id: str | None = None
    source_connection: ConnectionRefField = None
    destination_connection: ConnectionRefField = None
    schedule: Schedule | None = None
    status: str | None = None
    labels: list[str] | None = None
    pipeline_id: str | None = None
    enable_parallel_processing: bool | None = None
    continue_on_error: bool | None = None

    @classmethod
    def _reshape(cls, data: dict[str, Any]) -> dict[str, Any]:
        for side in ("source", "destination"):
            ref = data.get(f"{side}_connection")
            if ref is None:
                ref = data.get(side)
            ref_id = data.get(f"{side}_connection_id") or data.get(f"{side}_id")
            ref_name = data.get(f"{side}_connection_name")
            if ref is None and (ref_id or ref_name):
                ref = {"id": ref_id, "name": ref_name}
            if ref is not None:
                data[f"{side}_connection"] = ref
        if isinstance(data.get("schedule"), str):  # some servers give the cron alone
            data["schedule"] = {"enabled": bool(data["schedule"]), "cron": data["schedule"]}
        return data

    @property
    def state(self) -> RunState:
        """The job's current state (``idle`` when nothing runs)."""
        return normalise_state(self.status)


_REPLICATE_TARGET = re.compile(r"^\s*REPLICATE\s+(?:\[([^\]]+)\]|\"([^\"]+)\"|([^\s(]+))", re.IGNORECASE)


def table_of_query(query: str | None) -> str | None:
    """The destination table a ``REPLICATE [Table] ...`` query writes to."""
    if not query:
        return None
    match = _REPLICATE_TARGET.match(query)
    if not match:
        return None
    return next(group for group in match.groups() if group)


class Task(SyncModel):
    """A task of a job or transformation: one query."""

    aliases: ClassVar[dict[str, str]] = {"task_id": "id", "query_text": "query", "active": "is_active"}
    id: OptionalStr = None
    job_id: OptionalStr = None
    query: str | None = None
    is_active: bool = True
    index: OptionalInt = None
    table: str | None = None

    @classmethod
    def _reshape(cls, data: dict[str, Any]) -> dict[str, Any]:
        if not data.get("table"):
            data["table"] = data.get("table_name") or table_of_query(data.get("query"))
        return data


class TaskRun(SyncModel):
    """The result of one task in one run."""

    aliases: ClassVar[dict[str, str]] = {
        "id": "task_id",
        "table_name": "table",
        "run_start_date": "start_time",
        "started_at": "start_time",
        "start_date": "start_time",
        "run_end_date": "end_time",
        "finished_at": "end_time",
        "end_date": "end_time",
        "records": "records_affected",
        "rows_affected": "records_affected",
        "result": "error",
        "error_message": "error",
        "message": "error",
        "detail": "details",
        "history_id": "run_id",
    }
    task_id: OptionalStr = None
    run_id: OptionalStr = None
    table: str | None = None
    query: str | None = None
    status: str | None = None
    records_affected: OptionalInt = None
    start_time: Timestamp = None
    end_time: Timestamp = None
    error: OptionalStr = None
    details: OptionalStr = None

    @classmethod
    def _reshape(cls, data: dict[str, Any]) -> dict[str, Any]:
        if not data.get("table"):
            data["table"] = table_of_query(data.get("query"))
        return data

    @property
    def state(self) -> RunState:
        """The normalised state of this task run."""
        return normalise_state(self.status)

    @property
    def label(self) -> str:
        """How to name the task in messages: its table, else its id."""
        return self.table or self.task_id or self.query or "?"

    @property
    def error_text(self) -> str | None:
        """Why the task failed: its error (``Result`` in v1 answers), else its details when it failed
        (servers keep the reason in ``Details``/``Detail``); None for a task that did not fail."""
        if self.error:
            return self.error
        if self.state.is_failure and self.details and normalise_state(self.details) is RunState.UNKNOWN:
            return self.details
        return None


class Run(SyncModel):
    """A run (history record) of a job, transformation or pipeline."""

    aliases: ClassVar[dict[str, str]] = {
        "history_id": "id",
        "run_id": "id",
        "job_run_id": "id",
        "run_start_date": "start_time",
        "started_at": "start_time",
        "start_date": "start_time",
        "run_end_date": "end_time",
        "finished_at": "end_time",
        "end_date": "end_time",
        "records": "records_affected",
        "rows_affected": "records_affected",
        "error_message": "error",
        "detail": "details",
        "query_results": "tasks",
        "task_results": "tasks",
        "queries": "tasks",
    }
    id: OptionalStr = None
    job_id: OptionalStr = None
    job_name: str | None = None
    transformation_id: OptionalStr = None
    pipeline_id: OptionalStr = None
    status: str | None = None
    start_time: Timestamp = None
    end_time: Timestamp = None
    records_affected: OptionalInt = None
    error: OptionalStr = None
    details: OptionalStr = None
    log_file: str | None = None
    tasks: list[TaskRun] = Field(default_factory=list)

    @property
    def state(self) -> RunState:
        """The normalised state of the run."""
        return normalise_state(self.status)

    @property
    def failed_tasks(self) -> list[TaskRun]:
        """Tasks of this run that failed."""
        return [task for task in self.tasks if task.state is RunState.FAILED]

    @property
    def error_text(self) -> str | None:
        """The run's error, else its details (``7 of 13 Tasks Failed``, a reason) when the run failed."""
        if self.error:
            return self.error
        if self.state.is_failure and self.details:
            return self.details
        return None


class RunStatus(SyncModel):
    """The answer of a status endpoint: the state of the current (or last) run."""

    aliases: ClassVar[dict[str, str]] = {
        "run_id": "history_id",
        "current_run_id": "history_id",
        "current_history_id": "history_id",
        "job_status": "status",
        "query_results": "tasks",
        "queries": "tasks",
        "last_run_id": "last_history_id",
    }
    status: str | None = None
    history_id: OptionalStr = None
    last_history_id: OptionalStr = None
    job_id: OptionalStr = None
    tasks: list[TaskRun] = Field(default_factory=list)

    @property
    def state(self) -> RunState:
        """The normalised state (``idle`` when nothing runs)."""
        return normalise_state(self.status)


class Transformation(SyncModel):
    """A transformation: SQL tasks run on a connection."""

    aliases: ClassVar[dict[str, str]] = {"transformation_id": "id", "transformation_name": "name"}
    id: OptionalStr = None
    name: str
    type: str | None = None
    connection_id: OptionalStr = None
    connection_name: str | None = None
    workspace_id: str | None = None
    schedule: Schedule | None = None
    status: str | None = None

    @classmethod
    def _reshape(cls, data: dict[str, Any]) -> dict[str, Any]:
        # Documented as ``Destination-Connection: {id, name}``; older answers give ``connection`` or the id.
        for key in ("destination_connection", "connection"):
            ref = data.get(key)
            if isinstance(ref, dict):
                ref = {to_snake(str(k)): v for k, v in ref.items()}
                data.setdefault("connection_id", ref.get("id") or ref.get("connection_id"))
                data.setdefault("connection_name", ref.get("name") or ref.get("connection_name"))
                if data.get("connection_id") is None:
                    data["connection_id"] = ref.get("id")
            elif isinstance(ref, str) and not data.get("connection_name"):
                data["connection_name"] = ref
        return data


class Pipeline(SyncModel):
    """A pipeline: jobs and transformations run as steps, with events."""

    aliases: ClassVar[dict[str, str]] = {"pipeline_id": "id", "pipeline_name": "name"}
    id: OptionalStr = None
    name: str
    schedule: Schedule | None = None
    labels: list[str] | None = None
    workspace_id: str | None = None
    status: str | None = None


class PipelineStep(SyncModel):
    """A step of a pipeline: a job or a transformation."""

    aliases: ClassVar[dict[str, str]] = {"step_id": "id"}
    id: OptionalStr = None
    index: OptionalInt = None
    type: str | None = None
    target_id: OptionalStr = None
    name: str | None = None

    @classmethod
    def _reshape(cls, data: dict[str, Any]) -> dict[str, Any]:
        if not data.get("target_id"):
            data["target_id"] = data.get("job_id") or data.get("transformation_id")
        return data


class PipelineEvent(SyncModel):
    """An event of a pipeline: a step that runs an API or Python script."""

    aliases: ClassVar[dict[str, str]] = {"event_id": "id"}
    id: OptionalStr = None
    name: str | None = None
    script: str | None = None
    labels: list[str] | None = None


class User(SyncModel):
    """A Sync user."""

    aliases: ClassVar[dict[str, str]] = {
        "user_id": "id",
        "user": "name",
        "user_name": "name",
        "roles": "role",
    }
    id: OptionalStr = None
    name: str | None = None
    role: str | None = None
    active: bool | None = None


class Table(SyncModel):
    """A table (or view) a connection offers."""

    aliases: ClassVar[dict[str, str]] = {
        "table_name": "name",
        "table_type": "type",
        "table_schema": "schema_name",
    }
    name: str
    schema_name: str | None = None
    type: str | None = None

    @classmethod
    def _reshape(cls, data: dict[str, Any]) -> dict[str, Any]:
        if "schema" in data and "schema_name" not in data:
            data["schema_name"] = data.pop("schema")
        return data


class Column(SyncModel):
    """A column of a table."""

    aliases: ClassVar[dict[str, str]] = {"column_name": "name", "type": "data_type", "type_name": "data_type"}
    name: str
    data_type: str | None = None
    is_nullable: bool | None = None
    is_key: bool | None = None


class LogFileInfo(SyncModel):
    """A log file listed for a connection."""

    aliases: ClassVar[dict[str, str]] = {"log_name": "name", "file_name": "name", "filename": "name"}
    name: str
    size: OptionalInt = None
    modified: Timestamp = None


class TestResult(SyncModel):
    """The outcome of testing a connection."""

    __test__ = False  # not a pytest test class
    success: bool = True
    message: str | None = None
