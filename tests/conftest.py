"""Test-wide set-up: an isolated Airflow home, set before anything imports Airflow."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_HOME = Path(tempfile.mkdtemp(prefix="cdata-sync-airflow-home-"))
DAGS_FOLDER = _HOME / "dags"

# The DAG folder holds the example DAGs plus the end-to-end test DAGs (dag.test() parses the folder).
DAGS_FOLDER.mkdir()
for source in (REPO / "example_dags", REPO / "tests" / "e2e" / "dags"):
    for path in source.glob("*.py"):
        shutil.copy(path, DAGS_FOLDER / path.name)

os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME}/airflow.db",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "CDATA_SYNC_EXAMPLE_POLL_SECONDS": "0.5",
    }
)
