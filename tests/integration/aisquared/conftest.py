"""AI Squared fixtures: the seeded emulator on loopback, clients, syncs, and the e2e DAG runner."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cdata_sync_emulator.aisquared import AISquaredEmulator, Demo, seed_demo

from airflow_provider_cdata_sync.aisquared import AISquaredClient, AISquaredConfig, AsyncAISquaredClient, Sync
from airflow_provider_cdata_sync.client import RetrySettings
from tests.conftest import DAGS_FOLDER
from tests.helpers import demo_sync_definition
from tests.system.conftest import airflow_db, run_dag  # noqa: F401  (fixtures shared with the CData e2e tests)

TOKEN = "aisq-secret-token-9d2e"
WORKSPACE = "ws-7"

for _dag in (Path(__file__).parent / "dags").glob("*.py"):
    shutil.copy(_dag, DAGS_FOLDER / _dag.name)
os.environ.setdefault("AISQUARED_EXAMPLE_POLL_SECONDS", "0.2")


@pytest.fixture(scope="session")
def aisquared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AISquaredEmulator]:
    """The emulator, seeded, fast (0.02 s per phase)."""
    with AISquaredEmulator(
        tmp_path_factory.mktemp("aisquared"),
        TOKEN,
        workspace_id=WORKSPACE,
        step_seconds=0.02,
        trigger_delay=0.02,
    ) as server:
        yield server


@pytest.fixture
def server(
    aisquared_server: AISquaredEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AISquaredEmulator]:
    """The emulator wired to ``aisquared_default``; faults, speed and runs settled after each test."""
    conn = {
        "conn_type": "aisquared",
        "host": aisquared_server.api_url,
        "password": TOKEN,
        "extra": {"workspace_id": WORKSPACE, "max_retries": 2},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AISQUARED_DEFAULT", json.dumps(conn))
    yield aisquared_server
    aisquared_server.clear_faults()
    aisquared_server.set_speed(rows_per_second=None, step_seconds=0.02, trigger_delay=0.02)
    for sync_id in list(aisquared_server.state.syncs):
        aisquared_server.engine.cancel(sync_id)
    aisquared_server.wait_idle(10)
    aisquared_server.state.syncs.clear()  # each test starts without syncs


@pytest.fixture
def demo(server: AISquaredEmulator) -> Demo:
    """The demo connectors and models (tables rewritten: each test starts from the same data)."""
    return seed_demo(server)


def config(server: AISquaredEmulator, **overrides: Any) -> AISquaredConfig:
    """A config for the emulator with quick retries."""
    values: dict[str, Any] = {
        "base_url": server.api_url,
        "token": TOKEN,
        "workspace_id": WORKSPACE,
        "retry": RetrySettings(max_retries=2, backoff_base=0.01, backoff_max=0.05),
    }
    return AISquaredConfig(**{**values, **overrides})


@pytest.fixture
def client(server: AISquaredEmulator) -> Iterator[AISquaredClient]:
    with AISquaredClient(config(server)) as made:
        yield made


@pytest.fixture
async def aclient(server: AISquaredEmulator) -> Any:
    async with AsyncAISquaredClient(config(server)) as made:
        yield made


@pytest.fixture
def make_sync(client: AISquaredClient, demo: Demo) -> Callable[..., Sync]:
    """Create a sync of the demo (customers -> crm_contacts, manual, full refresh) with overrides."""

    def make(**overrides: Any) -> Sync:
        definition = demo_sync_definition(demo, **overrides)
        return client.syncs.create(definition)

    return make
