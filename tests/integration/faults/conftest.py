"""Fixtures of the fault tests: one emulator for the session (small jobs plus the demo's names), wired to
``cdata_sync_default`` per test and left as found: no faults, full speed, nothing running."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from cdata_sync_emulator import CDataSyncEmulator
from cdata_sync_emulator.testing import SmallJob, running_emulator, seed_small_job

from tests.helpers import use_connection

#: A distinctive token: every secrets test greps everything captured for it.
TOKEN = "fAuLt-S3cret-T0ken-7c1e9a"
CONN_ENV = "AIRFLOW_CONN_CDATA_SYNC_DEFAULT"
JOB = "FaultJob"
OTHER_JOB = "FaultOtherJob"
#: Request paths of the emulator (regular expressions for fault injection).
V2_EXECUTE = r"^/api\.rsc/v2/jobs/[^/]+/execute$"
V2_STATUS = r"^/api\.rsc/v2/jobs/[^/]+/status$"
V2_HISTORY = r"^/api\.rsc/v2/jobs/[^/]+/history$"
V2_RUN = r"^/api\.rsc/v2/jobs/[^/]+/history/[^/]+$"
V2_CANCEL = r"^/api\.rsc/v2/jobs/[^/]+/cancel$"
V2_LOG = r"^/api\.rsc/v2/connections/[^/]+/logs/[^/]+/download$"
V1_EXECUTE = r"(?i)^/api\.rsc/executeJob$"
V1_LOG = r"(?i)^/api\.rsc/getJobLog$"


@dataclass
class Jobs:
    """Jobs seeded once for the session."""

    main: SmallJob  # accounts + contacts, 20 rows each
    other: SmallJob


@pytest.fixture(scope="session")
def emulator_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CDataSyncEmulator]:
    with running_emulator(tmp_path_factory.mktemp("faults-emulator"), TOKEN, seed_demo=True) as server:
        yield server


@pytest.fixture(scope="session")
def jobs(emulator_session: CDataSyncEmulator) -> Jobs:
    return Jobs(
        seed_small_job(emulator_session, rows=20, name=JOB),
        seed_small_job(emulator_session, rows=20, name=OTHER_JOB),
    )


def _stop_everything(server: CDataSyncEmulator) -> None:
    for kind in ("jobs", "pipelines", "transformations"):
        for item in server.state()[kind]:
            if item.get("status") not in (None, "Idle"):
                httpx.post(
                    f"{server.api_url}/v2/{kind}/{item['id']}/cancel", headers=server.headers, timeout=10
                )
    assert server.wait_idle(15), "the emulator did not become idle"


@pytest.fixture
def server(
    emulator_session: CDataSyncEmulator, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CDataSyncEmulator]:
    """The session emulator, wired to ``cdata_sync_default`` (v2); reset after the test."""
    use_connection(monkeypatch, emulator_session, max_retries=2)
    emulator_session._core().faults.reset_stats()
    yield emulator_session
    emulator_session.clear_faults()
    emulator_session._core().engine.overrides.clear()
    emulator_session.set_speed(rows_per_second=None, min_run_seconds=0.0)
    _stop_everything(emulator_session)
