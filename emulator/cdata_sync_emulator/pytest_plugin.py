"""pytest fixtures that serve a seeded emulator on a free loopback port, for testing your own DAGs.

pytest loads this plugin by itself once ``cdata-sync-emulator`` is installed (entry point ``pytest11``).

``cdata_sync_emulator``
    Session-scoped: a :class:`~cdata_sync_emulator.CDataSyncEmulator` with the demo content (shop
    database, warehouse, the jobs ``DemoReplication``, ``DemoBrokenReplication``,
    ``DemoScheduledReplication``, the transformation ``DemoCustomerRevenue``, the pipeline
    ``DemoPipeline``), its scheduler off, a random token; stopped at the end of the session.
``cdata_sync_connection``
    Function-scoped: the same emulator, with ``AIRFLOW_CONN_CDATA_SYNC_DEFAULT`` pointing at it for
    the test (so ``cdata_sync_default`` is the emulator); afterwards faults are cleared, the speed is
    restored and the test's runs are left to finish.
``aisquared_emulator`` / ``aisquared_connection``
    The same for AI Squared: an :class:`~cdata_sync_emulator.aisquared.AISquaredEmulator` seeded with
    source 1 (shop), destination 2 (CRM), models 1 (customers) and 2 (broken), and
    ``AIRFLOW_CONN_AISQUARED_DEFAULT`` with its URL, token (``oss`` mode: email as login and password)
    and workspace id; afterwards faults are cleared, the speed restored and active runs cancelled.
``cdata_sync_emulator_options`` / ``aisquared_emulator_options``
    Session-scoped keyword arguments of the two emulators; override them in your ``conftest.py`` to
    change the token, the speed, the scheduler, the workspace id...
``cdata_sync_dialect`` / ``aisquared_mode``
    Session-scoped: the CData Sync emulator's dialect (``default``, ``pascal``, ``v1-real``) and the AI
    Squared emulator's mode (``default``, ``oss``), from ``--cdata-sync-dialect`` and ``--aisquared-mode``.
    Override them with ``params=[...]`` to run every test that uses the emulator once per dialect; a
    ``dialect``/``mode`` in the options fixture wins over them.

The emulators are imported when a fixture is first used, so the plugin costs nothing in test sessions
that do not use it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .aisquared import AISquaredEmulator
    from .server import CDataSyncEmulator

#: The connection ids that the provider's hooks, operators and sensors use by default.
CDATA_SYNC_CONN_ENV = "AIRFLOW_CONN_CDATA_SYNC_DEFAULT"
AISQUARED_CONN_ENV = "AIRFLOW_CONN_AISQUARED_DEFAULT"
DIALECT_NAMES = ("default", "pascal", "v1-real")  # cdata_sync_emulator.dialects.DIALECTS (checked by a test)
AISQUARED_MODES = ("default", "oss")


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--cdata-sync-dialect`` and ``--aisquared-mode``."""
    group = parser.getgroup("cdata-sync-emulator", "CData Sync and AI Squared emulators")
    group.addoption(
        "--cdata-sync-dialect",
        default="default",
        choices=DIALECT_NAMES,
        help="the shape the CData Sync emulator answers in (default, pascal, v1-real)",
    )
    group.addoption(
        "--aisquared-mode",
        default="default",
        choices=AISQUARED_MODES,
        help="the AI Squared emulator's mode (default; oss: the open-source server's login and errors)",
    )


@pytest.fixture(scope="session")
def cdata_sync_dialect(request: pytest.FixtureRequest) -> str:
    """The CData Sync emulator's dialect (``--cdata-sync-dialect``; override with ``params`` for a matrix)."""
    return str(request.config.getoption("cdata_sync_dialect"))


@pytest.fixture(scope="session")
def aisquared_mode(request: pytest.FixtureRequest) -> str:
    """The AI Squared emulator's mode (``--aisquared-mode``; override with ``params`` for a matrix)."""
    return str(request.config.getoption("aisquared_mode"))


@pytest.fixture(scope="session")
def cdata_sync_emulator_options() -> dict[str, Any]:
    """Keyword arguments of the session's CData Sync emulator (override this fixture to change them)."""
    return {"token": f"pytest-{secrets.token_hex(8)}", "seed_demo": True, "scheduler": False}


@pytest.fixture(scope="session")
def cdata_sync_emulator(
    tmp_path_factory: pytest.TempPathFactory,
    cdata_sync_emulator_options: dict[str, Any],
    cdata_sync_dialect: str,
) -> Iterator[CDataSyncEmulator]:
    """A seeded CData Sync emulator on a free loopback port for the whole session (per dialect)."""
    from .server import CDataSyncEmulator

    data_dir = tmp_path_factory.mktemp("cdata-sync-emulator")
    options = {"dialect": cdata_sync_dialect, **cdata_sync_emulator_options}
    with CDataSyncEmulator(data_dir, **options) as server:
        yield server


@pytest.fixture
def cdata_sync_connection(
    cdata_sync_emulator: CDataSyncEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CDataSyncEmulator]:
    """The session's CData Sync emulator as the Airflow connection ``cdata_sync_default``."""
    server = cdata_sync_emulator
    connection = {"conn_type": "cdata_sync", "host": server.base_url, "password": server.token}
    monkeypatch.setenv(CDATA_SYNC_CONN_ENV, json.dumps(connection))
    yield server
    server.clear_faults()
    server.set_speed(rows_per_second=server.rows_per_second, min_run_seconds=server.min_run_seconds)
    server.wait_idle(30)


@pytest.fixture(scope="session")
def aisquared_emulator_options() -> dict[str, Any]:
    """Keyword arguments of the session's AI Squared emulator (override this fixture to change them)."""
    return {"token": f"pytest-{secrets.token_hex(8)}", "workspace_id": "1", "seed_demo": True}


@pytest.fixture(scope="session")
def aisquared_emulator(
    tmp_path_factory: pytest.TempPathFactory, aisquared_emulator_options: dict[str, Any], aisquared_mode: str
) -> Iterator[AISquaredEmulator]:
    """A seeded AI Squared emulator on a free loopback port for the whole session (per mode)."""
    from .aisquared import AISquaredEmulator

    data_dir = tmp_path_factory.mktemp("aisquared-emulator")
    options = {"mode": aisquared_mode, **aisquared_emulator_options}
    with AISquaredEmulator(data_dir, **options) as server:
        yield server


@pytest.fixture
def aisquared_connection(
    aisquared_emulator: AISquaredEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AISquaredEmulator]:
    """The session's AI Squared emulator as the Airflow connection ``aisquared_default``."""
    server = aisquared_emulator
    connection: dict[str, Any] = {"conn_type": "aisquared", "host": server.api_url, "password": server.token}
    if server.mode == "oss":  # no static token in the open-source server: the hook logs in
        connection.update(login=server.email, password=server.password)
    if server.workspace_id:
        connection["extra"] = {"workspace_id": server.workspace_id}
    monkeypatch.setenv(AISQUARED_CONN_ENV, json.dumps(connection))
    speed = vars(server.engine.speed).copy()
    yield server
    server.clear_faults()
    for sync_id in list(server.state.syncs):
        server.engine.cancel(sync_id)
    server.wait_idle(30)
    server.set_speed(**speed)
