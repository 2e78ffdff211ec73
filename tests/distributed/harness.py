"""Airflow on the topology of its docker-compose quick start, with real processes and no containers:
PostgreSQL as the metadata database, Redis as the Celery broker, CeleryExecutor, an API server, a scheduler,
a DAG processor, two triggerers and two Celery workers, all on loopback, plus the CData Sync emulator.

It is :class:`tests.deployment.harness.AirflowDeployment` with another :class:`Topology`; everything it
starts it stops. Runnable by hand::

    .venv/bin/python -m tests.distributed.harness     # prints the UI URL and the admin password; Ctrl-C stops
"""

from __future__ import annotations

import contextlib
import re
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from cdata_sync_emulator.testing import make_source_db

from tests.deployment.harness import (
    ADMIN_USER,
    DAG_SOURCES,
    EMULATOR_TOKEN,
    REPO,
    AirflowDeployment,
    Topology,
    free_port,
    wait_for,
)
from tests.distributed.services import PostgresCluster, RedisServer

#: Two Celery workers with two slots each: on the two shared cores of CI, more slots only make every task
#: process start slower (each parses the DAG and imports the provider).
WORKER_CONCURRENCY = 2
#: The scheduler may have this many tasks queued or running: more than the workers' slots, so that a slot
#: freed is filled from Redis at once instead of after a scheduler loop and a Celery result poll.
PARALLELISM = 16
CELERY = Topology(
    "celery",
    executor="CeleryExecutor",
    database="postgresql",
    broker="redis",
    triggerers=2,
    workers=2,
    parallelism=PARALLELISM,
)
DISTRIBUTED_DAGS = REPO / "tests" / "distributed" / "dags"
#: A zombie task (its worker died) is failed, and retried, after this long without a heartbeat.
TASK_HEARTBEAT_TIMEOUT = 30
#: A triggerer silent for this long is dead: the others take its triggers over. Airflow's default (30 s) is
#: too tight for two starved cores: a triggerer that only lags loses its triggers to the other, and Airflow
#: 3.3.2 then calls their on_kill, which cancels the remote runs (see the README, "Tested on").
TRIGGERER_HEALTH_THRESHOLD = 60
#: A trigger runner whose event loop is silent for this long makes its triggerer skip heartbeats (so the
#: above applies); Airflow's default is 30 s, and importing the provider in a starved runner came close.
RUNNER_HEALTH_THRESHOLD = 120
FLEET_PREFIX = "Fleet"


class DistributedDeployment(AirflowDeployment):
    """CeleryExecutor on PostgreSQL and Redis, two triggerers, two Celery workers."""

    topology = CELERY
    timeout_scale = 3.0
    dag_sources = (*DAG_SOURCES, DISTRIBUTED_DAGS)
    expected_dags = AirflowDeployment.expected_dags | {"distributed_fleet", "distributed_blocking"}

    def __init__(self, root: Path, *, python: str = sys.executable) -> None:
        root = Path(root)
        self.postgres = PostgresCluster(root / "process-logs" / "postgres.log")
        self.redis = RedisServer(root / "process-logs" / "redis.log")
        #: Per component: its own log server port (two workers or triggerers share this host).
        self.log_server_ports = {
            name: free_port() for name in CELERY.components if name.startswith(("worker", "triggerer"))
        }
        #: Extra environment per component for its next start (see :meth:`restart_with`).
        self.overrides: dict[str, dict[str, str]] = {}
        #: TriggererJob id of each triggerer process (in the metadata database's ``job`` table).
        self.triggerer_jobs: dict[str, int] = {}
        super().__init__(root, python=python)

    # ------------------------------------------------------------------ set-up
    def _environment(self) -> dict[str, str]:
        env = super()._environment()
        env.update(
            {
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url,
                "AIRFLOW__CELERY__BROKER_URL": self.redis.url,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.postgres.url,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
                # Sending a task to Redis on a loaded 2-core machine can take longer than the 1 s default.
                "AIRFLOW__CELERY__OPERATION_TIMEOUT": "10",
                # Tasks, triggerers and the UI share the API server on two cores: a second worker process,
                # and more than 5 s for a worker's execution API call (4 retries of 5 s failed a task under
                # a load average of 25).
                "AIRFLOW__API__WORKERS": "2",
                "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "1000",
                "AIRFLOW__CORE__MAX_MAP_LENGTH": "1024",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(TASK_HEARTBEAT_TIMEOUT),
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "10",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "15",
                "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": str(TRIGGERER_HEALTH_THRESHOLD),
                "AIRFLOW__TRIGGERER__RUNNER_HEALTH_CHECK_THRESHOLD": str(RUNNER_HEALTH_THRESHOLD),
                "AIRFLOW__API__MAXIMUM_PAGE_LIMIT": "1000",
                "AIRFLOW__TRIGGERER__CAPACITY": "1000",
            }
        )
        return env

    def _component_args(self, component: str) -> list[str]:
        if component.startswith("worker"):
            return ["celery", "worker", "--celery-hostname", f"{component}@%h", "--without-mingle"]
        if component.startswith("triggerer"):
            return ["triggerer"]
        return super()._component_args(component)

    def _component_env(self, component: str) -> dict[str, str]:
        env = dict(self.env)
        if component.startswith("worker"):
            env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(self.log_server_ports[component])
        if component.startswith("triggerer"):
            env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(self.log_server_ports[component])
        env.update(self.overrides.get(component, {}))
        return env

    def _start_services(self) -> None:
        calm_run_threads(self.emulator)
        self.postgres.start()
        self.redis.start()

    def _stop_services(self) -> None:
        self.redis.stop()
        self.postgres.stop()

    def _spawn(self, component: str) -> None:
        ready_before = self._ready_lines(component)
        super()._spawn(component)
        if component.startswith("triggerer"):
            self.triggerer_jobs[component] = self._wait_new_triggerer_job(component)
        if component.startswith("worker"):
            self._wait_worker_ready(component, ready_before)

    def _wait_new_triggerer_job(self, component: str) -> int:
        """The TriggererJob row this process created (triggerers are started one at a time for this)."""
        known = set(self.triggerer_jobs.values())

        def new_job() -> int | None:
            self._check_alive()
            rows = self.sql(
                "SELECT id FROM job WHERE job_type = 'TriggererJob' AND state = 'running' "
                "AND end_date IS NULL"
            )
            fresh = [row[0] for row in rows if row[0] not in known]
            return fresh[0] if len(fresh) == 1 else None

        return int(wait_for(f"airflow {component} to register its job", new_job, timeout=120))

    def _ready_lines(self, component: str) -> int:
        """Celery's "<name>@<host> ready." lines in a worker's log (its log is appended to on restarts)."""
        return len(re.findall(rf"{re.escape(component)}@\S+ ready\.", self.process_log(component)))

    def _wait_worker_ready(self, component: str, ready_before: int) -> None:
        def ready() -> bool:
            self._check_alive()
            return self._ready_lines(component) > ready_before

        wait_for(f"Celery {component} to be ready", ready, timeout=120)

    # ------------------------------------------------------------------ faults
    def restart_with(self, components: list[str], env: dict[str, str] | None) -> None:
        """Stop the components gracefully and start them again with extra environment (None: none)."""
        for component in components:
            self.stop_component(component)
        for component in components:
            if env is None:
                self.overrides.pop(component, None)
            else:
                self.overrides[component] = dict(env)
            self.start_component(component)

    def worker_of(self, pid: int) -> str:
        """The worker whose process tree holds ``pid`` (a task process's pid, from the REST API)."""
        import psutil

        chain = {pid}
        with contextlib.suppress(psutil.Error):
            chain |= {parent.pid for parent in psutil.Process(pid).parents()}
        for name, proc in self.processes.items():
            if name.startswith("worker") and name not in self.stopped and proc.pid in chain:
                return name
        raise LookupError(f"pid {pid} does not run under any live Celery worker")

    # ------------------------------------------------------------------ metadata database
    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query against the metadata database."""
        with psycopg.connect(self.postgres.dsn, connect_timeout=10) as conn:
            return list(conn.execute(query, params).fetchall())

    def triggers_per_triggerer(self) -> dict[str, int]:
        """Triggers assigned to each triggerer process right now (``unassigned`` for the others)."""
        names = {job: name for name, job in self.triggerer_jobs.items()}
        counts: dict[str, int] = {}
        for job, count in self.sql("SELECT triggerer_id, count(*) FROM trigger GROUP BY triggerer_id"):
            key = names.get(job, "unassigned" if job is None else f"job {job}")
            counts[key] = counts.get(key, 0) + int(count)
        return counts

    # ------------------------------------------------------------------ emulator
    def seed_fleet(self, count: int, *, rows: int, prefix: str = FLEET_PREFIX) -> list[str]:
        """``count`` jobs named ``<prefix>000``... each replicating one ``rows``-row table, one row per
        batch (so that ``rows_per_second`` paces every run and can be lifted while they run). They share the
        source SQLite file (read only); each writes its own destination file (hundreds of runs writing one
        SQLite file at once fail with "database is locked"). Returns the job names."""
        core = self.emulator._core()
        service = core.service
        tag = prefix.lower()
        source = core.data_dir / f"{tag}-source.db"
        make_source_db(source, {"fleet": rows})
        src = service.create_connection(
            "default",
            {"name": f"{prefix}Source", "connector": "SQLite", "properties": {"Database": str(source)}},
        )
        names = [f"{prefix}{i:03d}" for i in range(count)]
        for name in names:
            dst = service.create_connection(
                "default",
                {
                    "name": f"{name}Dest",
                    "connector": "SQLite",
                    "properties": {"Database": f"{name.lower()}.db"},
                },
            )
            service.create_job(
                "default",
                {
                    "name": name,
                    "source_connection_id": src["id"],
                    "destination_connection_id": dst["id"],
                    "queries": ["REPLICATE [fleet]"],
                    "batch_size": 1,
                },
            )
        return names

    def job_ids(self, names: list[str]) -> dict[str, str]:
        """Emulator job id by name."""
        wanted = set(names)
        return {job["name"]: job["id"] for job in self.emulator.state()["jobs"] if job["name"] in wanted}


def calm_run_threads(emulator: Any, granularity: float = 1.0) -> None:
    """Let the emulator's run threads sleep in steps of ``granularity`` s instead of 50 ms.

    Each active emulator run is a thread whose waits (``min_run_seconds``, ``rows_per_second``) wake every
    50 ms; 500 of them cost about 0.8 of a core (measured), in the test process, on the two cores the whole
    deployment shares. A cancel still wakes a run at once (the wait is on its cancel event); only stopping
    the emulator is noticed up to ``granularity`` s later. Skipped if the engine has changed shape.
    """
    engine = getattr(emulator.core, "engine", None)
    halted = getattr(sys.modules.get(type(engine).__module__), "Halted", None)
    if engine is None or halted is None or not hasattr(engine, "_halt"):
        return

    def sleep(handle: Any, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not handle.cancel.is_set():
            if engine._halt.is_set():
                raise halted
            left = deadline - time.monotonic()
            if left <= 0:
                return
            handle.cancel.wait(min(left, granularity))

    engine._sleep = sleep


@contextlib.contextmanager
def distributed_deployment(root: Path) -> Any:
    """Start a distributed deployment under ``root`` and stop it afterwards."""
    dep = DistributedDeployment(root)
    with dep:
        yield dep


def main() -> int:
    """Start the deployment and keep it up until Ctrl-C (for looking at it by hand)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    root = Path(tempfile.mkdtemp(prefix="cdata-sync-distributed-"))
    with distributed_deployment(root) as dep:
        print(f"Airflow UI: {dep.base_url}  user {ADMIN_USER} password {dep.password}", flush=True)
        print(f"CData Sync emulator: {dep.emulator.base_url} token {EMULATOR_TOKEN}", flush=True)
        print(f"PostgreSQL: {dep.postgres.dsn}; Redis: {dep.redis.url}", flush=True)
        print(f"Started in {dep.startup_seconds:.1f} s; logs in {dep.logs_dir}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
