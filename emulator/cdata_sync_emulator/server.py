"""``CDataSyncEmulator``: runs the emulator in a background thread, with a Python admin API."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from .app import apply_speed, build_core, create_app, normalize_context_path, snapshot
from .common import Core
from .dialects import Dialect, get_dialect
from .util import normalize_link_base


class CDataSyncEmulator:
    """A CData Sync emulator served by uvicorn on a loopback port (a free one unless ``port`` is given).

    Use as a context manager; ``base_url`` is ``http://127.0.0.1:<port><context_path>`` and
    ``api_url`` is ``base_url + "/api.rsc"``. The state lives in ``data_dir`` and survives
    :meth:`restart`.

    :param dialect: the shape of the answers: ``"default"``, ``"pascal"`` (v2 in PascalCase, paged by 2,
        no run id on execute) or ``"v1-real"`` (v1 as real servers answer it); see the README.
    :param link_base: ``scheme://host:port`` that absolute paging links (``@odata.nextLink``) name instead
        of the emulator's own address, as a server behind a proxy does; path and query are kept.
    """

    def __init__(
        self,
        data_dir: str | Path,
        token: str = "t0ken",
        *,
        seed_demo: bool = False,
        rows_per_second: float | None = None,
        min_run_seconds: float = 0.0,
        context_path: str = "",
        host: str = "127.0.0.1",
        port: int = 0,
        allow_url_token: bool = False,
        scheduler: bool = True,
        v1_page_size: int = 100,
        dialect: str | Dialect = "default",
        link_base: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.dialect = get_dialect(dialect)
        self.link_base = normalize_link_base(link_base)
        self.token = token
        self.seed_demo = seed_demo
        self.rows_per_second = rows_per_second
        self.min_run_seconds = min_run_seconds
        self.context_path = normalize_context_path(context_path)
        self.host = host
        self.port = port
        self.allow_url_token = allow_url_token
        self.scheduler = scheduler
        self.v1_page_size = v1_page_size
        self.core: Core | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    # ----- lifecycle -------------------------------------------------------------------------------
    def start(self) -> CDataSyncEmulator:
        """Open the state, start uvicorn in a thread and wait until it serves."""
        if self._server is not None:
            return self
        self.core = build_core(
            self.data_dir,
            self.token,
            context_path=self.context_path,
            allow_url_token=self.allow_url_token,
            rows_per_second=self.rows_per_second,
            min_run_seconds=self.min_run_seconds,
            v1_page_size=self.v1_page_size,
            dialect=self.dialect,
            link_base=self.link_base,
        )
        if self.seed_demo:
            from .seed import seed_demo

            seed_demo(self.core)
        if self.scheduler:
            self.core.engine.start_scheduler()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]  # keep the port across restarts
        config = uvicorn.Config(create_app(self.core), log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the CData Sync emulator did not start")
            time.sleep(0.01)
        # Keep the listening socket open until stop(): without uvloop, uvicorn serves on this very socket
        # (uvloop serves on a duplicate), so closing it here would refuse every connection.
        self._sock = sock
        return self

    def stop(self) -> None:
        """Stop serving; active runs are abandoned (they are failed as interrupted on the next start)."""
        if self._server is None:
            return
        assert self.core is not None
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self.core.engine.halt()
        self.core.store.close()
        if self._sock is not None:
            self._sock.close()
        self._server = None
        self._thread = None
        self._sock = None

    def restart(self) -> None:
        """Stop and start again on the same port with the same data dir."""
        self.stop()
        self.start()

    def __enter__(self) -> CDataSyncEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ----- URLs ------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://host:port`` plus the context path (without ``/api.rsc``)."""
        return f"http://{self.host}:{self.port}{self.context_path}"

    @property
    def api_url(self) -> str:
        """``base_url + "/api.rsc"``."""
        return f"{self.base_url}/api.rsc"

    @property
    def headers(self) -> dict[str, str]:
        """The auth header for plain HTTP clients."""
        return {"x-cdata-authtoken": self.token}

    # ----- admin API -------------------------------------------------------------------------------
    def _core(self) -> Core:
        if self.core is None:
            raise RuntimeError("the emulator is not started")
        return self.core

    def inject_fault(
        self,
        path: str,
        action: str = "status",
        *,
        method: str | None = None,
        count: int = 1,
        status: int = 503,
        retry_after: float | None = None,
        delay: float = 1.0,
        body: Any = None,
    ) -> dict[str, Any]:
        """Register a fault (see ``POST /_emulator/faults``); returns it."""
        spec = {
            "path": path,
            "action": action,
            "method": method,
            "count": count,
            "status": status,
            "retry_after": retry_after,
            "delay": delay,
            "body": body,
        }
        return self._core().faults.add(spec).as_dict()

    def clear_faults(self) -> None:
        """Remove every fault."""
        self._core().faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        """Registered faults and their remaining counts."""
        return self._core().faults.list()

    def stats(self) -> dict[str, Any]:
        """API calls per ``METHOD path``."""
        return self._core().faults.stats()

    def set_speed(
        self,
        rows_per_second: float | None = None,
        min_run_seconds: float | None = None,
        target_id: str | None = None,
    ) -> None:
        """Change the speed knobs (globally, or for one job/transformation/pipeline id)."""
        body: dict[str, Any] = {"rows_per_second": rows_per_second}
        if min_run_seconds is not None:
            body["min_run_seconds"] = min_run_seconds
        if target_id:
            body["target_id"] = target_id
        apply_speed(self._core().engine, body)

    def state(self) -> dict[str, Any]:
        """Snapshot: jobs, transformations, pipelines, connections, runs (with task results)."""
        return snapshot(self._core())

    def runs(self, job_id: str | None = None) -> list[dict[str, Any]]:
        """History records, oldest first (of one job/transformation/pipeline id when given)."""
        store = self._core().store
        return store.list("run", job_id) if job_id else store.list("run")

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no run is queued or running."""
        return self._core().engine.wait_idle(timeout)

    def wait_run(self, run_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until a run is finished and return its record."""
        deadline = time.monotonic() + timeout
        while True:
            run = self._core().store.get("run", str(run_id))
            if run and run["status"] not in ("Queued", "Running"):
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} did not finish within {timeout} s")
            time.sleep(0.02)
