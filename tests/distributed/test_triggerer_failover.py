"""500 deferred job runs spread over two triggerers; one triggerer is SIGKILLed while they wait. Every task
finishes through the other triggerer: no run started twice, none lost, none cancelled by the move, and
the status polls stay coalesced (about one workspace list per poll interval per live triggerer)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.deployment.harness import wait_for
from tests.distributed.fleet import (
    FLEET_DAG,
    FLEET_TASK,
    POLL_INTERVAL,
    Fleet,
    api_task_instances,
    calls,
    map_indexes_of_triggers,
    measure_calls,
    pace,
    start_fleet,
    ti_states,
    trigger_ids_of,
    wait_all_deferred,
)
from tests.distributed.harness import DistributedDeployment

pytestmark = pytest.mark.distributed

#: How many deferred tasks (CDATA_SYNC_FLEET_SIZE overrides it for trying things out; the suite uses 500).
FLEET_SIZE = int(os.environ.get("CDATA_SYNC_FLEET_SIZE", "500"))
#: Each call-rate window spans this many poll intervals.
WINDOW_INTERVALS = 8


@pytest.fixture
def both_triggerers(airflow: DistributedDeployment):
    """Whatever the test killed, two triggerers run again afterwards."""
    yield
    for name in ("triggerer-1", "triggerer-2"):
        if name not in airflow.stopped:
            continue
        if airflow.processes[name].poll() is None:
            airflow.thaw(name)  # frozen, not killed
        else:
            airflow.start_component(name)


@pytest.mark.timeout(5400)
def test_a_killed_triggerer_hands_500_waits_to_the_other(
    airflow: DistributedDeployment, artifacts: Path, both_triggerers
) -> None:
    figures: dict[str, object] = {"fleet_size": FLEET_SIZE}
    started = time.monotonic()
    cancels_before = count_cancels(airflow)
    # Up to an hour per run (30 rows, one per 2 min) until the pace is lifted below: 500 runs then write
    # at most 30 rows each, which the emulator absorbs (300 rows each kept it from answering for minutes).
    fleet = start_fleet(airflow, FLEET_SIZE, "Fleet", rows=30, seconds_per_row=120)
    try:
        # About 0.3-1 task/s defer on two cores (each task process parses the DAG, starts the run, pushes its
        # XComs and defers), so 500 take many minutes; the runs are paced to outlast that.
        figures["seconds_until_all_deferred"] = round(wait_all_deferred(airflow, fleet, timeout=2700), 1)

        # Spread over both triggerers, as the metadata database records it. Airflow does not balance them (a
        # triggerer takes whatever is unassigned when it looks), so the busier one is killed: most waits move.
        spread = airflow.triggers_per_triggerer()
        figures["triggers_per_triggerer_before_kill"] = spread
        assert spread.get("triggerer-1", 0) + spread.get("triggerer-2", 0) >= FLEET_SIZE, spread
        for name in ("triggerer-1", "triggerer-2"):
            assert spread.get(name, 0) >= FLEET_SIZE // 20, (
                f"triggers not spread over both triggerers: {spread}"
            )
        victim, survivor_name = sorted(("triggerer-1", "triggerer-2"), key=lambda name: -spread.get(name, 0))
        figures["killed"] = victim
        assert all(run["status"] == "Running" for run in fleet_runs(airflow, fleet)), "a run ended too early"

        before = measure_calls(airflow, WINDOW_INTERVALS * POLL_INTERVAL)
        figures["calls_before_kill"] = before.as_dict()

        moved = trigger_ids_of(airflow, fleet, victim)
        moved_map_indexes = map_indexes_of_triggers(airflow, fleet, moved)
        killed_at = time.monotonic()
        airflow.kill(victim)

        survivor = airflow.triggerer_jobs[survivor_name]

        def moved_over() -> bool:
            rows = airflow.sql(
                "SELECT count(*) FROM trigger WHERE id = ANY(%s) AND triggerer_id = %s",
                (list(moved), survivor),
            )
            return int(rows[0][0]) == len(moved)

        wait_for("the killed triggerer's triggers to move to the other", moved_over, timeout=180, interval=1)
        figures["seconds_until_triggers_moved"] = round(time.monotonic() - killed_at, 1)
        assert not trigger_ids_of(airflow, fleet, victim)
        # One poll interval for the moved triggers to start in the survivor, then the same window again.
        time.sleep(2 * POLL_INTERVAL)
        after = measure_calls(airflow, WINDOW_INTERVALS * POLL_INTERVAL)
        figures["calls_after_kill"] = after.as_dict()
        assert all(run["status"] == "Running" for run in fleet_runs(airflow, fleet)), "a run ended too early"

        # Coalescing per triggerer: one workspace list per tick each (ticks come every 0.9 interval), no
        # per-run lookups while nothing finishes; without it, every wait would poll: FLEET_SIZE per interval.
        assert before.list_calls_per_interval > 1.5, figures["calls_before_kill"]  # two pollers
        assert before.list_calls_per_interval < 2.5, figures["calls_before_kill"]
        assert after.list_calls_per_interval < 1.5, figures["calls_after_kill"]  # one poller
        assert after.list_calls_per_interval > 0.7, figures["calls_after_kill"]
        assert before.run_lookups_per_interval == 0 and after.run_lookups_per_interval == 0, figures
        # Nothing but the lists for the fleet's waits (the asset watcher example polls its own job besides).
        fleet_ids = fleet.jobs.values()
        assert before.fleet_calls_per_interval(fleet_ids) == before.list_calls_per_interval, figures
        assert after.fleet_calls_per_interval(fleet_ids) == after.list_calls_per_interval, figures

        # Let the runs finish: every task resumes through the surviving triggerer.
        pace(airflow, fleet, None)
        state = airflow.wait_run(FLEET_DAG, fleet.run_id, timeout=1500)
        figures["seconds_total"] = round(time.monotonic() - started, 1)
        assert state == "success", ti_states(airflow, fleet)

        tis = api_task_instances(airflow, FLEET_DAG, fleet.run_id, FLEET_TASK)
        assert len(tis) == FLEET_SIZE
        assert {ti["state"] for ti in tis} == {"success"}
        assert {ti["try_number"] for ti in tis} == {1}, "a task was retried"
        runs = fleet_runs(airflow, fleet)
        per_job = {job_id: [run for run in runs if run["job_id"] == job_id] for job_id in fleet.jobs.values()}
        duplicates = sum(max(len(job_runs) - 1, 0) for job_runs in per_job.values())
        lost = sum(1 for job_runs in per_job.values() if not job_runs)
        figures.update(
            remote_runs=len(runs),
            duplicate_runs=duplicates,
            lost_runs=lost,
            cancels=count_cancels(airflow) - cancels_before,
        )
        assert duplicates == 0 and lost == 0, figures
        assert {run["status"] for run in runs} == {"Success"}
        assert figures["cancels"] == 0, figures
        executes = fleet_executes(airflow, fleet)
        assert set(executes.values()) == {1} and len(executes) == FLEET_SIZE, executes

        # A moved task's log holds both triggerers' parts: the killed one's, then the survivor's that fired.
        killed_job = airflow.triggerer_jobs[victim]
        for index in moved_map_indexes[:3]:
            log = airflow.task_log(FLEET_DAG, fleet.run_id, FLEET_TASK, map_index=index)
            assert f".log.trigger.{killed_job}.log" in log, log[-2000:]
            assert f".log.trigger.{survivor}.log" in log, log[-2000:]
            assert fired_success(log) or fired_success_in_process_log(airflow, survivor_name, fleet, index), (
                log[-2000:]
            )
            assert "invoking on_kill" not in log, log[-2000:]
        assert f"{FLEET_SIZE} of {FLEET_SIZE} job runs succeeded" in airflow.task_log(
            FLEET_DAG, fleet.run_id, "count_successes"
        )
        figures["tasks_moved"] = len(moved)
    finally:
        pace(airflow, fleet, None)  # no run of this test outlives it
        record(artifacts, "triggerer_failover", figures)  # also what was measured before a failure


def fired_success(text: str) -> bool:
    """Whether the triggerer logged a success event for the trigger in ``text``."""
    return any("Trigger fired event" in line and "'status': 'success'" in line for line in text.splitlines())


def fired_success_in_process_log(
    airflow: DistributedDeployment, triggerer: str, fleet: Fleet, map_index: int
) -> bool:
    """Whether ``triggerer``'s own log holds the success event of the fleet task ``map_index``.

    Airflow's triggerer (3.3) writes a trigger's lines to the task's log file until the runner reports the
    trigger finished, then closes that file: a "Trigger fired event" line still on its way over the log socket
    when the finish message overtakes it is written to the triggerer's own log instead. Under a burst of 250
    triggers firing at once, that happens (seen in CI), so the event is looked for in both places."""
    name = f"{FLEET_DAG}/{fleet.run_id}/{FLEET_TASK}/{map_index}/1 (ID "
    lines = airflow.process_log(triggerer).splitlines()
    return any(fired_success(line) and name in line for line in lines)


def fleet_runs(airflow: DistributedDeployment, fleet) -> list[dict]:
    ids = set(fleet.jobs.values())
    return [run for run in airflow.emulator.runs() if run.get("job_id") in ids]


def count_cancels(airflow: DistributedDeployment) -> int:
    return sum(
        n for path, n in calls(airflow).items() if path.startswith("POST ") and path.endswith("/cancel")
    )


def fleet_executes(airflow: DistributedDeployment, fleet) -> dict[str, int]:
    """``POST .../jobs/<id>/execute`` calls per fleet job."""
    found = calls(airflow)
    counts = {}
    for job_id in fleet.jobs.values():
        paths = [
            path for path in found if path.startswith("POST ") and path.endswith(f"/jobs/{job_id}/execute")
        ]
        counts[job_id] = sum(found[path] for path in paths)
    return counts


def record(artifacts: Path, name: str, figures: dict) -> None:
    """Keep the figures measured (artifacts/distributed/figures-<name>.json) and print them."""
    text = json.dumps(figures, indent=2, sort_keys=True, default=str)
    (artifacts / f"figures-{name}.json").write_text(text + "\n")
    print(f"\n{name}: {text}")


@pytest.mark.timeout(1800)
def test_a_triggerer_that_lagged_and_came_back_cancels_nothing(
    airflow: DistributedDeployment, artifacts: Path, both_triggerers
) -> None:
    size = 20
    cancels_before = count_cancels(airflow)
    fleet = start_fleet(airflow, size, "Lagging")
    try:
        wait_all_deferred(airflow, fleet, timeout=900)
        spread = airflow.triggers_per_triggerer()
        laggard, other = sorted(("triggerer-1", "triggerer-2"), key=lambda name: -spread.get(name, 0))
        lost = trigger_ids_of(airflow, fleet, laggard)
        time.sleep(2 * POLL_INTERVAL)  # its triggers run (on_kill applies only to running triggers)

        airflow.freeze(laggard)  # a stalled host: no heartbeat for longer than the health threshold
        frozen_at = time.monotonic()

        def handed_over() -> bool:
            return lost <= trigger_ids_of(airflow, fleet, other)

        wait_for("the lagging triggerer's triggers to move", handed_over, timeout=300, interval=2)
        airflow.thaw(laggard)
        figures: dict[str, object] = {
            "triggers_handed_over": len(lost),
            "seconds_frozen": round(time.monotonic() - frozen_at, 1),
        }
        time.sleep(4 * POLL_INTERVAL)  # the laggard notices it lost them
        pace(airflow, fleet, None)
        state = airflow.wait_run(FLEET_DAG, fleet.run_id, timeout=300)
        figures.update(dag_run=state, cancels=count_cancels(airflow) - cancels_before)
        record(artifacts, "lagging_triggerer", figures)
        assert figures["cancels"] == 0, figures
        assert state == "success", figures
    finally:
        pace(airflow, fleet, None)
