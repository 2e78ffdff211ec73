"""Deployment fixtures: one real Airflow (API server, scheduler, DAG processor, triggerer) per session.

These tests are marked ``deployment`` / ``browser`` and only run when asked for with ``-m``
(``make test-deployment``); a plain ``pytest`` skips them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deployment.harness import REPO, AirflowDeployment

ARTIFACTS = Path(os.environ.get("CDATA_SYNC_TEST_ARTIFACTS", REPO / "artifacts" / "deployment"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "deployment: runs against a real Airflow deployment (slow)")
    config.addinivalue_line("markers", "browser: drives the Airflow UI in headless Chromium (slow)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    markexpr = config.option.markexpr or ""
    if "deployment" in markexpr or "browser" in markexpr:
        return  # the caller chose with -m (pytest applies "-m deployment" or "-m 'not deployment'" itself)
    skip = pytest.mark.skip(reason="deployment/browser test: run with -m deployment (make test-deployment)")
    for item in items:
        if "deployment" in item.keywords or "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots and process logs are kept after the run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def airflow(artifacts: Path) -> Iterator[AirflowDeployment]:
    """The running deployment; its process and task logs are copied to the artifacts at the end.

    Its home is a directory of its own (not pytest's tmp_path, which other pytest runs on the machine
    may rotate away while this one still runs)."""
    root = Path(tempfile.mkdtemp(prefix="cdata-sync-deployment-"))
    dep = AirflowDeployment(root)
    try:
        dep.start()
        print(f"Airflow deployment up in {dep.startup_seconds:.1f} s at {dep.base_url}")
        yield dep
    finally:
        dep.stop()
        for source, name in ((dep.logs_dir, "process-logs"), (dep.home / "logs", "task-logs")):
            target = artifacts / name
            shutil.rmtree(target, ignore_errors=True)
            if source.exists():
                shutil.copytree(source, target)
        shutil.rmtree(root, ignore_errors=True)
