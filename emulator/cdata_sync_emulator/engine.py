"""The run engine: job, transformation and pipeline runs in background threads, plus the scheduler.

A run record lives in the store from the moment it is queued and is saved at every state change,
so the HTTP API (and a restarted emulator) always sees the current state. A run is cancelled
between batches; ``halt`` (used when the emulator stops) abandons runs without finishing their
records, which is how a crash looks to the next start.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .connectors import Connector, ConnectorError, open_connector, parse_replicate
from .cron import CronError, cron_matches
from .store import Store
from .util import conflict, not_found, now, now_iso, safe_name

ACTIVE = ("Queued", "Running")
INTERRUPTED = "Run interrupted: the CData Sync emulator restarted"

# kind -> (child kind, id key, name key, label in logs)
KINDS: dict[str, tuple[str, str, str, str]] = {
    "job": ("task", "job_id", "job_name", "Job"),
    "transformation": ("ttask", "transformation_id", "transformation_name", "Transformation"),
    "pipeline": ("step", "pipeline_id", "pipeline_name", "Pipeline"),
}


@dataclass
class Speed:
    """Speed knobs: a rows-per-second cap per task and a minimum run duration."""

    rows_per_second: float | None = None
    min_run_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"rows_per_second": self.rows_per_second, "min_run_seconds": self.min_run_seconds}


class Halted(Exception):
    """Raised inside a run thread when the emulator stops."""


class RunHandle:
    """An active run: its record, the cancel flag and the log writer."""

    def __init__(
        self, store: Store, kind: str, target: dict[str, Any], run: dict[str, Any], log: Path
    ) -> None:
        self.store = store
        self.kind = kind
        self.target = target
        self.run = run
        self.log_path = log
        self.lock = threading.RLock()
        self.cancel = threading.Event()
        self.done = threading.Event()
        self.thread: threading.Thread | None = None
        self.t0 = time.monotonic()

    @property
    def run_id(self) -> str:
        """The history id."""
        return str(self.run["id"])

    def save(self) -> None:
        """Persist the run record."""
        with self.lock:
            self.store.put("run", self.run, parent=self.target["id"], ord_=int(self.run["id"]))

    def update(self, **fields: Any) -> None:
        """Change top-level fields and persist."""
        with self.lock:
            self.run.update(fields)
            self.save()

    def update_task(self, entry: dict[str, Any], **fields: Any) -> None:
        """Change one task entry (shared with the record) and persist."""
        with self.lock:
            entry.update(fields)
            self.save()

    def log(self, level: str, message: str, task: str | None = None) -> None:
        """Append a Sync-style log line: ``time [LEVEL] [Job Name] [Table] message``."""
        stamp = now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        label = KINDS[self.kind][3]
        scope = f" [{task}]" if task else ""
        line = f"{stamp} [{level}] [{label} {self.target['name']}]{scope} {message}\n"
        with self.lock, self.log_path.open("a", encoding="utf-8") as handle:
            handle.write(line)


class Engine:
    """Starts, cancels and tracks runs; owns the scheduler thread."""

    def __init__(self, store: Store, data_dir: Path, speed: Speed) -> None:
        self.store = store
        self.data_dir = data_dir
        self.log_dir = data_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.speed = speed
        self.overrides: dict[str, Speed] = {}
        self._active: dict[str, RunHandle] = {}
        self._lock = threading.RLock()
        self._halt = threading.Event()
        self._scheduler: threading.Thread | None = None
        self._last_minute: datetime | None = None

    # ----- queries -----------------------------------------------------------------------------
    def active(self, target_id: str) -> RunHandle | None:
        """The queued/running run of a job, transformation or pipeline."""
        with self._lock:
            return self._active.get(target_id)

    def active_handles(self) -> list[RunHandle]:
        """All queued/running runs."""
        with self._lock:
            return list(self._active.values())

    def speed_for(self, target_id: str) -> Speed:
        """The per-target override, else the global speed."""
        return self.overrides.get(target_id, self.speed)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no run is queued or running; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._active:
                    return True
            time.sleep(0.02)
        with self._lock:
            return not self._active

    # ----- lifecycle ---------------------------------------------------------------------------
    def recover_interrupted(self) -> int:
        """Fail the runs left Queued/Running by a previous process; the number fixed."""
        fixed = 0
        for run in self.store.list("run"):
            if run.get("status") not in ACTIVE:
                continue
            run.update(status="Failed", error=INTERRUPTED, end_time=now_iso())
            for entry in run.get("tasks", []) + run.get("steps", []):
                if entry.get("status") in ACTIVE:
                    entry["status"] = "Failed"
                    entry["error"] = INTERRUPTED
            target_key = KINDS.get(run.get("kind", "job"), KINDS["job"])[1]
            self.store.put("run", run, parent=run.get(target_key), ord_=int(run["id"]))
            log = self.log_dir / str(run.get("log_file") or "")
            if run.get("log_file") and log.exists():
                stamp = now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
                with log.open("a", encoding="utf-8") as handle:
                    handle.write(f"{stamp} [ERROR] {INTERRUPTED}\n")
            fixed += 1
        return fixed

    def halt(self, timeout: float = 5.0) -> None:
        """Stop the scheduler and abandon active runs (their records stay Queued/Running)."""
        self._halt.set()
        threads = [h.thread for h in self.active_handles() if h.thread is not None]
        if self._scheduler is not None:
            threads.append(self._scheduler)
        for thread in threads:
            thread.join(timeout)

    # ----- starting and cancelling ---------------------------------------------------------------
    def start(
        self,
        kind: str,
        target_id: str,
        task_ids: list[str] | None = None,
        trigger: str = "api",
        pipeline_run_id: str | None = None,
    ) -> dict[str, Any]:
        """Queue a run and start its thread; 409 when one is already queued/running."""
        _, id_key, name_key, label = KINDS[kind]
        target = self.store.get(kind, target_id)
        if target is None:
            raise not_found(label, target_id)
        entries = self._entries(kind, target, task_ids)
        with self._lock:
            busy = self._active.get(target_id)
            if busy is not None:
                raise conflict(
                    f"{label} '{target['name']}' already has a run in progress (run {busy.run_id})."
                )
            run_id = str(self.store.next_number("run", 1))
            log_name = f"{safe_name(target['name'])}_{run_id}.log"
            run: dict[str, Any] = {
                "id": run_id,
                "kind": kind,
                id_key: target_id,
                name_key: target["name"],
                "status": "Queued",
                "queued_time": now_iso(),
                "start_time": None,
                "end_time": None,
                "runtime_ms": None,
                "records_affected": 0,
                "error": None,
                "log_file": log_name,
                "trigger": trigger,
                "pipeline_run_id": pipeline_run_id,
            }
            run["steps" if kind == "pipeline" else "tasks"] = entries
            if kind == "pipeline":
                run["events_fired"] = []
            handle = RunHandle(self.store, kind, target, run, self.log_dir / log_name)
            handle.save()
            self._active[target_id] = handle
        self._register_log(kind, target, log_name)
        body: Callable[[RunHandle], None] = {
            "job": self._run_job,
            "transformation": self._run_transformation,
            "pipeline": self._run_pipeline,
        }[kind]
        handle.thread = threading.Thread(
            target=self._thread, args=(handle, body), daemon=True, name=f"run-{run_id}"
        )
        handle.thread.start()
        with handle.lock:
            return dict(handle.run)

    def cancel(self, target_id: str) -> dict[str, Any] | None:
        """Ask the active run to stop; returns its record, or None when nothing runs."""
        handle = self.active(target_id)
        if handle is None:
            return None
        handle.cancel.set()
        handle.log("WARN", "Cancellation requested.")
        with handle.lock:
            return dict(handle.run)

    def _entries(self, kind: str, target: dict[str, Any], task_ids: list[str] | None) -> list[dict[str, Any]]:
        child_kind = KINDS[kind][0]
        children = self.store.list(child_kind, target["id"])
        if task_ids:
            known = {c["id"]: c for c in children}
            for tid in task_ids:
                if str(tid) not in known:
                    raise not_found("Task", str(tid))
            children = [c for c in children if c["id"] in {str(t) for t in task_ids}]
        else:
            children = [c for c in children if c.get("is_active", True)]
        if kind == "pipeline":
            return [
                {
                    "step_id": c["id"],
                    "type": c["type"],
                    "target_id": c["target_id"],
                    "name": c.get("name"),
                    "run_id": None,
                    "status": "Queued",
                    "error": None,
                }
                for c in children
            ]
        return [
            {
                "task_id": c["id"],
                "table": c.get("table"),
                "query": c["query"],
                "status": "Queued",
                "records_affected": 0,
                "start_time": None,
                "end_time": None,
                "error": None,
            }
            for c in children
        ]

    def _register_log(self, kind: str, target: dict[str, Any], log_name: str) -> None:
        """Make the log listable under the connections involved in the run."""
        for conn_id in self.connections_of(kind, target):
            self.store.put("log", {"id": f"{conn_id}:{log_name}", "name": log_name}, parent=conn_id)

    def connections_of(self, kind: str, target: dict[str, Any]) -> list[str]:
        """Connection ids used by a job, transformation or (through its steps) a pipeline."""
        if kind == "job":
            ids = [(target.get("source_connection") or {}).get("id")]
            ids.append((target.get("destination_connection") or {}).get("id"))
        elif kind == "transformation":
            ids = [target.get("connection_id")]
        else:
            ids = []
            for step in self.store.list("step", target["id"]):
                if step["type"] not in KINDS:
                    continue  # event steps touch no connection
                child = self.store.get(step["type"], step["target_id"])
                if child is not None:
                    ids.extend(self.connections_of(step["type"], child))
        return list(dict.fromkeys(i for i in ids if i))

    # ----- run threads ---------------------------------------------------------------------------
    def _thread(self, handle: RunHandle, body: Callable[[RunHandle], None]) -> None:
        try:
            handle.t0 = time.monotonic()
            handle.update(status="Running", start_time=now_iso())
            handle.log(
                "INFO",
                f"{KINDS[handle.kind][3]} run {handle.run_id} started (trigger: {handle.run['trigger']}).",
            )
            body(handle)
            self._wait_min_runtime(handle)
            self._finish(handle)
        except Halted:
            pass  # the emulator is stopping: leave the record as it is, the next start fails it
        except Exception as exc:  # a bug must still end the run, visibly
            handle.log("ERROR", f"Internal emulator error: {exc!r}")
            handle.update(status="Failed", error=f"Internal emulator error: {exc}", end_time=now_iso())
        finally:
            with self._lock:
                if self._active.get(handle.target["id"]) is handle:
                    del self._active[handle.target["id"]]
            handle.done.set()

    def _sleep(self, handle: RunHandle, seconds: float) -> None:
        """Sleep, waking up early on cancel; raise :class:`Halted` when the emulator stops."""
        deadline = time.monotonic() + seconds
        while not handle.cancel.is_set():
            if self._halt.is_set():
                raise Halted
            left = deadline - time.monotonic()
            if left <= 0:
                return
            handle.cancel.wait(min(left, 0.05))

    def _wait_min_runtime(self, handle: RunHandle) -> None:
        speed = self.speed_for(handle.target["id"])
        started = handle.t0
        if speed.min_run_seconds > 0:
            self._sleep(handle, speed.min_run_seconds - (time.monotonic() - started))

    def _throttle(self, handle: RunHandle, rows: int, task_started: float) -> None:
        rate = self.speed_for(handle.target["id"]).rows_per_second
        if rate and rate > 0:
            self._sleep(handle, rows / rate - (time.monotonic() - task_started))
        elif self._halt.is_set():
            raise Halted

    def _finish(self, handle: RunHandle) -> None:
        entries = handle.run.get("tasks") or handle.run.get("steps") or []
        failed = [e for e in entries if e["status"] == "Failed"]
        label = KINDS[handle.kind][3]
        if handle.cancel.is_set():
            status, error = "Cancelled", "The run was cancelled."
            for entry in entries:
                if entry["status"] in ACTIVE:
                    entry["status"] = "Cancelled"
        elif failed:
            status = "Failed"
            names = ", ".join(
                f"[{e.get('table') or e.get('name') or e.get('task_id') or e.get('step_id')}]" for e in failed
            )
            details = "; ".join(f"[{e.get('table') or e.get('name')}] {e['error']}" for e in failed)
            noun = "steps" if handle.kind == "pipeline" else "tasks"
            error = f"{len(failed)} of {len(entries)} {noun} failed: {names}. {details}"
        else:
            status, error = "Success", None
        records = sum(int(e.get("records_affected") or 0) for e in entries)
        if handle.kind == "pipeline":
            records = handle.run.get("records_affected") or 0
        start = handle.run.get("start_time")
        end = now()
        runtime = int((time.monotonic() - handle.t0) * 1000)
        level = "INFO" if status == "Success" else ("WARN" if status == "Cancelled" else "ERROR")
        ok = sum(1 for e in entries if e["status"] == "Success")
        handle.log(
            level,
            f"{label} run {handle.run_id} finished with status {status}: "
            f"{len(entries)} item(s), {ok} succeeded, "
            f"{len(failed)} failed, {records} records affected, runtime {runtime} ms (started {start}, ended "
            f"{end.isoformat(timespec='milliseconds')}).",
        )
        if handle.kind == "pipeline":
            self._fire_events(handle, "on_success" if status == "Success" else "on_failure")
            self._fire_events(handle, "on_complete")
        # Last: a client that sees the run finished also finds its last log lines and fired events.
        handle.update(
            status=status, error=error, end_time=now_iso(), runtime_ms=runtime, records_affected=records
        )
        if handle.kind == "job":
            self._start_after_job(handle)

    def _start_after_job(self, handle: RunHandle) -> None:
        """Start the transformations triggered after this job (all of it, or the tasks they name)."""
        done = {e["task_id"] for e in handle.run.get("tasks", []) if e["status"] == "Success"}
        for target in self.store.list("transformation"):
            trigger = target.get("trigger") or {}
            if trigger.get("type") != "AfterJob" or trigger.get("after_job") != handle.target["id"]:
                continue
            wanted = {str(t) for t in trigger.get("after_job_tasks") or []}
            if (wanted and not wanted <= done) or (not wanted and handle.run["status"] != "Success"):
                continue
            with contextlib.suppress(Exception):  # already running: the real server skips it as well
                self.start("transformation", target["id"], trigger="after_job")

    # ----- jobs --------------------------------------------------------------------------------
    def _run_job(self, handle: RunHandle) -> None:
        job = handle.target
        src = self.store.get("connection", (job.get("source_connection") or {}).get("id") or "")
        dst = self.store.get("connection", (job.get("destination_connection") or {}).get("id") or "")

        def work(entry: dict[str, Any]) -> None:
            if src is None or dst is None:
                raise ConnectorError("The job's source or destination connection no longer exists.")
            self._replicate(handle, entry, src, dst)

        self._run_entries(handle, work)

    def _run_entries(self, handle: RunHandle, work: Callable[[dict[str, Any]], None]) -> None:
        """Run the task entries sequentially or in a pool, honouring continue_on_error."""
        target = handle.target
        stop = threading.Event()
        keep_going = bool(target.get("continue_on_error"))

        def one(entry: dict[str, Any]) -> None:
            name = entry.get("table") or f"Task {entry['task_id']}"
            if handle.cancel.is_set():
                handle.update_task(entry, status="Cancelled")
                return
            if stop.is_set():
                handle.update_task(entry, status="Skipped", error="Skipped: an earlier task failed.")
                handle.log("WARN", "Task skipped because an earlier task failed.", name)
                return
            handle.update_task(entry, status="Running", start_time=now_iso())
            try:
                work(entry)
            except (ConnectorError, sqlite3.Error, OSError, ValueError) as exc:
                handle.update_task(entry, status="Failed", error=str(exc), end_time=now_iso())
                handle.log("ERROR", f"Task failed: {exc}", name)
                if not keep_going:
                    stop.set()
                return
            final = "Cancelled" if handle.cancel.is_set() else "Success"
            handle.update_task(entry, status=final, end_time=now_iso())

        entries = handle.run["tasks"]
        if target.get("enable_parallel_processing") and len(entries) > 1:
            workers = max(1, int(target.get("worker_pool") or 4))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"run-{handle.run_id}") as pool:
                list(pool.map(one, entries))
        else:
            for entry in entries:
                one(entry)
        if self._halt.is_set():
            raise Halted

    def dest_table(self, job: dict[str, Any], table: str) -> str:
        """Destination name: ``[<destination_schema>_]<table_name_prefix><table>``.

        SQLite and CSV have no schemas, so a destination schema becomes a name prefix.
        """
        name = f"{job.get('table_name_prefix') or ''}{table}"
        schema = job.get("destination_schema")
        return f"{schema}_{name}" if schema else name

    def _replicate(
        self, handle: RunHandle, entry: dict[str, Any], src: dict[str, Any], dst: dict[str, Any]
    ) -> None:
        job = handle.target
        query = parse_replicate(entry["query"])
        table = self.dest_table(job, query.destination)
        name = entry.get("table") or query.destination
        batch_size = max(1, int(job.get("batch_size") or 1000))
        handle.log("INFO", f"Replicating table [{name}] into [{table}]: {entry['query']}", name)
        source: Connector = open_connector(src, self.data_dir)
        dest: Connector = open_connector(dst, self.data_dir)
        started = time.monotonic()
        try:
            columns, batches = source.read(query.select, batch_size)
            dest.prepare_table(
                table,
                columns,
                truncate=bool(job.get("truncate_table_data")),
                drop=bool(job.get("drop_table")),
                alter_schema=job.get("alter_schema") is not False,
            )
            names = [c.name for c in columns]
            total = 0
            for number, batch in enumerate(batches, 1):
                if handle.cancel.is_set():
                    handle.log("WARN", f"Task cancelled after {total} rows.", name)
                    return
                total += dest.write(table, names, batch)
                handle.update_task(entry, records_affected=total)
                handle.log(
                    "INFO",
                    f"Replicating table [{name}]: read {len(batch)} rows, "
                    f"wrote {len(batch)} rows (batch {number})",
                    name,
                )
                self._throttle(handle, total, started)
            handle.log("INFO", f"Replication of [{name}] complete: {total} rows affected.", name)
        finally:
            source.close()
            dest.close()

    # ----- transformations -----------------------------------------------------------------------
    def _run_transformation(self, handle: RunHandle) -> None:
        conn = self.store.get("connection", handle.target.get("connection_id") or "")

        def work(entry: dict[str, Any]) -> None:
            if conn is None:
                raise ConnectorError("The transformation's connection no longer exists.")
            connector = open_connector(conn, self.data_dir)
            try:
                handle.log("INFO", f"Running transformation query: {entry['query']}", entry.get("table"))
                changed = connector.run_sql(entry["query"])
            finally:
                connector.close()
            handle.update_task(entry, records_affected=changed)
            handle.log("INFO", f"Transformation query complete: {changed} rows affected.", entry.get("table"))
            self._throttle(handle, changed, time.monotonic())

        self._run_entries(handle, work)

    # ----- pipelines -----------------------------------------------------------------------------
    def _run_pipeline(self, handle: RunHandle) -> None:
        self._fire_events(handle, "on_start")
        failed = False
        for step in handle.run["steps"]:
            if handle.cancel.is_set():
                handle.update_task(step, status="Cancelled")
                continue
            if failed:
                handle.update_task(step, status="Skipped", error="Skipped: an earlier step failed.")
                continue
            failed = not self._run_step(handle, step)

    def _run_step(self, handle: RunHandle, step: dict[str, Any]) -> bool:
        label = f"Step {step['type']} {step.get('name') or step['target_id']}"
        if step["type"] == "event":
            return self._run_event_step(handle, step, label)
        try:
            child = self.start(
                step["type"], step["target_id"], trigger="pipeline", pipeline_run_id=handle.run_id
            )
        except Exception as exc:
            message = getattr(exc, "message", str(exc))
            handle.update_task(step, status="Failed", error=message)
            handle.log("ERROR", f"{label} could not start: {message}")
            return False
        handle.update_task(step, run_id=child["id"], status="Running")
        handle.log("INFO", f"{label} started run {child['id']}.")
        child_handle = self.active(step["target_id"])
        while child_handle is not None and not child_handle.done.wait(0.05):
            if self._halt.is_set():
                raise Halted
            if handle.cancel.is_set():
                self.cancel(step["target_id"])
        record = self.store.get("run", child["id"]) or {}
        status = record.get("status", "Failed")
        handle.update_task(step, status=status, error=record.get("error"))
        with handle.lock:
            handle.run["records_affected"] = int(handle.run.get("records_affected") or 0) + int(
                record.get("records_affected") or 0
            )
        handle.log("INFO" if status == "Success" else "ERROR", f"{label} run {child['id']} ended: {status}.")
        return status == "Success"

    def _run_event_step(self, handle: RunHandle, step: dict[str, Any], label: str) -> bool:
        """An event step: the emulator cannot run APIScript or Python, so it logs the script and succeeds."""
        event = self.store.get("event", step["target_id"])
        if event is None:
            handle.update_task(step, status="Failed", error=f"Event {step['target_id']} no longer exists.")
            handle.log("ERROR", f"{label} failed: the event no longer exists.")
            return False
        handle.update_task(step, status="Running")
        script = str(event.get("script") or "")
        first = script.strip().splitlines()[0] if script.strip() else "(empty script)"
        handle.log("INFO", f"{label}: script of {len(script)} characters, first line: {first}")
        self._record_event(handle, event, "step", event.get("message") or first)
        handle.update_task(step, status="Success")
        return True

    def _record_event(self, handle: RunHandle, event: dict[str, Any], trigger: str, message: str) -> None:
        with handle.lock:
            handle.run.setdefault("events_fired", []).append(
                {
                    "event_id": event["id"],
                    "name": event.get("name"),
                    "trigger": trigger,
                    "message": message,
                    "time": now_iso(),
                }
            )
            handle.save()

    def _fire_events(self, handle: RunHandle, trigger: str) -> None:
        for event in self.store.list("event", handle.target["id"]):
            if event.get("trigger") != trigger:
                continue
            message = event.get("message") or ""
            handle.log("INFO", f"Event '{event.get('name')}' ({trigger}) fired: {message}")
            self._record_event(handle, event, trigger, message)

    # ----- scheduler -----------------------------------------------------------------------------
    def start_scheduler(self) -> None:
        """Start the thread that starts scheduled runs at each matching minute (UTC)."""
        self._last_minute = now().replace(second=0, microsecond=0)
        self._scheduler = threading.Thread(target=self._schedule_loop, daemon=True, name="sync-scheduler")
        self._scheduler.start()

    def _schedule_loop(self) -> None:
        while not self._halt.wait(1.0):
            minute = now().replace(second=0, microsecond=0)
            if minute != self._last_minute:
                self._last_minute = minute
                with contextlib.suppress(Exception):  # a broken schedule must not stop the scheduler
                    self.run_schedules(minute)

    def run_schedules(self, moment: datetime) -> list[dict[str, Any]]:
        """Start every enabled schedule matching ``moment``; returns the runs started."""
        started = []
        for kind in KINDS:
            for target in self.store.list(kind):
                schedule = target.get("schedule") or {}
                cron = str(schedule.get("cron") or "")
                if not schedule.get("enabled") or not cron:
                    continue
                try:
                    due = cron_matches(cron, moment)
                except CronError:
                    continue
                if due and self.active(target["id"]) is None:
                    with contextlib.suppress(Exception):
                        started.append(self.start(kind, target["id"], trigger="schedule"))
        return started
