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
for source in (REPO / "example_dags", REPO / "tests" / "system" / "dags"):
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

# Airflow 2.11: the DagBag lives in airflow.models.dagbag (Airflow 3 moved it to airflow.dag_processing).
# Alias the Airflow 3 path so that tests import it the same way on both (only imports Airflow on 2.x).
try:
    from importlib.metadata import version as _version

    _AIRFLOW_MAJOR = int(_version("apache-airflow").split(".")[0])
except Exception:  # pragma: no cover - Airflow not installed
    _AIRFLOW_MAJOR = 0
if _AIRFLOW_MAJOR == 2:
    import sys

    import airflow.dag_processing
    import airflow.models.dagbag

    sys.modules.setdefault("airflow.dag_processing.dagbag", airflow.models.dagbag)
    airflow.dag_processing.dagbag = airflow.models.dagbag  # type: ignore[attr-defined]
