"""The emulator is a distribution of its own: it imports nothing of the provider (nor Airflow), the
provider imports nothing of it, and the API facts that both keep a copy of agree."""

from __future__ import annotations

import json
import subprocess
import sys

#: Imports every module of a package in a fresh interpreter and prints the imported module names.
IMPORT_ALL = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(module.name)
print(json.dumps(sorted(sys.modules)))
"""


def modules_loaded_by(package: str) -> list[str]:
    """The names in ``sys.modules`` after importing every module of ``package``."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, package], capture_output=True, text=True, timeout=300, check=True
    )
    return list(json.loads(result.stdout.splitlines()[-1]))


def test_the_emulator_imports_neither_the_provider_nor_airflow() -> None:
    loaded = modules_loaded_by("cdata_sync_emulator")
    assert "cdata_sync_emulator.aisquared.server" in loaded and "cdata_sync_emulator.pytest_plugin" in loaded
    assert [name for name in loaded if name.split(".")[0] in ("airflow", "airflow_provider_cdata_sync")] == []


def test_the_provider_does_not_import_the_emulator() -> None:
    loaded = modules_loaded_by("airflow_provider_cdata_sync")
    assert "airflow_provider_cdata_sync.aisquared.operators" in loaded
    assert [name for name in loaded if name.split(".")[0] == "cdata_sync_emulator"] == []


def test_the_ai_squared_emulator_knows_the_sync_fields_and_statuses_the_provider_uses() -> None:
    from cdata_sync_emulator.aisquared import app, engine

    from airflow_provider_cdata_sync.aisquared import models

    assert app.SYNC_FIELDS == models.SYNC_FIELDS
    assert set(engine.ACTIVE_STATUSES) == set(models.ACTIVE_STATUSES)
