"""Fixtures for the emulator tests: a fresh emulator per test, a plain httpx client and a small job."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cdata_sync_emulator import CDataSyncEmulator
from cdata_sync_emulator.testing import SmallJob, running_emulator, seed_small_job

TOKEN = "t0ken"


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[CDataSyncEmulator]:
    """A running emulator (no scheduler thread) with its state in ``tmp_path``."""
    with running_emulator(tmp_path / "data", TOKEN) as server:
        yield server


@pytest.fixture
def api(emulator: CDataSyncEmulator) -> Iterator[httpx.Client]:
    """An httpx client on ``<base>/api.rsc/v2`` sending the auth header."""
    with httpx.Client(base_url=f"{emulator.api_url}/v2", headers=emulator.headers, timeout=10) as client:
        yield client


@pytest.fixture
def v1(emulator: CDataSyncEmulator) -> Iterator[httpx.Client]:
    """An httpx client on ``<base>/api.rsc`` (API v1) sending the auth header."""
    with httpx.Client(base_url=emulator.api_url, headers=emulator.headers, timeout=10) as client:
        yield client


@pytest.fixture
def small_job(emulator: CDataSyncEmulator) -> SmallJob:
    """Two 20-row tables replicated from one SQLite file to another."""
    return seed_small_job(emulator, rows=20)
