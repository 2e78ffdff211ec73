"""The lineage of a CData Sync run, read with the provider's client (no Airflow import).

- A **job** run: per task that ran, one input (the source connection's table its ``REPLICATE`` query
  reads) and one output (the destination connection's table, with the job's table-name prefix and
  destination schema); rows = the task's records affected; column lineage for plain copies.
- A **transformation** run: the tables its SQL creates or changes on its connection (outputs), and the
  tables it reads there (inputs).
- A **pipeline** run: the union of its job and transformation steps' runs.

Every API call is bounded (``max_calls``) and cached for the run; a call that fails costs a line in
``RunLineage.problems`` and some datasets, never the task.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_cdata_sync.client.control import Target
from airflow_provider_cdata_sync.client.models import Run, RunState, TaskRun
from airflow_provider_cdata_sync.lineage.model import (
    ColumnInfo,
    LineageDataset,
    RunLineage,
    TaskOutcome,
)
from airflow_provider_cdata_sync.lineage.naming import (
    ConnectionInfo,
    dataset_name,
    parse_connection_string,
    split_table,
)
from airflow_provider_cdata_sync.lineage.sql import parse_replicate, tables_of_sql

log = logging.getLogger(__name__)

SERVICE = "CData Sync"
#: Most API calls one run's lineage makes (columns are the many ones: two per task).
DEFAULT_MAX_CALLS = 60
_NOT_RUN = (RunState.SKIPPED, RunState.QUEUED, RunState.IDLE)


def server_of(client: Any) -> str:
    """The host (and port) of the server a client talks to."""
    url = str(getattr(getattr(client, "config", None), "base_url", "") or "")
    return urlsplit(url).netloc or url or "localhost"


class _Budget(Exception):
    """The run's API call budget is spent."""


class CDataSyncLineage:
    """Builds :class:`RunLineage` for runs of one CData Sync server (one instance per run: its cache).

    :param client: a synchronous v2 or v1 client (``hook.get_client()``).
    :param max_calls: most API calls made (connections, tasks, columns, pipeline step runs).
    :param columns: read the tables' columns for the schema facets and column lineage.
    """

    def __init__(self, client: Any, *, max_calls: int = DEFAULT_MAX_CALLS, columns: bool = True) -> None:
        self.client = client
        self.server = server_of(client)
        self.max_calls = max_calls
        self.read_columns = columns
        self.calls = 0
        self._cache: dict[tuple[Any, ...], Any] = {}
        self.v1 = getattr(client, "api_version", None) == "v1" or type(client).__name__.endswith("V1Client")

    # ------------------------------------------------------------------ API calls, bounded and cached
    def _call(self, key: tuple[Any, ...], fn: Any, *args: Any) -> Any:
        if key in self._cache:
            if isinstance(self._cache[key], Exception):
                raise self._cache[key]
            return self._cache[key]
        if self.calls >= self.max_calls:
            raise _Budget(f"the lineage call budget ({self.max_calls} API calls) is spent")
        self.calls += 1
        try:
            value = fn(*args)
        except Exception as exc:
            self._cache[key] = exc
            raise
        self._cache[key] = value
        return value

    def _safe(self, lineage: RunLineage, what: str, key: tuple[Any, ...], fn: Any, *args: Any) -> Any:
        try:
            return self._call(key, fn, *args)
        except Exception as exc:
            line = f"{what}: {exc}"
            if line not in lineage.problems:
                lineage.problems.append(line)
            log.debug("Lineage: %s", line)
            return None

    def connection(self, lineage: RunLineage, ref: Any) -> ConnectionInfo | None:
        """A connection (by its id, name or a ``ConnectionRef``) as naming needs it."""
        ident = getattr(ref, "id", None) or getattr(ref, "name", None) or ref
        if not ident:
            return None
        name = getattr(ref, "name", None)
        found = self._safe(
            lineage, f"connection {ident}", ("connection", str(ident)), self._get_connection, ident
        )
        if found is None:
            if not name:
                return None
            return ConnectionInfo(name=str(name), connector=None, server=self.server, id=str(ident))
        properties = dict(found.properties or {})
        if not properties and found.extra("connection_string"):
            properties = parse_connection_string(str(found.extra("connection_string")))
        return ConnectionInfo(
            name=found.name,
            connector=found.connector,
            properties=properties,
            server=self.server,
            id=str(found.id or found.name),
        )

    def _get_connection(self, ident: str) -> Any:
        connections = self.client.connections
        try:
            return connections.get(str(ident))
        except Exception:
            if self.v1:
                raise
            return connections.resolve(str(ident))  # a name where an id was expected

    def columns(self, lineage: RunLineage, info: ConnectionInfo, table: str) -> list[ColumnInfo]:
        """The columns of a table of a connection, when the API lists them (empty otherwise)."""
        if not self.read_columns or not info.id:
            return []
        found = self._safe(
            lineage,
            f"columns of {info.name}.{table}",
            ("columns", info.id, table.lower()),
            self.client.connections.columns,
            info.id,
            table,
        )
        return [ColumnInfo(c.name, c.data_type) for c in found or []]

    # ------------------------------------------------------------------ runs
    def build(self, target: Target, run: Run | None) -> RunLineage:
        """The lineage of a run of a job, transformation or pipeline (``run`` None: the target's tasks)."""
        if target.api_version:
            self.v1 = target.api_version == "v1"
        lineage = RunLineage(
            service=SERVICE,
            kind=target.kind,
            target_id=target.id,
            target_name=target.name,
            run_id=run.id if run else None,
            status=run.status if run else None,
            state=run.state.value if run else "unknown",
            server=self.server,
            records=run.records_affected if run else None,
            error=run.error_text if run else None,
            start_time=run.start_time if run else None,
            end_time=run.end_time if run else None,
        )
        try:
            if target.kind == "job":
                self._job(lineage, target.id if not self.v1 else target.name, run)
            elif target.kind == "transformation":
                self._transformation(lineage, target.id if not self.v1 else target.name, run)
            elif target.kind == "pipeline":
                self._pipeline(lineage, target.id, run)
        except _Budget as exc:
            lineage.problems.append(str(exc))
        return lineage

    def _outcomes(self, lineage: RunLineage, run: Run | None, kind: str) -> None:
        for task in run.tasks if run else []:
            lineage.tasks.append(
                TaskOutcome(
                    task=str(task.task_id or task.table or task.query or "?"),
                    status=task.status,
                    records=task.records_affected,
                    error=task.error_text,
                    table=task.table,
                    kind=kind,
                )
            )

    def _task_runs(self, lineage: RunLineage, owner: Any, owner_id: str, run: Run | None) -> list[TaskRun]:
        """The tasks of the run, with their queries (from the tasks list when the run omits them);
        without a run (or tasks in it): every active task, with no records."""
        queries: dict[str, str] = {}
        runs = list(run.tasks) if run and run.tasks else []
        if not runs or any(not t.query for t in runs):
            listed = self._safe(
                lineage, f"tasks of {owner_id}", ("tasks", owner_id), self._list_tasks, owner, owner_id
            )
            for task in listed or []:
                if task.query:
                    queries[str(task.id)] = task.query
                    if task.table:
                        queries.setdefault(f"table:{task.table.lower()}", task.query)
            if not runs:
                runs = [
                    TaskRun(task_id=t.id, table=t.table, query=t.query) for t in listed or [] if t.is_active
                ]
        out = []
        for task in runs:
            if not task.query:
                query = queries.get(str(task.task_id)) or queries.get(f"table:{(task.table or '').lower()}")
                task = task.model_copy(update={"query": query})
            out.append(task)
        return out

    def _list_tasks(self, owner: Any, owner_id: str) -> Any:
        if self.v1:
            return self.client.tasks.list(owner_id)
        return owner.tasks.list(owner_id)

    def _job(self, lineage: RunLineage, job_id: str, run: Run | None) -> None:
        self._outcomes(lineage, run, "job")
        job = self._safe(lineage, f"job {job_id}", ("job", job_id), self.client.jobs.get, job_id)
        if job is None:
            return
        source = self.connection(lineage, job.source_connection)
        destination = self.connection(lineage, job.destination_connection)
        prefix = str(job.extra("table_name_prefix") or job.extra("table_prefix") or "")
        schema = job.extra("destination_schema") or None
        for task in self._task_runs(lineage, self.client.jobs, str(job.id or job_id), run):
            if task.state in _NOT_RUN and run is not None and run.tasks:
                continue
            copy = parse_replicate(task.query) if task.query else None
            if copy is None and task.table:
                copy = parse_replicate(f"REPLICATE [{task.table}]")
            if copy is None:
                continue
            label = str(task.task_id or copy.destination)
            ok = task.state in (RunState.SUCCESS, RunState.WARNING) or run is None
            src = None
            if source is not None and copy.source:
                src = LineageDataset(
                    dataset_name(source, copy.source),
                    source.name,
                    columns=self.columns(lineage, source, copy.source),
                    tasks=[label],
                )
                src = lineage.add_input(src)
            if destination is None:
                continue
            parts = split_table(copy.destination) or [copy.destination]
            parts[-1] = f"{prefix}{parts[-1]}"
            dest_table = ".".join(parts)
            written = dataset_name(destination, dest_table, schema=str(schema) if schema else None)
            out = LineageDataset(
                written,
                destination.name,
                columns=self.columns(lineage, destination, self._physical(destination, dest_table, schema)),
                rows=task.records_affected,
                tasks=[label],
                ok=ok,
            )
            if copy.plain_copy and src is not None:
                names = [c.name for c in (out.columns or src.columns)]
                known = {c.name.lower() for c in src.columns}
                out.column_sources = {
                    name: [(src.dataset.namespace, src.dataset.name, name)]
                    for name in names
                    if not known or name.lower() in known
                }
                if not out.columns and src.columns:
                    out.columns = list(src.columns)
            lineage.add_output(out)

    @staticmethod
    def _physical(info: ConnectionInfo, table: str, schema: Any) -> str:
        """The name the destination's columns are listed under (schema-less stores: ``<schema>_<table>``)."""
        from airflow_provider_cdata_sync.lineage.naming import SCHEMALESS

        if schema and info.system in SCHEMALESS and "." not in table:
            return f"{schema}_{table}"
        if schema and "." not in table:
            return f"{schema}.{table}"
        return table

    def _transformation(self, lineage: RunLineage, ident: str, run: Run | None) -> None:
        self._outcomes(lineage, run, "transformation")
        item = self._safe(
            lineage,
            f"transformation {ident}",
            ("transformation", ident),
            self.client.transformations.get,
            ident,
        )
        if item is None:
            return
        ref = item.connection_id or item.connection_name
        connection = self.connection(lineage, ref) if ref else None
        if connection is None:
            return
        for task in self._task_runs(lineage, self.client.transformations, str(item.id or ident), run):
            if task.state in _NOT_RUN and run is not None and run.tasks:
                continue
            tables = tables_of_sql(task.query)
            label = str(task.task_id or task.table or "?")
            ok = task.state in (RunState.SUCCESS, RunState.WARNING) or run is None
            for table in tables.reads:
                lineage.add_input(
                    LineageDataset(
                        dataset_name(connection, table),
                        connection.name,
                        columns=self.columns(lineage, connection, table),
                        tasks=[label],
                    )
                )
            rows = task.records_affected if len(tables.writes) == 1 else None
            for table in tables.writes:
                lineage.add_output(
                    LineageDataset(
                        dataset_name(connection, table),
                        connection.name,
                        columns=self.columns(lineage, connection, table),
                        rows=rows,
                        tasks=[label],
                        ok=ok,
                    )
                )

    def _pipeline(self, lineage: RunLineage, pipeline_id: str, run: Run | None) -> None:
        steps = (run.extra("steps") if run else None) or []
        for step in steps:
            if not isinstance(step, dict):
                continue
            kind = str(step.get("type") or "").lower()
            target_id, child_id = step.get("target_id"), step.get("run_id")
            lineage.tasks.append(
                TaskOutcome(
                    task=str(step.get("step_id") or target_id),
                    status=step.get("status"),
                    error=step.get("error"),
                    run_id=str(child_id) if child_id else None,
                    kind=kind,
                    table=step.get("name"),
                )
            )
            if kind not in ("job", "transformation") or not target_id or not child_id:
                continue
            owner = self.client.jobs if kind == "job" else self.client.transformations
            child_run = self._safe(
                lineage,
                f"{kind} {target_id} run {child_id}",
                ("history", kind, str(target_id), str(child_id)),
                owner.get_history,
                str(target_id),
                str(child_id),
            )
            if child_run is None:
                continue
            child = RunLineage(
                service=SERVICE,
                kind=kind,
                target_id=str(target_id),
                target_name=str(step.get("name") or target_id),
                run_id=str(child_id),
                status=child_run.status,
                state=child_run.state.value,
                server=self.server,
            )
            if kind == "job":
                self._job(child, str(target_id), child_run)
            else:
                self._transformation(child, str(target_id), child_run)
            lineage.absorb(child)
            for outcome in lineage.tasks:
                if outcome.run_id == str(child_id) and outcome.records is None:
                    outcome.records = child_run.records_affected
