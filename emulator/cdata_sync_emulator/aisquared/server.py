"""The AI Squared emulator served by uvicorn on a loopback port, in a background thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from ..faults import FaultRegistry
from ..util import normalize_link_base
from . import oss
from .app import API_PREFIX, Core, create_app, create_oss_app
from .engine import Engine, Speed, State
from .seed import seed_demo

MODES = ("default", "oss")
DEFAULT_EMAIL = "admin@example.com"
DEFAULT_PASSWORD = "Emulator-Passw0rd!"


class AISquaredEmulator:
    """The AI Squared emulator on a free loopback port, in a background thread (a context manager).

    ``api_url`` (``http://127.0.0.1:<port>/api/v1``; ``http://localhost:<port>/api/v1`` in ``oss`` mode, whose
    host authorization refuses other names) is the connection's base URL. The SQLite databases of its
    connectors live in ``data_dir``.

    :param mode: ``"default"`` (a static bearer ``token``, lenient) or ``"oss"``, which follows the
        open-source server's code: login with ``email``/``password`` for an expiring, revocable JWT,
        mandatory ``Workspace-Id``, its error bodies, texts and order (see the README).
    :param token: the bearer token accepted in ``default`` mode (``oss``: unused; :attr:`token` holds the
        emulator's own login, refreshed by :meth:`login`).
    :param email: the seeded user's email (``oss``).
    :param password: the seeded user's password (``oss``).
    :param token_lifetime: seconds a JWT is valid (``oss``; the server's is 1800).
    :param allowed_hosts: host names accepted in the Host header (``oss``; default ``localhost``,
        ``.squared.ai``, ``.staging.squared.ai``; a leading dot includes subdomains), like ``ALLOWED_HOST``.
    :param link_base: ``scheme://host:port`` that the absolute paging links name instead of the request's.
    :param trigger_delay: seconds between a trigger's answer and its run row.
    """

    def __init__(
        self,
        data_dir: str | Path,
        token: str = "t0ken",
        *,
        workspace_id: str | None = None,
        seed_demo: bool = False,
        step_seconds: float = 0.05,
        rows_per_second: float | None = None,
        trigger_delay: float = 0.05,
        per_page: int = 10,
        host: str = "127.0.0.1",
        port: int = 0,
        mode: str = "default",
        email: str = DEFAULT_EMAIL,
        password: str = DEFAULT_PASSWORD,
        token_lifetime: float = 1800.0,
        allowed_hosts: tuple[str, ...] | list[str] | None = None,
        link_base: str | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown AI Squared emulator mode {mode!r}: choose one of {', '.join(MODES)}")
        if token_lifetime <= 0:
            raise ValueError("token_lifetime must be a positive number of seconds")
        self.mode = mode
        self.data_dir = Path(data_dir).resolve()
        self.token = token
        self.workspace_id = workspace_id if workspace_id or mode != "oss" else "1"
        self.email = email
        self.password = password
        self.link_base = normalize_link_base(link_base)
        self.state = State()
        speed = Speed(step_seconds, rows_per_second, trigger_delay)
        self.engine = Engine(self.state, self.data_dir, speed, oss=mode == "oss")
        self.account: oss.Account | None = None
        if mode == "oss":
            assert self.workspace_id is not None
            self.account = oss.Account(email, password, self.workspace_id, token_lifetime)
            self.allowed_hosts = tuple(allowed_hosts) if allowed_hosts else oss.DEFAULT_ALLOWED_HOSTS
            oss_core = oss.OssCore(self.state, self.engine, self.account, per_page, self.link_base)
            self.app = create_oss_app(oss_core, self.allowed_hosts)
        else:
            self.allowed_hosts = tuple(allowed_hosts or ())
            self.core = Core(self.state, self.engine, token, workspace_id, per_page, self.link_base)
            self.app = create_app(self.core)
        self.host = host
        self.port = port
        self.seed = seed_demo
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> AISquaredEmulator:
        """Serve in a thread and wait until it answers."""
        if self._server is not None:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.seed:
            seed_demo(self)
        config = uvicorn.Config(
            self.app, host=self.host, port=self.port, log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the AI Squared emulator did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        if self.account is not None:
            self.login()
        return self

    def login(self) -> str:
        """``oss``: log the seeded user in (revoking its earlier tokens); the new JWT, also :attr:`token`."""
        if self.account is None:
            raise RuntimeError("login exists in oss mode only; the default mode takes the static token")
        self.token = self.account.mint()
        return self.token

    def drop_next_triggers(self, count: int = 1) -> None:
        """``oss``: the next ``count`` triggers answer 200 and start nothing (a failing workflow engine)."""
        self.engine.dropped_triggers += count

    def stop(self) -> None:
        """Cancel active runs and stop serving."""
        if self._server is None:
            return
        for sync_id in list(self.state.syncs):
            self.engine.cancel(sync_id)
        self.engine.wait_idle(10)
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._server = None

    def __enter__(self) -> AISquaredEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        """The API root, ``http://127.0.0.1:<port>/api/v1`` (``oss``: ``localhost``, an allowed host name)."""
        host = "localhost" if self.mode == "oss" and self.host in ("127.0.0.1", "localhost") else self.host
        return f"http://{host}:{self.port}{API_PREFIX}"

    @property
    def headers(self) -> dict[str, str]:
        """Auth (and workspace) headers for plain HTTP clients."""
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.workspace_id:
            headers["Workspace-Id"] = self.workspace_id
        return headers

    # ----- admin API (Python) -------------------------------------------------------------------
    @property
    def faults(self) -> FaultRegistry:
        """The fault registry (``add({"path": regex, "action": "status", "status": 503, ...})``)."""
        return self.app.registry

    def inject_fault(self, path: str, action: str = "status", **spec: Any) -> dict[str, Any]:
        """Register a fault for requests whose path matches ``path`` (a regex); see the CData emulator."""
        return self.faults.add({"path": path, "action": action, **spec}).as_dict()

    def clear_faults(self) -> None:
        """Remove every fault."""
        self.faults.clear()

    def stats(self) -> dict[str, Any]:
        """API calls per ``METHOD path``."""
        return self.faults.stats()

    def set_speed(self, **knobs: float | None) -> None:
        """Change ``step_seconds``, ``rows_per_second`` or ``trigger_delay``."""
        for name, value in knobs.items():
            if not hasattr(self.engine.speed, name):
                raise AttributeError(f"unknown speed knob {name!r}")
            setattr(self.engine.speed, name, value)

    def add_connector(self, name: str, connector_type: str, database: str | Path) -> int:
        """Add a SQLite source or destination; returns its id."""
        with self.state.lock:
            ident = self.state.next_id("connector")
            self.state.connectors[ident] = {
                "id": ident,
                "name": name,
                "connector_type": connector_type,
                "connector_name": "SQLite",
                "configuration": {"database": str(database)},
            }
        return ident

    def add_model(self, name: str, connector_id: int, query: str, primary_key: str | None = None) -> int:
        """Add a model (a SQL query on a source); returns its id."""
        with self.state.lock:
            ident = self.state.next_id("model")
            self.state.models[ident] = {
                "id": ident,
                "name": name,
                "connector_id": connector_id,
                "query": query,
                "query_type": "raw_sql",
                "primary_key": primary_key,
            }
        return ident

    def runs(self, sync_id: int | str | None = None) -> list[dict[str, Any]]:
        """Runs (of one sync), oldest first."""
        with self.state.lock:
            return [
                dict(run)
                for run in sorted(self.state.runs.values(), key=lambda r: r["id"])
                if sync_id is None or run["sync_id"] == int(sync_id)
            ]

    def syncs(self) -> list[dict[str, Any]]:
        """Every sync."""
        with self.state.lock:
            return [dict(sync) for sync in self.state.syncs.values()]

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no run is going."""
        return self.engine.wait_idle(timeout)

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``condition()`` holds (for tests)."""
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError("condition not met")
            time.sleep(0.01)
