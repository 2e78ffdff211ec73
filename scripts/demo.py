"""`make demo`: the quickstart DAG end to end against the seeded CData Sync emulator.

Starts the emulator with the demo content (a shop database and an empty warehouse), runs the example DAG
``example_cdata_sync_quickstart`` with ``airflow dags test`` (a real Airflow task run), shows the task log
with the CData Sync log lines, and prints the rows that arrived in the warehouse.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from cdata_sync_emulator import CDataSyncEmulator
from cdata_sync_emulator.seed import DEMO_TABLES

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO / "demo-data"
DAG_ID = "example_cdata_sync_quickstart"
_STRUCTLOG = re.compile(r"^\S+Z \[(\w+)\s*\] (.*?)\s+\[(?:airflow\.task[\w.]*|task)\](?: \S+=.*)?$")


def airflow_env(server: CDataSyncEmulator) -> dict[str, str]:
    """Environment for the Airflow CLI: its own home, the example DAGs, the emulator connection."""
    home = Path(os.environ.get("AIRFLOW_HOME", REPO / ".airflow-home"))
    connection = {"conn_type": "cdata_sync", "host": server.base_url, "password": server.token}
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_CDATA_SYNC_DEFAULT": json.dumps(connection),
        "CDATA_SYNC_EXAMPLE_POLL_SECONDS": "1",
    }


def task_log_lines(output: str) -> list[str]:
    """The lines of our tasks' logs (operator loggers), without Airflow's own chatter."""
    lines = []
    for raw in output.splitlines():
        if "airflow.task.operators" not in raw and "[task]" not in raw:
            continue
        match = _STRUCTLOG.match(raw)
        lines.append(f"[{match.group(1)}] {match.group(2)}" if match else raw)
    return lines


def warehouse_counts(path: Path) -> dict[str, int]:
    """Row counts per table of the warehouse database."""
    conn = sqlite3.connect(path)
    try:
        names = [
            row[0]
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]
        return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}
    finally:
        conn.close()


def main() -> int:
    """Run the demo; exit code 0 when the DAG run succeeded and rows arrived."""
    shutil.rmtree(DATA_DIR, ignore_errors=True)
    airflow = str(Path(sys.executable).parent / "airflow")
    with CDataSyncEmulator(DATA_DIR, "demo-token-0d9a", seed_demo=True, scheduler=False) as server:
        print(f"CData Sync emulator at {server.base_url} (console: {server.base_url}/console/jobs)")
        env = airflow_env(server)
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
        print(f"Running DAG {DAG_ID} with `airflow dags test` ...\n")
        result = subprocess.run([airflow, "dags", "test", DAG_ID], env=env, capture_output=True, text=True)
        print("\n".join(task_log_lines(result.stdout)))
        if result.returncode != 0:
            print(result.stdout[-5000:], result.stderr[-5000:], sep="\n")
    counts = warehouse_counts(DATA_DIR / "demo" / "warehouse.db")
    print("\nRows in the warehouse (demo-data/demo/warehouse.db):")
    for table, rows in counts.items():
        print(f"  {table:<18} {rows:>7}")
    ok = result.returncode == 0 and all(counts.get(table, 0) > 0 for table in DEMO_TABLES)
    print("\nDemo", "succeeded." if ok else "FAILED.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
