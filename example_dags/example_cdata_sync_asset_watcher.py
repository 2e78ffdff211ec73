"""React to CData Sync runs that Airflow did not start (Airflow 3 asset watchers).

``DemoScheduledReplication`` runs on CData Sync's own schedule (or when someone starts it in the console).
The asset below is watched by :class:`CDataSyncRunWatcher`, an event trigger in the triggerer: each new
successful run of the job creates one asset event, whose ``extra["payload"]`` is the run's summary, and the
DAG scheduled on the asset runs once per such run. Nothing polls in a worker. When to use what:

* the run operators start a run and wait for it (Airflow owns the schedule);
* :class:`CDataSyncJobHistorySensor` waits, inside one DAG run, for a run Sync starts on its schedule;
* this watcher turns every run, whoever started it, into a DAG run (event-driven; Airflow 3 only).

On Airflow 2.11 (no asset watchers) this file defines no DAG.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

# Seconds between looks at the job's history: 60 s suits real syncs; the test suite looks faster.
POLL_SECONDS = float(os.environ.get("CDATA_SYNC_EXAMPLE_POLL_SECONDS", "60"))

try:  # Airflow 3
    from airflow.sdk import DAG, Asset, AssetWatcher, task
except ImportError:  # Airflow 2.11: no event-driven scheduling
    DAG = None  # type: ignore[assignment,misc]

if DAG is not None:
    from airflow_provider_cdata_sync.triggers.cdata_sync import CDataSyncRunWatcher

    scheduled_replication = Asset(
        name="cdata_sync_demo_scheduled_replication",
        uri="cdata-sync://demo/jobs/DemoScheduledReplication",
        watchers=[
            AssetWatcher(
                name="demo_scheduled_replication_runs",
                trigger=CDataSyncRunWatcher(job="DemoScheduledReplication", poll_interval=POLL_SECONDS),
            )
        ],
    )

    with DAG(
        dag_id="example_cdata_sync_asset_watcher",
        start_date=datetime(2026, 1, 1),
        schedule=[scheduled_replication],
        catchup=False,
        tags=["cdata_sync", "example"],
        doc_md=__doc__,
    ):

        @task
        def use_the_new_rows(triggering_asset_events: Any = None) -> list[str]:
            """One line per run that triggered this DAG run (several may arrive together)."""
            lines = []
            for events in (triggering_asset_events or {}).values():
                for event in events:
                    run = event.extra["payload"]
                    lines.append(f"run {run['run_id']} of {run['name']}: {run['records_affected']} records")
            for line in lines:
                print(line)
            return lines

        use_the_new_rows()
