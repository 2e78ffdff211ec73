"""A real Airflow deployment for tests: API server, scheduler, DAG processor and triggerer(s) (and, on the
Celery topology, Celery workers) as separate processes, with a temporary AIRFLOW_HOME, the example DAGs and
the CData Sync emulator.

The topology is a parameter: :data:`LOCAL` (LocalExecutor on SQLite, one triggerer) is used by the
``deployment`` and ``browser`` tests; ``tests/distributed`` subclasses :class:`AirflowDeployment` for
CeleryExecutor on PostgreSQL and Redis with several triggerers and workers. Runnable by hand::

    .venv/bin/python -m tests.deployment.harness      # prints the UI URL and the admin password; Ctrl-C stops

Everything it starts it stops (process groups and every descendant: SIGTERM, then SIGKILL); it picks free
ports.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
from cdata_sync_emulator import CDataSyncEmulator

REPO = Path(__file__).resolve().parents[2]
DAG_SOURCES = (
    REPO / "example_dags",
    REPO / "tests" / "system" / "dags",
    REPO / "tests" / "deployment" / "dags",
)
ADMIN_USER = "admin"
EMULATOR_TOKEN = "deployment-secret-token-8d2e"
TERMINAL_RUN_STATES = {"success", "failed"}
#: Every emulator run lasts at least this long. A trigger that fires within a second or two of the deferral
#: loses a race in Airflow 3.3's scheduler: the worker's stale "success" for the deferring try arrives after
#: the task was re-queued, and the scheduler fails the task ("state mismatch"; apache/airflow#67287,
#: #71580, #72716). Real syncs take longer than that; the tests stand in for them.
EMULATOR_MIN_RUN_SECONDS = 3.0


@dataclass(frozen=True)
class Topology:
    """What runs where: the executor, the metadata database, and how many triggerers and workers."""

    name: str
    executor: str = "LocalExecutor"
    database: str = "sqlite"
    broker: str | None = None
    triggerers: int = 1
    workers: int = 0
    parallelism: int = 4

    @property
    def components(self) -> tuple[str, ...]:
        """Process names: ``triggerer`` when there is one, ``triggerer-1``... when there are several."""
        names = ["api-server", "scheduler", "dag-processor"]
        names += numbered("triggerer", self.triggerers)
        names += numbered("worker", self.workers)
        return tuple(names)


def numbered(base: str, count: int) -> list[str]:
    """``[base]`` for one, ``[base-1, base-2, ...]`` for several."""
    return [base] if count == 1 else [f"{base}-{i}" for i in range(1, count + 1)]


#: LocalExecutor on SQLite, one triggerer: the ``make test-deployment`` topology.
LOCAL = Topology("local")


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Call ``check`` until it returns something truthy; after ``timeout``, raise TimeoutError."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except (httpx.HTTPError, OSError, KeyError, ValueError) as exc:
            last_error = exc
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s (last error: {last_error!r})")
        time.sleep(interval)


class AirflowDeployment:
    """Emulator + Airflow 3 components in a temporary home. Use as a context manager.

    Subclasses change the topology through :meth:`_environment`, :meth:`_component_args`,
    :meth:`_component_env` and :meth:`_start_services` / :meth:`_stop_services`."""

    topology: Topology = LOCAL
    #: Folders whose ``*.py`` files are copied into the DAG folder.
    dag_sources: tuple[Path, ...] = DAG_SOURCES
    #: DAG ids that must be parsed before the deployment counts as started.
    expected_dags: frozenset[str] = frozenset(
        {
            "example_cdata_sync_quickstart",
            "example_cdata_sync_deferrable_pipeline",
            "example_cdata_sync_history_sensor",
            "example_cdata_sync_dynamic_mapping",
            "example_cdata_sync_params",
            "e2e_deferred_execution_timeout",
            "deployment_cdata_sync_ui_connection",
            "deployment_cdata_sync_durable",
            "example_cdata_sync_asset_watcher",
            "example_cdata_sync_assets_producer",
            "example_cdata_sync_assets_consumer",
        }
    )

    #: Waits for Airflow (a DAG run to finish, a task to defer) are this many times longer: more processes
    #: share the same two cores on the Celery topology, and a task travels through Redis and a worker.
    timeout_scale: float = 1.0

    def __init__(self, root: Path, *, python: str = sys.executable) -> None:
        self.root = Path(root)
        self.home = self.root / "airflow-home"
        self.dags_folder = self.home / "dags"
        self.logs_dir = self.root / "process-logs"
        self.openlineage_events = self.root / "openlineage-events.jsonl"
        self.python = python
        self.airflow = str(Path(python).with_name("airflow"))
        self.api_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.api_port}"
        self.password = secrets.token_urlsafe(12)
        self.emulator = CDataSyncEmulator(
            self.root / "emulator",
            EMULATOR_TOKEN,
            seed_demo=True,
            scheduler=False,
            min_run_seconds=EMULATOR_MIN_RUN_SECONDS,
        )
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        #: Components stopped or killed on purpose (a test's fault): not reported as crashed.
        self.stopped: set[str] = set()
        self._log_files: list[Any] = []
        self._token: str | None = None
        self._client: httpx.Client | None = None
        self.env = self._environment()

    # ------------------------------------------------------------------ set-up
    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CDATA_SYNC"))}
        from cryptography.fernet import Fernet

        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": self.topology.executor,
                "AIRFLOW__CORE__PARALLELISM": str(self.topology.parallelism),
                "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
                "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home}/airflow.db",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__EXPOSE_CONFIG": "True",
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                # On: asset-triggered DAG runs (the watcher test); every other DAG here has schedule=None.
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
                "AIRFLOW__TRIGGERER__CAPACITY": "100",
                "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
                "CDATA_SYNC_EXAMPLE_POLL_SECONDS": "1",
                # OpenLineage (the [openlineage] extra) writes every event to a file the lineage test reads.
                "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                    {"type": "file", "log_file_path": str(self.openlineage_events), "append": True}
                ),
                "AIRFLOW__OPENLINEAGE__NAMESPACE": "cdata-sync-deployment",
                "PYTHONUNBUFFERED": "1",
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
        )
        return env

    def _prepare_home(self) -> None:
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        for source in self.dag_sources:
            for path in source.glob("*.py"):
                shutil.copy(path, self.dags_folder / path.name)
        (self.home / "passwords.json").write_text(json.dumps({ADMIN_USER: self.password}) + "\n")

    def _airflow(self, *args: str, timeout: float = 300) -> None:
        log = self.logs_dir / f"airflow-{'-'.join(args[:2])}.log"
        with log.open("wb") as out:
            subprocess.run(
                [self.airflow, *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=timeout,
                cwd=self.root,
            )

    def _component_args(self, component: str) -> list[str]:
        """The ``airflow`` sub-command of a component."""
        if component == "api-server":
            return ["api-server", "--port", str(self.api_port), "--host", "127.0.0.1"]
        return [component]

    def _component_env(self, component: str) -> dict[str, str]:
        """Environment of one component (the deployment's, plus what this one needs of its own)."""
        return self.env

    def _spawn(self, component: str) -> None:
        # Appended to: a component started again (a restart in a test) keeps its earlier output.
        log = (self.logs_dir / f"{component}.log").open("ab")
        self._log_files.append(log)
        self.processes[component] = subprocess.Popen(
            [self.airflow, *self._component_args(component)],
            env=self._component_env(component),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            start_new_session=True,
        )
        self.stopped.discard(component)

    def _start_services(self) -> None:
        """Start what Airflow needs besides the emulator (the metadata database server, a broker)."""

    def _stop_services(self) -> None:
        """Stop what :meth:`_start_services` started."""

    def start(self) -> AirflowDeployment:
        """Start the emulator and Airflow; return when the API answers and the DAGs are parsed."""
        started = time.monotonic()
        self._prepare_home()
        self.emulator.start()
        # The assets consumer example names the warehouse through the server it replicates on.
        self.env["CDATA_SYNC_EXAMPLE_SERVER"] = urlsplit(self.emulator.base_url).netloc
        try:
            self._start_services()
            self._airflow("db", "migrate")
            for component in self.topology.components:
                self._spawn(component)
            self._wait_healthy(timeout=120)
            self.put_connection("cdata_sync_default", host=self.emulator.base_url, password=EMULATOR_TOKEN)
            self.wait_dags_parsed(timeout=120)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _check_alive(self) -> None:
        for name, proc in self.processes.items():
            if name not in self.stopped and proc.poll() is not None:
                tail = self.process_log(name)[-3000:]
                raise RuntimeError(f"airflow {name} exited with {proc.returncode}:\n{tail}")

    def _wait_healthy(self, timeout: float) -> None:
        def healthy() -> bool:
            self._check_alive()
            health = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).json()
            return all(
                health.get(part, {}).get("status") == "healthy"
                for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
            )

        wait_for("Airflow health (metadatabase, scheduler, triggerer, dag processor)", healthy, timeout)

    def wait_dags_parsed(self, timeout: float = 120) -> list[str]:
        """Wait until every DAG of the DAG folder is known to the API (and no import errors)."""
        expected = self.expected_dags

        def parsed() -> list[str]:
            self._check_alive()
            errors = self.api("GET", "/api/v2/importErrors").json()
            if errors.get("total_entries"):
                raise RuntimeError(f"DAG import errors: {errors}")
            dags = self.api("GET", "/api/v2/dags", params={"limit": 100}).json()["dags"]
            ids = {dag["dag_id"] for dag in dags}
            return sorted(ids) if expected <= ids else []

        return wait_for("the DAG processor to parse the example DAGs", parsed, timeout)

    def kill(self, component: str, sig: int = signal.SIGKILL) -> list[int]:
        """Kill one component on purpose, as a crash would: its process group and every descendant
        (Airflow's task processes run in process groups of their own). Returns the pids signalled."""
        proc = self.processes[component]
        self.stopped.add(component)
        pids = signal_tree(proc.pid, sig)
        if sig == signal.SIGKILL:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        return pids

    def freeze(self, component: str) -> None:
        """SIGSTOP a component's whole process tree, as a stalled host or a long pause would stop it."""
        self.stopped.add(component)
        signal_tree(self.processes[component].pid, signal.SIGSTOP)

    def thaw(self, component: str) -> None:
        """SIGCONT what :meth:`freeze` stopped."""
        signal_tree(self.processes[component].pid, signal.SIGCONT)
        self.stopped.discard(component)

    def stop_component(self, component: str, timeout: float = 30) -> None:
        """Stop one component gracefully (SIGTERM to its tree; SIGKILL after ``timeout``)."""
        proc = self.processes[component]
        self.stopped.add(component)
        tree = descendants(proc.pid)
        signal_tree(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
        kill_all([proc.pid, *tree])

    def start_component(self, component: str) -> None:
        """Start a component (again) after :meth:`kill` or :meth:`stop_component`."""
        old = self.processes.get(component)
        if old is not None and old.poll() is None:
            raise RuntimeError(f"airflow {component} is still running (pid {old.pid})")
        self._spawn(component)

    def stop(self) -> None:
        """Stop every process started (SIGTERM to its group, SIGKILL after 20 s, then SIGKILL to every
        descendant seen, including task processes in groups of their own), then the services and the
        emulator."""
        trees = {name: descendants(proc.pid) for name, proc in self.processes.items()}
        for proc in self.processes.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for name, proc in self.processes.items():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(deadline - time.monotonic(), 0.1))
            kill_all([proc.pid, *trees[name]])  # also children left behind, in the group or not
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        for log in self._log_files:
            log.close()
        self._log_files.clear()
        if self._client is not None:
            self._client.close()
            self._client = None
        self._stop_services()
        self.emulator.stop()

    def __enter__(self) -> AirflowDeployment:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ REST API
    def token(self) -> str:
        """A JWT for the admin user from ``POST /auth/token``."""
        if self._token is None:
            response = httpx.post(
                f"{self.base_url}/auth/token",
                json={"username": ADMIN_USER, "password": self.password},
                timeout=30,
            )
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return self._token

    @property
    def client(self) -> httpx.Client:
        """An httpx client on the API server with the admin's bearer token."""
        if self._client is None:
            self._client = httpx.Client(
                base_url=self.base_url, headers={"Authorization": f"Bearer {self.token()}"}, timeout=60
            )
        return self._client

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One REST API call; raises on 4xx/5xx."""
        response = self.client.request(method, path, **kwargs)
        if response.is_error:
            raise httpx.HTTPStatusError(
                f"{method} {path}: {response.status_code} {response.text[:2000]}",
                request=response.request,
                response=response,
            )
        return response

    def put_connection(self, conn_id: str, **fields: Any) -> None:
        """Create (or replace) a CData Sync connection through the API."""
        self.client.request("DELETE", f"/api/v2/connections/{conn_id}")
        body = {"connection_id": conn_id, "conn_type": "cdata_sync", **fields}
        self.api("POST", "/api/v2/connections", json=body)

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Trigger a DAG run through the API; returns its run id."""
        body = {"logical_date": None, "conf": conf or {}}
        return str(self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body).json()["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").json())

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 120) -> str:
        """Wait until a DAG run is finished; returns its state."""

        def finished() -> str | None:
            self._check_alive()
            state = self.dag_run(dag_id, run_id)["state"]
            return state if state in TERMINAL_RUN_STATES else None

        return str(wait_for(f"DAG run {dag_id}/{run_id} to finish", finished, timeout * self.timeout_scale))

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        """Task instances of a run by ``task_id`` (``task_id[i]`` for mapped ones)."""
        tis = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances").json()
        return {
            (ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]"): ti
            for ti in tis["task_instances"]
        }

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1
    ) -> str:
        """The task log read back through the API, as text."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        response = self.api(
            "GET",
            path,
            params={"full_content": "true", "map_index": map_index},
            headers={"Accept": "application/json"},
        )
        return log_text(response.json().get("content"))

    def task_links(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/links"
        return dict(self.api("GET", path, params={"map_index": map_index}).json()["extra_links"])

    def process_log(self, component: str) -> str:
        path = self.logs_dir / f"{component}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def descendants(pid: int) -> list[int]:
    """Pids of every live descendant of ``pid`` (empty when it is gone)."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def kill_all(pids: list[int]) -> None:
    """SIGKILL each pid's process group (when the pid leads one) and the pid itself."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def signal_tree(pid: int, sig: int) -> list[int]:
    """Send ``sig`` to the process group led by ``pid`` and to every descendant (found before sending,
    so that children reparented by the signal are not missed). Returns the pids signalled."""
    tree = [pid, *descendants(pid)]
    for target in tree:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getpgid(target) == target:
                os.killpg(target, sig)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(target, sig)
    return tree


def log_text(content: Any) -> str:
    """Structured log records (Airflow 3: a list of dicts with ``event``) as plain lines."""
    if isinstance(content, str):
        return content
    lines = []
    for record in content or []:
        if isinstance(record, dict):
            extra = {k: v for k, v in record.items() if k not in ("event", "timestamp", "level", "logger")}
            line = str(record.get("event", ""))
            if extra:
                line += " " + json.dumps(extra, default=str)
            lines.append(line)
        else:
            lines.append(str(record))
    return "\n".join(lines)


@contextlib.contextmanager
def deployment(root: Path) -> Iterator[AirflowDeployment]:
    """Start a deployment under ``root`` and stop it afterwards."""
    dep = AirflowDeployment(root)
    with dep:
        yield dep


def main() -> int:
    """Start a deployment and keep it up until Ctrl-C (for looking at it by hand)."""
    import tempfile

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Also when started in the background (SIGINT ignored) or stopped with SIGTERM: tear down cleanly.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    root = Path(tempfile.mkdtemp(prefix="cdata-sync-deployment-"))
    with deployment(root) as dep:
        print(f"Airflow UI: {dep.base_url}  user {ADMIN_USER} password {dep.password}", flush=True)
        print(f"CData Sync emulator: {dep.emulator.base_url} token {EMULATOR_TOKEN}", flush=True)
        print(f"Started in {dep.startup_seconds:.1f} s; logs in {dep.logs_dir}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
