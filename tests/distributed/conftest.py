"""Distributed fixtures: one Airflow on the docker-compose quick start's topology (CeleryExecutor,
PostgreSQL, Redis, two triggerers, two Celery workers) per session.

These tests are marked ``distributed`` and only run when asked for with ``-m distributed``
(``make test-distributed``); a plain ``pytest`` skips them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deployment.harness import REPO
from tests.distributed.harness import DistributedDeployment

ARTIFACTS = Path(os.environ.get("CDATA_SYNC_DISTRIBUTED_ARTIFACTS", REPO / "artifacts" / "distributed"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "distributed: runs against Airflow on Celery/PostgreSQL/Redis (slow)")
    # The deployment tests imported here carry their own marker (registered by tests/deployment too).
    config.addinivalue_line("markers", "deployment: runs against a real Airflow deployment (slow)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "distributed" in (config.option.markexpr or ""):
        return  # the caller chose with -m
    skip = pytest.mark.skip(reason="distributed test: run with -m distributed (make test-distributed)")
    for item in items:
        if "distributed" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where process and task logs (and the figures measured) are kept after the run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def airflow(artifacts: Path) -> Iterator[DistributedDeployment]:
    """The running deployment; its process and task logs are copied to the artifacts at the end."""
    root = Path(tempfile.mkdtemp(prefix="cdata-sync-distributed-"))
    dep = DistributedDeployment(root)
    try:
        dep.start()
        print(f"Distributed Airflow up in {dep.startup_seconds:.1f} s at {dep.base_url}")
        yield dep
    finally:
        dep.stop()
        for source, name in ((dep.logs_dir, "process-logs"), (dep.home / "logs", "task-logs")):
            target = artifacts / name
            shutil.rmtree(target, ignore_errors=True)
            if source.exists():
                shutil.copytree(source, target)
        shutil.rmtree(root, ignore_errors=True)
