"""Helpers of the distributed tests: a fleet of emulator jobs run by the mapped ``distributed_fleet`` DAG,
the state of its task instances, and API calls counted by the emulator per poll interval."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tests.deployment.harness import wait_for
from tests.distributed.harness import DistributedDeployment

FLEET_DAG = "distributed_fleet"
FLEET_TASK = "run_job"
#: The DAG's check_interval (tests/distributed/dags): the shared poller's interval.
POLL_INTERVAL = 5.0
#: The emulator's per-target pace of a fleet run while the test needs it running: one row per this many
#: seconds (so a run of ``rows`` rows lasts ``rows`` times as long, until the pace is lifted).
SECONDS_PER_ROW = 15.0


@dataclass
class Fleet:
    """Emulator jobs by name -> id, and the DAG run that maps one task over each."""

    jobs: dict[str, str]
    run_id: str = ""

    @property
    def names(self) -> list[str]:
        return sorted(self.jobs)


def start_fleet(
    airflow: DistributedDeployment,
    size: int,
    prefix: str,
    *,
    rows: int = 150,
    seconds_per_row: float = SECONDS_PER_ROW,
) -> Fleet:
    """Seed ``size`` jobs paced to one row per ``seconds_per_row`` (a run lasts up to ``rows`` times that,
    until the pace is lifted: then it waits out its current row and writes the rest at once, so keep
    ``rows`` small for big fleets) and trigger the fleet DAG over them."""
    names = airflow.seed_fleet(size, rows=rows, prefix=prefix)
    fleet = Fleet(airflow.job_ids(names))
    assert len(fleet.jobs) == size
    pace(airflow, fleet, 1.0 / seconds_per_row)
    fleet.run_id = airflow.trigger(FLEET_DAG, {"jobs": fleet.names})
    return fleet


def pace(airflow: DistributedDeployment, fleet: Fleet, rows_per_second: float | None) -> None:
    """Set the emulator's pace of every fleet job (None: as fast as it goes)."""
    for job_id in fleet.jobs.values():
        airflow.emulator.set_speed(rows_per_second=rows_per_second, target_id=job_id)


def ti_states(airflow: DistributedDeployment, fleet: Fleet) -> Counter[str]:
    """States of the fleet's mapped task instances, counted (from the metadata database)."""
    rows = airflow.sql(
        "SELECT coalesce(state, 'none'), count(*) FROM task_instance "
        "WHERE dag_id = %s AND run_id = %s AND task_id = %s GROUP BY 1",
        (FLEET_DAG, fleet.run_id, FLEET_TASK),
    )
    return Counter({state: int(count) for state, count in rows})


def wait_all_deferred(airflow: DistributedDeployment, fleet: Fleet, timeout: float) -> float:
    """Wait until every mapped task is deferred and its trigger assigned to a triggerer; returns the
    seconds it took."""
    started = time.monotonic()
    size = len(fleet.jobs)

    def all_deferred() -> bool:
        airflow._check_alive()
        states = ti_states(airflow, fleet)
        if states.get("failed") or states.get("upstream_failed"):
            raise AssertionError(f"fleet tasks failed while starting: {dict(states)}")
        assigned = airflow.sql(
            "SELECT count(*) FROM task_instance ti JOIN trigger t ON t.id = ti.trigger_id "
            "WHERE ti.dag_id = %s AND ti.run_id = %s AND t.triggerer_id IS NOT NULL",
            (FLEET_DAG, fleet.run_id),
        )[0][0]
        return states.get("deferred", 0) == size and int(assigned) == size

    wait_for(f"{size} fleet tasks to be deferred in a triggerer", all_deferred, timeout, interval=2)
    return time.monotonic() - started


def trigger_ids_of(airflow: DistributedDeployment, fleet: Fleet, triggerer: str) -> set[int]:
    """Ids of the fleet's triggers assigned to one triggerer process."""
    rows = airflow.sql(
        "SELECT t.id FROM task_instance ti JOIN trigger t ON t.id = ti.trigger_id "
        "WHERE ti.dag_id = %s AND ti.run_id = %s AND t.triggerer_id = %s",
        (FLEET_DAG, fleet.run_id, airflow.triggerer_jobs[triggerer]),
    )
    return {int(row[0]) for row in rows}


def map_indexes_of_triggers(airflow: DistributedDeployment, fleet: Fleet, trigger_ids: set[int]) -> list[int]:
    """Map indexes of the fleet's task instances waiting on the given triggers."""
    rows = airflow.sql(
        "SELECT map_index, trigger_id FROM task_instance WHERE dag_id = %s AND run_id = %s AND task_id = %s",
        (FLEET_DAG, fleet.run_id, FLEET_TASK),
    )
    return sorted(int(index) for index, trigger in rows if trigger in trigger_ids)


def api_task_instances(airflow: DistributedDeployment, dag_id: str, run_id: str, task_id: str) -> list[dict]:
    """Every mapped task instance of a task through the REST API (paged)."""
    found: list[dict[str, Any]] = []
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/listMapped"
    while True:
        page = airflow.api("GET", path, params={"limit": 100, "offset": len(found)}).json()
        found += page["task_instances"]
        if not page["task_instances"] or len(found) >= page["total_entries"]:
            return found


def calls(airflow: DistributedDeployment) -> Counter[str]:
    """The emulator's API calls so far, per ``METHOD path``."""
    return Counter(airflow.emulator.stats()["calls"])


@dataclass
class CallRate:
    """API calls to the emulator over a window, per poll interval."""

    seconds: float
    by_path: Counter[str]

    @property
    def intervals(self) -> float:
        return self.seconds / POLL_INTERVAL

    def per_interval(self, predicate: Any = None) -> float:
        total = sum(n for path, n in self.by_path.items() if predicate is None or predicate(path))
        return total / self.intervals

    @property
    def list_calls_per_interval(self) -> float:
        """Workspace job lists: the shared poller's one call per tick."""
        return self.per_interval(is_job_list)

    def fleet_calls_per_interval(self, job_ids: Any) -> float:
        """Job lists and calls about the given jobs (others, e.g. an example DAG's watcher, left out)."""
        ids = set(job_ids)
        return self.per_interval(lambda path: is_job_list(path) or any(job in path for job in ids))

    @property
    def run_lookups_per_interval(self) -> float:
        """History GETs of single runs."""
        return self.per_interval(lambda path: "/history/" in path)

    def as_dict(self) -> dict[str, Any]:
        return {
            "window_seconds": round(self.seconds, 1),
            "poll_interval_seconds": POLL_INTERVAL,
            "calls_per_interval": round(self.per_interval(), 2),
            "job_list_calls_per_interval": round(self.list_calls_per_interval, 2),
            "run_lookups_per_interval": round(self.run_lookups_per_interval, 2),
            "calls": dict(self.by_path),
        }


def is_job_list(path: str) -> bool:
    return path.startswith("GET ") and path.rstrip("/").endswith("/jobs")


def measure_calls(airflow: DistributedDeployment, seconds: float) -> CallRate:
    """Count the emulator's API calls for ``seconds``."""
    before = calls(airflow)
    started = time.monotonic()
    time.sleep(seconds)
    after = calls(airflow)
    return CallRate(time.monotonic() - started, after - before)
