"""Throwaway PostgreSQL and Redis servers for the distributed deployment: real server processes from the
Debian packages, each in a temporary directory, on a free loopback port, stopped (and deleted) afterwards.

PostgreSQL refuses to run as root; when the tests run as root (CI does) the cluster belongs to the
``postgres`` system user that Debian's packages create.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.deployment.harness import free_port, wait_for

POSTGRES_USER = "airflow"
POSTGRES_DB = "airflow"


def postgres_bin_dir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has ``initdb`` (Debian's layout)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError(
            "No PostgreSQL server binaries under /usr/lib/postgresql/*/bin: install them with "
            "`apt-get install -y postgresql` (make test-distributed does that when they are missing)."
        )
    return Path(found[-1]).parent


def redis_server_binary() -> str:
    """``redis-server`` on the PATH."""
    path = shutil.which("redis-server")
    if path is None:
        raise RuntimeError(
            "redis-server is not installed: `apt-get install -y redis-server` "
            "(make test-distributed does that when it is missing)."
        )
    return path


class _ServerProcess:
    """One server process in its own process group, its output in ``log_path``."""

    name = "server"

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def _popen(self, args: list[str], **kwargs: Any) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
        )

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{tail}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        """Signal the process group, wait, then SIGKILL whatever is left."""
        proc = self.process
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None


class PostgresCluster(_ServerProcess):
    """``initdb`` into a temporary directory, then ``postgres`` on 127.0.0.1:<free port> with its unix
    socket in that directory; trust authentication (nothing but loopback can reach it)."""

    name = "postgres"

    def __init__(self, log_path: Path, *, max_connections: int = 300) -> None:
        super().__init__(log_path)
        self.bin = postgres_bin_dir()
        self.port = free_port()
        self.max_connections = max_connections
        self.owner = _unprivileged_owner()
        self.root = Path(tempfile.mkdtemp(prefix="cdata-sync-pg-"))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "socket"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the metadata database (psycopg2, over TCP on loopback)."""
        return f"postgresql+psycopg2://{POSTGRES_USER}@127.0.0.1:{self.port}/{POSTGRES_DB}"

    @property
    def dsn(self) -> str:
        """libpq connection string for psycopg."""
        return f"host=127.0.0.1 port={self.port} user={POSTGRES_USER} dbname={POSTGRES_DB}"

    @property
    def version(self) -> str:
        """The server's major version, from the binaries' directory (``15``)."""
        return self.bin.parts[-2]

    def _as_owner(self) -> dict[str, Any]:
        if self.owner is None:
            return {}
        return {"user": self.owner.pw_uid, "group": self.owner.pw_gid}

    def start(self) -> PostgresCluster:
        """Create the cluster and the ``airflow`` database; return once it accepts connections."""
        self.socket_dir.mkdir(parents=True)
        if self.owner is not None:
            for path in (self.root, self.socket_dir):
                os.chown(path, self.owner.pw_uid, self.owner.pw_gid)
        env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        with self.log_path.open("ab") as log:
            subprocess.run(
                [str(self.bin / "initdb"), "-D", str(self.data_dir), "-U", POSTGRES_USER, "--auth=trust",
                 "--encoding=UTF8", "--no-sync"],
                stdout=log, stderr=subprocess.STDOUT, check=True, timeout=120, env=env, cwd=self.root,
                **self._as_owner(),
            )  # fmt: skip
        self._popen(
            [
                str(self.bin / "postgres"),
                "-D", str(self.data_dir),
                "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1",
                "-c", f"unix_socket_directories={self.socket_dir}",
                "-c", f"max_connections={self.max_connections}",
                # A throwaway cluster: durability buys nothing here and costs the shared CPU and disk.
                "-c", "fsync=off",
                "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off",
            ],
            env=env, cwd=self.root, **self._as_owner(),
        )  # fmt: skip

        def ready() -> bool:
            self._check_alive()
            probe = [
                str(self.bin / "pg_isready"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                POSTGRES_USER,
            ]
            return subprocess.run(probe, capture_output=True, timeout=10).returncode == 0

        wait_for("PostgreSQL to accept connections", ready, timeout=60)
        self.psql(f"CREATE DATABASE {POSTGRES_DB}", database="postgres")
        return self

    def psql(self, sql: str, *, database: str = POSTGRES_DB) -> str:
        """Run SQL with ``psql`` (unaligned, tuples only); returns its output."""
        result = subprocess.run(
            [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
             "-U", POSTGRES_USER, "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"psql failed ({result.returncode}): {result.stderr.strip()}")
        return result.stdout

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20) -> None:
        """Fast shutdown (SIGINT), then remove the cluster directory."""
        super().stop(sig, timeout)
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer(_ServerProcess):
    """``redis-server`` on 127.0.0.1:<free port>, no persistence, unix socket in a temporary directory."""

    name = "redis"

    def __init__(self, log_path: Path) -> None:
        super().__init__(log_path)
        self.binary = redis_server_binary()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="cdata-sync-redis-"))

    @property
    def url(self) -> str:
        """Celery broker URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def version(self) -> str:
        """``7.0.15``: from ``redis-server --version``."""
        out = subprocess.run([self.binary, "--version"], capture_output=True, text=True, check=True).stdout
        return next((part[2:] for part in out.split() if part.startswith("v=")), out.strip())

    def start(self) -> RedisServer:
        """Start the server; return once it answers PING."""
        self._popen(
            [
                self.binary,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--unixsocket", str(self.root / "redis.sock"),
                "--dir", str(self.root),
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
            ],
            cwd=self.root,
        )  # fmt: skip

        def pong() -> bool:
            self._check_alive()
            import redis

            try:
                return bool(redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2).ping())
            except redis.RedisError:
                return False

        wait_for("redis-server to answer PING", pong, timeout=30)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        """Stop the server and remove its directory."""
        super().stop(sig, timeout)
        shutil.rmtree(self.root, ignore_errors=True)


def _unprivileged_owner() -> pwd.struct_passwd | None:
    """Who runs PostgreSQL: None (the current user) unless we are root, then the ``postgres`` user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("Running as root and there is no 'postgres' user to own the PostgreSQL cluster.")
