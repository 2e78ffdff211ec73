"""Which provider files a deferrable job run goes through (issue 13's "a deferrable path you can follow").

Runs one deferrable ``CDataSyncRunJobOperator`` with ``dag.test()`` against the seeded emulator, with a
profiler that records every *function* called (module bodies, i.e. imports, do not count) in the
provider's own files, then prints those files with the number of distinct functions called in each.
``dag.test()`` runs the task, the trigger and the resumed task in this process, so the list covers the
worker side, the triggerer side and the resume. Usage: ``python scripts/deferrable_path.py [--api v2|v1]``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "airflow_provider_cdata_sync"


def main() -> int:
    """Run the DAG under the profiler and print the files it went through."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", default="v2", choices=["v2", "v1"])
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="deferrable-path-"))
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        }
    )
    emulator_module = _emulator_module()
    with emulator_module.CDataSyncEmulator(home / "emulator", "path-token", seed_demo=True) as server:
        connection = {
            "conn_type": "cdata_sync",
            "host": server.base_url,
            "password": server.token,
            "extra": {"api_version": args.api},
        }
        os.environ["AIRFLOW_CONN_CDATA_SYNC_DEFAULT"] = json.dumps(connection)
        calls = _profiled_run()
    files = collections.Counter(path for path, _ in calls)
    print(f"Provider files with functions called in one deferrable job run (API {args.api}):")
    for path, count in sorted(files.items()):
        print(f"  {path}  ({count} function(s))")
    print(f"{len(files)} files")
    return 0


def _emulator_module() -> Any:
    try:
        import cdata_sync_emulator

        return cdata_sync_emulator
    except ImportError:  # before the emulator had its own distribution
        from airflow_provider_cdata_sync import emulator

        return emulator


def _profiled_run() -> set[tuple[str, str]]:
    from airflow.utils import db

    db.initdb()
    dag = _dag()
    calls: set[tuple[str, str]] = set()
    package = str(PACKAGE)

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event != "call":
            return
        code = frame.f_code
        if code.co_name == "<module>" or not code.co_filename.startswith(package):
            return
        if "/emulator/" in code.co_filename:
            return
        calls.add((str(Path(code.co_filename).relative_to(REPO)), code.co_qualname))
        if os.environ.get("DEFERRABLE_PATH_VERBOSE"):
            print("CALL", Path(code.co_filename).relative_to(REPO), code.co_qualname, file=sys.stderr)

    sys.setprofile(profile)
    threading.setprofile(profile)  # the triggerer side may run in a thread
    try:
        dag_run = dag.test()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    if set(states.values()) != {"success"}:
        raise SystemExit(f"the run did not succeed: {states}")
    return calls


DAG_FILE = """
from datetime import datetime

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG
from airflow_provider_cdata_sync.operators.cdata_sync import CDataSyncRunJobOperator

with DAG("deferrable_path", start_date=datetime(2026, 1, 1), schedule=None):
    CDataSyncRunJobOperator(task_id="replicate", job="DemoReplication", deferrable=True, check_interval=0.5)
"""


def _dag() -> Any:
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2.11
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    folder = Path(os.environ["AIRFLOW_HOME"]) / "dags"
    folder.mkdir(exist_ok=True)
    (folder / "deferrable_path.py").write_text(DAG_FILE)
    bag = DagBag(str(folder))
    if bag.import_errors:
        raise SystemExit(f"the DAG does not import: {bag.import_errors}")
    return bag.get_dag("deferrable_path")


if __name__ == "__main__":
    sys.exit(main())
