"""Fixtures for the unit tests of operators, sensors, triggers, links and reporting.

One emulator serves the whole session (starting one per test costs more than the tests); each test gets it
wired to ``cdata_sync_default`` and leaves it as it found it: no faults, full speed, nothing running.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cdata_sync_emulator import CDataSyncEmulator
from cdata_sync_emulator.testing import SmallJob, running_emulator, seed_small_job

from airflow_provider_cdata_sync.client import CDataSyncClient, ClientConfig, RetrySettings
from airflow_provider_cdata_sync.client.control import Target
from tests.helpers import BROKEN_JOB, GOOD_JOB, TOKEN, stop_everything, use_connection


@dataclass
class Jobs:
    """The jobs seeded once for the session."""

    good: SmallJob  # accounts + contacts, 20 rows each
    broken: SmallJob  # accounts + contacts (5 rows) + a task on a missing table


@pytest.fixture(scope="session")
def emulator_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CDataSyncEmulator]:
    with running_emulator(tmp_path_factory.mktemp("unit-emulator"), TOKEN) as server:
        yield server


@pytest.fixture(scope="session")
def jobs(emulator_session: CDataSyncEmulator) -> Jobs:
    good = seed_small_job(emulator_session, rows=20, name=GOOD_JOB)
    broken = seed_small_job(
        emulator_session, rows=5, name=BROKEN_JOB, extra_queries=["REPLICATE [missing_table]"]
    )
    return Jobs(good, broken)


@pytest.fixture
def server(
    emulator_session: CDataSyncEmulator, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CDataSyncEmulator]:
    """The session emulator, wired to ``cdata_sync_default``; reset after the test."""
    use_connection(monkeypatch, emulator_session)
    yield emulator_session
    emulator_session.clear_faults()
    core = emulator_session._core()
    core.engine.overrides.clear()
    emulator_session.set_speed(rows_per_second=None, min_run_seconds=0.0)
    stop_everything(emulator_session)


@pytest.fixture
def client(server: CDataSyncEmulator) -> Iterator[CDataSyncClient]:
    """A plain sync client on the emulator (for set-up and checks, not the code under test)."""
    with CDataSyncClient(
        ClientConfig(base_url=server.base_url, token=server.token, retry=RetrySettings(max_retries=0))
    ) as sync_client:
        yield sync_client


@pytest.fixture
def good_target(client: CDataSyncClient) -> Target:
    return client.resolve_target("job", GOOD_JOB)


@pytest.fixture
def broken_target(client: CDataSyncClient) -> Target:
    return client.resolve_target("job", BROKEN_JOB)
