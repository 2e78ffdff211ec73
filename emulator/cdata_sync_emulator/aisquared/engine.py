"""The AI Squared emulator's state and run engine: syncs run in threads and copy rows for real.

A model is a SQL query on its source database, a destination is a SQLite database, and a sync copies the
model's rows into the table named by its ``stream_name`` (field mapping from ``configuration``;
``full_refresh`` empties the table first, ``incremental`` copies rows past the cursor). Each row becomes a
sync record (success, or failed with the database's error). Run statuses go pending -> started ->
querying -> in_progress -> success / failed / canceled.

With ``oss=True`` the engine follows the open-source server's workflow (``docs/api-facts.md``): the run row
appears after the trigger's delay, ``started_at`` stays null until extraction starts, records are created
``pending`` while querying (then ``queued``) and settled with ``logs`` while loading, the row counts are
written once at the end, a failed run carries no ``error``, a cancel marks the run ``canceled`` at once
(its ``finished_at`` stays null), and a second trigger while a run is starting is dropped silently.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..util import now_iso

#: The API's statuses of a run that has not finished (the open-source ``SyncRun.active`` scope; ``paused``
#: is not in it, and nothing in the open-source code pauses a run).
ACTIVE_STATUSES = ("pending", "started", "querying", "queued", "in_progress")
#: Every run status, in the server's order (``?status=`` must be one of them in ``oss`` mode).
RUN_STATUSES = (*ACTIVE_STATUSES, "success", "paused", "failed", "canceled")


@dataclass
class Speed:
    """Speed knobs: seconds spent in each phase before copying, copy rate, delay before a run shows."""

    step_seconds: float = 0.05
    rows_per_second: float | None = None
    trigger_delay: float = 0.05


@dataclass
class State:
    """Connectors, models, syncs, runs and records, in memory, behind one lock."""

    connectors: dict[int, dict[str, Any]] = field(default_factory=dict)
    models: dict[int, dict[str, Any]] = field(default_factory=dict)
    syncs: dict[int, dict[str, Any]] = field(default_factory=dict)
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    records: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    cursors: dict[int, Any] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    ids: dict[str, itertools.count[int]] = field(default_factory=dict)

    def next_id(self, kind: str) -> int:
        """The next integer id of a kind."""
        return next(self.ids.setdefault(kind, itertools.count(1)))


class Engine:
    """Runs syncs in threads and copies rows for real; cancellable between phases and rows."""

    def __init__(self, state: State, data_dir: Path, speed: Speed, oss: bool = False) -> None:
        self.state = state
        self.data_dir = data_dir
        self.speed = speed
        self.oss = oss
        self.cancels: dict[int, threading.Event] = {}
        self.threads: list[threading.Thread] = []
        #: triggers to answer 200 without ever starting a run (a workflow engine that fails, only logged).
        self.dropped_triggers = 0

    def active_run(self, sync_id: int) -> dict[str, Any] | None:
        """The sync's run that has not finished, if any."""
        with self.state.lock:
            for run in self.state.runs.values():
                if run["sync_id"] == sync_id and run["status"] in ACTIVE_STATUSES:
                    return run
        return None

    def trigger(self, sync_id: int) -> bool:
        """Start a run shortly (like a workflow engine: the trigger's answer has no run id).

        :return: whether a run will appear. In ``oss`` mode a trigger while a run is starting (its row not
            created yet) starts nothing, as the workflow engine refuses a second workflow of the same id, and
            a dropped trigger (:attr:`dropped_triggers`) starts nothing either; the API answers 200 anyway.
        """
        with self.state.lock:
            sync = self.state.syncs[sync_id]
            if self.oss and (sync.get("_starting") or self._drop_trigger()):
                return False
            run_id = self.state.next_id("run")
            sync["_starting"] = run_id
        thread = threading.Thread(target=self._run, args=(sync_id, run_id), daemon=True)
        self.threads.append(thread)
        thread.start()
        return True

    def _drop_trigger(self) -> bool:
        if self.dropped_triggers <= 0:
            return False
        self.dropped_triggers -= 1
        return True

    def cancel(self, sync_id: int) -> bool:
        """Ask the active (or, outside ``oss`` mode, starting) run of the sync to stop.

        In ``oss`` mode only a run row can be cancelled, and it is ``canceled`` at once (``finished_at``
        stays null, as ``sync_run.cancel!`` writes nothing else); the worker stops at its next check.
        """
        run = self.active_run(sync_id)
        with self.state.lock:
            if self.oss:
                if run is None:
                    return False
                run.update(status="canceled", updated_at=now_iso())
                run_id = run["id"]
            else:
                run_id = run["id"] if run else self.state.syncs.get(sync_id, {}).get("_starting")
            if run_id is None:
                return False
            self.cancels.setdefault(run_id, threading.Event()).set()
        return True

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no run thread is alive."""
        end = time.monotonic() + timeout
        for thread in list(self.threads):
            thread.join(max(end - time.monotonic(), 0))
        return not any(thread.is_alive() for thread in self.threads)

    # ----- one run ------------------------------------------------------------------------------
    def _set(self, run: dict[str, Any], **changes: Any) -> None:
        with self.state.lock:
            if self.oss and run["status"] == "canceled":
                return  # cancelled by the API meanwhile: the row is final
            run.update(changes, updated_at=now_iso())

    def _pause(self, run_id: int, seconds: float) -> bool:
        """Sleep; True when the run was cancelled meanwhile."""
        return self.cancels.setdefault(run_id, threading.Event()).wait(seconds)

    def _create_row(self, sync_id: int, run_id: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The run row (pending), or None when the sync was deleted or disabled before it appeared."""
        with self.state.lock:
            current = self.state.syncs.get(sync_id)
            if current is None:
                return None
            current.pop("_starting", None)
            if self.oss and current["status"] == "disabled":
                return None  # the workflow fetches the sync first and stops when it is disabled
            sync = dict(current)
            stamp = now_iso()
            run = {
                "id": run_id,
                "sync_id": sync_id,
                "status": "pending",
                "sync_run_type": "general",
                "started_at": None if self.oss else stamp,
                "finished_at": None,
                "created_at": stamp,
                "updated_at": stamp,
                "total_query_rows": 0,
                "total_rows": 0,
                "successful_rows": 0,
                "failed_rows": 0,
                "skipped_rows": 0,
                "error": None,
                "source_id": sync["source_id"],
                "destination_id": sync["destination_id"],
                "model_id": sync["model_id"],
            }
            self.state.runs[run_id] = run
            self.state.records[run_id] = []
        return sync, run

    def _run(self, sync_id: int, run_id: int) -> None:
        cancelled = self._pause(run_id, self.speed.trigger_delay)
        if self.oss:
            cancelled = False  # nothing could cancel it: there was no run row yet
        created = self._create_row(sync_id, run_id)
        if created is None:
            return
        sync, run = created
        try:
            for status in ("started", "querying"):
                if cancelled or self._pause(run_id, self.speed.step_seconds):
                    return self._finish(run, sync_id, "canceled")
                self._set(run, status=status)
                if status == "started" and self.oss:
                    self._set(run, started_at=now_iso())
            columns, rows = self._query(sync, run)
            if self.oss:
                self._stage_records(sync, run, columns, rows)
            if self._pause(run_id, self.speed.step_seconds):
                return self._finish(run, sync_id, "canceled")
            self._set(run, status="in_progress", total_query_rows=len(rows))
            outcome = self._copy(sync, run, columns, rows)
            self._finish(run, sync_id, outcome)
        except Exception as exc:  # the run fails, the emulator goes on
            self._finish(run, sync_id, "failed", error=f"{type(exc).__name__}: {exc}")

    def _finish(self, run: dict[str, Any], sync_id: int, status: str, error: str | None = None) -> None:
        if self.oss:
            return self._finish_oss(run, sync_id, status)
        self._set(run, status=status, finished_at=now_iso(), error=error or run.get("error"))
        with self.state.lock:
            sync = self.state.syncs.get(sync_id)
            if sync is not None and sync["status"] != "disabled":
                sync["status"] = {"success": "healthy", "failed": "failed"}.get(status, "aborted")

    def _finish_oss(self, run: dict[str, Any], sync_id: int, status: str) -> None:
        """The reporter's counts and the server's state machines; the run's ``error`` is never written."""
        if status == "canceled":
            return  # the API already marked it canceled; a terminated workflow writes nothing more
        counts: dict[str, int] = {}
        if status == "success":  # the reporter activity; a failed workflow never reaches it
            with self.state.lock:
                records = self.state.records.get(run["id"], [])
                counts["total_rows"] = len(records)
                counts["successful_rows"] = sum(1 for r in records if r["status"] == "success")
                counts["failed_rows"] = sum(1 for r in records if r["status"] == "failed")
        self._set(run, status=status, finished_at=now_iso(), **counts)
        with self.state.lock:
            sync = self.state.syncs.get(sync_id)
            if sync is None or run["status"] != status:
                return
            if status == "failed":
                sync["status"] = "failed"  # ``sync.failed!``: an enum write, from any state
            elif sync["status"] in ("pending", "healthy"):
                sync["status"] = "healthy"  # ``sync.complete!`` only moves pending/healthy

    def _database(self, connector_id: int) -> Path:
        connector = self.state.connectors[connector_id]
        path = Path(str(connector["configuration"]["database"]))
        return path if path.is_absolute() else self.data_dir / path

    def destination_tables(self, connector_id: int) -> list[str]:
        """The tables of a destination (its catalog's streams); empty when the database is missing."""
        path = self._database(connector_id)
        if not path.exists():
            return []
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        finally:
            conn.close()

    def _query(self, sync: dict[str, Any], run: dict[str, Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        model = self.state.models[sync["model_id"]]
        source = self._database(sync["source_id"])
        if not source.exists():
            raise FileNotFoundError(f"source database {source.name} does not exist")
        conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            cursor = conn.execute(model["query"])
            columns = [d[0] for d in cursor.description or ()]
            rows = cursor.fetchall()
        finally:
            conn.close()
        cursor_field = sync.get("cursor_field")
        if sync.get("sync_mode") == "incremental" and cursor_field in columns:
            index = columns.index(cursor_field)
            last = self.state.cursors.get(sync["id"])
            rows = [row for row in rows if last is None or (row[index] is not None and row[index] > last)]
        return columns, rows

    @staticmethod
    def _mapping(sync: dict[str, Any], columns: list[str]) -> list[tuple[str, str]]:
        """(source column, destination column) pairs from the configuration (all columns when empty)."""
        config = sync.get("configuration") or {}
        pairs: list[tuple[str, str]] = []
        if isinstance(config, dict):
            pairs = [(str(k), str(v)) for k, v in config.items() if isinstance(v, str)]
        elif isinstance(config, list):
            pairs = [(str(m["from"]), str(m["to"])) for m in config if isinstance(m, dict) and "from" in m]
        missing = [src for src, _ in pairs if src not in columns]
        if missing:
            raise KeyError(f"the model has no column(s) {', '.join(missing)} named in the configuration")
        return pairs or [(c, c) for c in columns]

    def _new_record(
        self, sync: dict[str, Any], run: dict[str, Any], targets: list[str], values: list[Any], key: Any
    ) -> dict[str, Any]:
        record_id = self.state.next_id("record") if self.oss else len(self.state.records[run["id"]]) + 1
        stamp = now_iso()
        record: dict[str, Any] = {
            "id": record_id,
            "sync_id": sync["id"],
            "sync_run_id": run["id"],
            "record": dict(zip(targets, values, strict=True)),
            "primary_key": key,
            "action": "destination_insert",
            "created_at": stamp,
            "status": "pending",
        }
        if self.oss:
            record.update(logs=None, updated_at=stamp)  # settled by the loader; shown without primary_key
        else:
            record["error"] = None  # today's default shape
        return record

    def _stage_records(
        self, sync: dict[str, Any], run: dict[str, Any], columns: list[str], rows: list[tuple[Any, ...]]
    ) -> None:
        """``oss``: the extractor writes every row as a pending record, then the run is ``queued``."""
        pairs = self._mapping(sync, columns)
        targets = [dst for _, dst in pairs]
        key = self.state.models[sync["model_id"]].get("primary_key")
        staged = [
            self._new_record(
                sync,
                run,
                targets,
                [row[columns.index(src)] for src, _ in pairs],
                str(row[columns.index(key)]) if key in columns else None,
            )
            for row in rows
        ]
        with self.state.lock:
            self.state.records[run["id"]].extend(staged)
        self._set(run, total_query_rows=len(rows))
        self._set(run, status="queued")

    def _settle(self, record: dict[str, Any], statement: str, values: list[Any], error: str | None) -> None:
        """A record's outcome: ``error`` (default mode) or ``logs`` (``oss``), like the server's loader."""
        status = "failed" if error else "success"
        if not self.oss:
            record.update(status=status, error=error)
            return
        request = json.dumps({"statement": statement, "values": values}, default=str)
        response = error or "1 row written"
        logs = {"request": request, "response": response, "level": "error" if error else "info"}
        record.update(status=status, logs=logs, updated_at=now_iso())

    def _copy(
        self, sync: dict[str, Any], run: dict[str, Any], columns: list[str], rows: list[tuple[Any, ...]]
    ) -> str:
        pairs = self._mapping(sync, columns)
        model = self.state.models[sync["model_id"]]
        key = model.get("primary_key")
        table = sync["stream_name"].replace('"', "")
        targets = [dst for _, dst in pairs]
        indexes = [columns.index(src) for src, _ in pairs]
        staged = list(self.state.records[run["id"]]) if self.oss else []
        conn = sqlite3.connect(self._database(sync["destination_id"]), timeout=10)
        try:
            pk = f', PRIMARY KEY ("{key}")' if key in targets else ""
            cols = ", ".join(f'"{c}"' for c in targets)
            conn.execute(f'CREATE TABLE IF NOT EXISTS "{table}" ({cols}{pk})')
            if sync.get("sync_mode") != "incremental":
                conn.execute(f'DELETE FROM "{table}"')
            verb = "INSERT OR REPLACE" if pk else "INSERT"
            statement = f'{verb} INTO "{table}" ({cols}) VALUES ({", ".join("?" for _ in targets)})'
            started = time.monotonic()
            cursor_index = (
                columns.index(sync["cursor_field"]) if sync.get("cursor_field") in columns else None
            )
            top = self.state.cursors.get(sync["id"])
            for number, row in enumerate(rows, 1):
                if self.cancels[run["id"]].is_set():
                    conn.commit()
                    return "canceled"
                values = [row[i] for i in indexes]
                if self.oss:
                    record = staged[number - 1]
                else:
                    primary = str(row[columns.index(key)]) if key in columns else None
                    record = self._new_record(sync, run, targets, values, primary)
                error = None
                try:
                    conn.execute(statement, values)
                    if cursor_index is not None and (top is None or row[cursor_index] > top):
                        top = row[cursor_index]
                except sqlite3.Error as exc:
                    error = f"{type(exc).__name__}: {exc}"
                with self.state.lock:
                    self._settle(record, statement, values, error)
                    if not self.oss:  # the open-source reporter counts once, at the end
                        self.state.records[run["id"]].append(record)
                        run["total_rows"] += 1
                        run["successful_rows"] += 0 if error else 1
                        run["failed_rows"] += 1 if error else 0
                if number % 50 == 0:
                    conn.commit()
                if self.speed.rows_per_second:
                    ahead = number / self.speed.rows_per_second - (time.monotonic() - started)
                    if ahead > 0 and self._pause(run["id"], ahead):
                        conn.commit()
                        return "canceled"
            conn.commit()
            if top is not None:
                self.state.cursors[sync["id"]] = top
        finally:
            conn.close()
        return "success"
