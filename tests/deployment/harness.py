"""A real Airflow deployment for tests: API server, scheduler, DAG processor and triggerer as separate
processes, with a temporary AIRFLOW_HOME, the example DAGs and the CData Sync emulator.

Used by the ``deployment`` and ``browser`` tests; also runnable by hand to look at it::

    .venv/bin/python -m tests.deployment.harness      # prints the UI URL and the admin password; Ctrl-C stops

Everything it starts it stops (process groups: SIGTERM, then SIGKILL); it picks free ports.
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
from pathlib import Path
from typing import Any

import httpx

from airflow_provider_cdata_sync.emulator import CDataSyncEmulator

REPO = Path(__file__).resolve().parents[2]
DAG_SOURCES = (REPO / "example_dags", REPO / "tests" / "e2e" / "dags", REPO / "tests" / "deployment" / "dags")
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
ADMIN_USER = "admin"
EMULATOR_TOKEN = "deployment-secret-token-8d2e"
TERMINAL_RUN_STATES = {"success", "failed"}
#: Every emulator run lasts at least this long. A trigger that fires within a second or two of the deferral
#: loses a race in Airflow 3.3's scheduler: the worker's stale "success" for the deferring try arrives after
#: the task was re-queued, and the scheduler fails the task ("state mismatch"; apache/airflow#67287,
#: #71580, #72716). Real syncs take longer than that; the tests stand in for them.
EMULATOR_MIN_RUN_SECONDS = 3.0


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
    """Emulator + Airflow 3 components in a temporary home. Use as a context manager."""

    def __init__(self, root: Path, *, python: str = sys.executable) -> None:
        self.root = Path(root)
        self.home = self.root / "airflow-home"
        self.dags_folder = self.home / "dags"
        self.logs_dir = self.root / "process-logs"
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
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "4",
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
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
                "AIRFLOW__TRIGGERER__CAPACITY": "100",
                "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
                "CDATA_SYNC_EXAMPLE_POLL_SECONDS": "1",
                "PYTHONUNBUFFERED": "1",
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
        )
        return env

    def _prepare_home(self) -> None:
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        for source in DAG_SOURCES:
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

    def _spawn(self, component: str) -> None:
        log = (self.logs_dir / f"{component}.log").open("wb")
        self._log_files.append(log)
        args = [self.airflow, component]
        if component == "api-server":
            args += ["--port", str(self.api_port), "--host", "127.0.0.1"]
        self.processes[component] = subprocess.Popen(
            args, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True
        )

    def start(self) -> AirflowDeployment:
        """Start the emulator and Airflow; return when the API answers and the DAGs are parsed."""
        started = time.monotonic()
        self._prepare_home()
        self.emulator.start()
        try:
            self._airflow("db", "migrate")
            for component in COMPONENTS:
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
            if proc.poll() is not None:
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
        expected = {
            "example_cdata_sync_quickstart",
            "example_cdata_sync_deferrable_pipeline",
            "example_cdata_sync_history_sensor",
            "example_cdata_sync_dynamic_mapping",
            "example_cdata_sync_params",
            "e2e_deferred_execution_timeout",
            "deployment_cdata_sync_ui_connection",
        }

        def parsed() -> list[str]:
            self._check_alive()
            errors = self.api("GET", "/api/v2/importErrors").json()
            if errors.get("total_entries"):
                raise RuntimeError(f"DAG import errors: {errors}")
            dags = self.api("GET", "/api/v2/dags", params={"limit": 100}).json()["dags"]
            ids = {dag["dag_id"] for dag in dags}
            return sorted(ids) if expected <= ids else []

        return wait_for("the DAG processor to parse the example DAGs", parsed, timeout)

    def stop(self) -> None:
        """Stop every process started (SIGTERM to its group, SIGKILL after 20 s), then the emulator."""
        for proc in self.processes.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(deadline - time.monotonic(), 0.1))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # also children left behind in the group
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        for log in self._log_files:
            log.close()
        self._log_files.clear()
        if self._client is not None:
            self._client.close()
            self._client = None
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

        return str(wait_for(f"DAG run {dag_id}/{run_id} to finish", finished, timeout))

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
