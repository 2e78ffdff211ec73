"""Runs: replication into real SQLite/CSV files, settings, failures, cancel, restart, pipelines, schedule."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import httpx
from cdata_sync_emulator import CDataSyncEmulator
from cdata_sync_emulator.testing import SmallJob, count_rows, make_source_db, seed_small_job

from .helpers import run_job, wait_run, wait_status


def test_replication_copies_rows(api: httpx.Client, small_job: SmallJob) -> None:
    run = run_job(api, small_job.job_id)
    assert run["status"] == "Success" and run["error"] is None
    assert run["records_affected"] == 40 and run["trigger"] == "api"
    assert [t["status"] for t in run["tasks"]] == ["Success", "Success"]
    assert [t["records_affected"] for t in run["tasks"]] == [20, 20]
    assert run["start_time"].endswith("+00:00") and run["runtime_ms"] >= 0
    conn = sqlite3.connect(small_job.destination_db)
    assert conn.execute("SELECT name, amount FROM accounts WHERE id = 3").fetchone() == ("accounts-3", 4.5)
    # re-running upserts by primary key: no duplicates
    assert run_job(api, small_job.job_id)["status"] == "Success"
    assert count_rows(small_job.destination_db, "accounts") == 20
    history = api.get(f"/jobs/{small_job.job_id}/history").json()["value"]
    assert [h["id"] for h in history] == sorted((h["id"] for h in history), key=int)  # oldest first
    status = api.get(f"/jobs/{small_job.job_id}/status").json()
    assert (
        status["status"] == "Idle"
        and status["history_id"] is None
        and status["last_history_id"] == history[-1]["id"]
    )
    last = api.get(f"/jobs/{small_job.job_id}/tasks/last-run").json()["value"]
    assert [t["history_id"] for t in last] == [history[-1]["id"]] * 2
    task_history = api.get(f"/jobs/{small_job.job_id}/tasks/{small_job.task_ids[0]}/history").json()["value"]
    assert len(task_history) == 2 and task_history[0]["records_affected"] == 20


def test_execute_selected_tasks_and_where(api: httpx.Client, small_job: SmallJob) -> None:
    task = api.post(
        f"/jobs/{small_job.job_id}/tasks",
        json={"query": "REPLICATE [big] SELECT id, name FROM [accounts] WHERE amount > 15"},
    ).json()
    run = run_job(api, small_job.job_id, {"tasks": [task["id"]]})
    assert [t["task_id"] for t in run["tasks"]] == [task["id"]]
    assert count_rows(small_job.destination_db, "big") == 10
    assert count_rows(small_job.destination_db, "accounts") == 0
    assert api.post(f"/jobs/{small_job.job_id}/execute", json={"tasks": ["123"]}).status_code == 400


def test_truncate_drop_prefix_schema_alter(api: httpx.Client, emulator: CDataSyncEmulator) -> None:
    pair = seed_small_job(emulator, tables={"accounts": 10})
    dest = sqlite3.connect(pair.destination_db)
    dest.execute("CREATE TABLE accounts (id INTEGER, extra TEXT)")
    dest.execute("INSERT INTO accounts VALUES (999, 'old')")
    dest.commit()
    api.put(f"/jobs/{pair.job_id}", json={"alter_schema": False})
    run = run_job(api, pair.job_id)
    assert run["status"] == "Failed" and "alter_schema" in run["tasks"][0]["error"]
    api.put(f"/jobs/{pair.job_id}", json={"alter_schema": True, "truncate_table_data": True})
    assert run_job(api, pair.job_id)["status"] == "Success"
    columns = [r[1] for r in dest.execute("PRAGMA table_info(accounts)")]
    assert columns == ["id", "extra", "name", "amount"]
    assert dest.execute("SELECT count(*) FROM accounts").fetchone()[0] == 10  # truncated: 999 gone
    api.put(f"/jobs/{pair.job_id}", json={"drop_table": True, "truncate_table_data": False})
    run_job(api, pair.job_id)
    assert [r[1] for r in dest.execute("PRAGMA table_info(accounts)")] == ["id", "name", "amount"]
    api.put(f"/jobs/{pair.job_id}", json={"table_name_prefix": "stg_", "destination_schema": "raw"})
    run_job(api, pair.job_id)
    assert count_rows(pair.destination_db, "raw_stg_accounts") == 10


def test_failing_task_stops_or_continues(api: httpx.Client, emulator: CDataSyncEmulator) -> None:
    pair = seed_small_job(
        emulator, tables={"a": 5}, extra_queries=["REPLICATE [missing]", "REPLICATE [a2] SELECT * FROM [a]"]
    )
    run = run_job(api, pair.job_id)
    assert run["status"] == "Failed"
    assert [t["status"] for t in run["tasks"]] == ["Success", "Failed", "Skipped"]
    assert "no such table: missing" in run["tasks"][1]["error"] and "[missing]" in run["error"]
    api.put(f"/jobs/{pair.job_id}", json={"continue_on_error": True})
    run = run_job(api, pair.job_id)
    assert run["status"] == "Failed" and [t["status"] for t in run["tasks"]] == [
        "Success",
        "Failed",
        "Success",
    ]
    assert count_rows(pair.destination_db, "a2") == 5


def test_parallel_tasks(api: httpx.Client, emulator: CDataSyncEmulator) -> None:
    tables = {f"t{i}": 30 for i in range(4)}
    pair = seed_small_job(
        emulator, tables=tables, job_settings={"enable_parallel_processing": True, "worker_pool": 4}
    )
    run = run_job(api, pair.job_id)
    assert run["status"] == "Success" and run["records_affected"] == 120
    assert all(count_rows(pair.destination_db, t) == 30 for t in tables)


def test_cancel_and_409_while_running(
    api: httpx.Client, emulator: CDataSyncEmulator, small_job: SmallJob
) -> None:
    api.put(f"/jobs/{small_job.job_id}", json={"batch_size": 5})
    emulator.set_speed(rows_per_second=20)
    run = api.post(f"/jobs/{small_job.job_id}/execute").json()
    assert run["status"] in ("Queued", "Running")
    wait_status(api, "job", small_job.job_id, "Running")
    again = api.post(f"/jobs/{small_job.job_id}/execute")
    assert again.status_code == 409 and again.json()["error"]["code"] == "Conflict"
    assert api.put(f"/jobs/{small_job.job_id}", json={"name": "x"}).status_code == 409
    assert api.delete(f"/jobs/{small_job.job_id}").status_code == 409
    assert api.delete(f"/jobs/{small_job.job_id}/tasks/{small_job.task_ids[0]}").status_code == 409
    assert api.delete(f"/connections/{small_job.source_id}").status_code == 409
    assert api.put(f"/connections/{small_job.destination_id}", json={"name": "y"}).status_code == 409
    jobs = api.get("/workspaces/default/jobs").json()["value"]
    assert next(j for j in jobs if j["id"] == small_job.job_id)["status"] == "Running"
    assert api.post(f"/jobs/{small_job.job_id}/cancel").status_code == 200
    final = wait_run(api, "job", small_job.job_id, run["id"])
    assert final["status"] == "Cancelled"
    assert final["tasks"][0]["status"] == "Cancelled" and final["tasks"][1]["status"] == "Cancelled"
    assert final["tasks"][0]["records_affected"] < 20
    assert api.post(f"/jobs/{small_job.job_id}/cancel").status_code == 409


def test_min_run_seconds(api: httpx.Client, emulator: CDataSyncEmulator, small_job: SmallJob) -> None:
    resp = httpx.post(f"{emulator.base_url}/_emulator/config", json={"min_run_seconds": 0.5})
    assert resp.json()["min_run_seconds"] == 0.5
    run = run_job(api, small_job.job_id)
    assert run["runtime_ms"] >= 450


def test_restart_keeps_state_and_fails_interrupted_run(tmp_path) -> None:
    with CDataSyncEmulator(tmp_path, "tk", scheduler=False) as server:
        pair = seed_small_job(server, rows=20, job_settings={"batch_size": 2})
        api = httpx.Client(base_url=f"{server.api_url}/v2", headers=server.headers)
        done = run_job(api, pair.job_id)
        server.set_speed(rows_per_second=5)
        running = api.post(f"/jobs/{pair.job_id}/execute").json()
        wait_status(api, "job", pair.job_id, "Running")
        server.restart()
        history = api.get(f"/jobs/{pair.job_id}/history").json()["value"]
        assert [h["id"] for h in history] == [done["id"], running["id"]]
        assert history[0]["status"] == "Success"
        assert history[1]["status"] == "Failed"
        assert history[1]["error"] == "Run interrupted: the CData Sync emulator restarted"
        assert api.get(f"/jobs/{pair.job_id}/status").json()["status"] == "Idle"
        assert len(api.get(f"/jobs/{pair.job_id}/tasks").json()["value"]) == 2
        api.close()


def test_logs_listed_under_both_connections(api: httpx.Client, small_job: SmallJob) -> None:
    run = run_job(api, small_job.job_id)
    for conn in (small_job.source_id, small_job.destination_id):
        logs = api.get(f"/connections/{conn}/logs").json()["value"]
        assert [entry["name"] for entry in logs] == [run["log_file"]] and logs[0]["size"] > 0
    text = api.post(f"/connections/{small_job.source_id}/logs/{run['log_file']}/download")
    assert text.headers["content-type"].startswith("text/plain")
    assert (
        "[INFO] [Job SmallJob] [accounts] Replicating table [accounts]: read 20 rows, wrote 20 rows (batch 1)"
        in text.text
    )
    assert "finished with status Success" in text.text


def test_csv_connector(api: httpx.Client, emulator: CDataSyncEmulator, tmp_path) -> None:
    folder = tmp_path / "csv_in"
    folder.mkdir()
    (folder / "people.csv").write_text("id,name,age\n1,Ann,30\n2,Bob,\n3,Cy,41\n")
    src = api.post(
        "/workspaces/default/connections",
        json={"name": "C", "connector": "CSV", "properties": {"Folder": str(folder)}},
    ).json()
    out = api.post(
        "/workspaces/default/connections",
        json={"name": "O", "connector": "CSV", "properties": {"Folder": "csv_out"}},
    ).json()
    assert api.post(f"/connections/{src['id']}/tables").json()["value"][0]["name"] == "people"
    cols = api.get(f"/connections/{src['id']}/tables/people/columns").json()["value"]
    assert [(c["name"], c["data_type"]) for c in cols] == [
        ("id", "INTEGER"),
        ("name", "TEXT"),
        ("age", "INTEGER"),
    ]
    job = api.post(
        "/workspaces/default/jobs",
        json={
            "name": "CsvJob",
            "source_connection_id": src["id"],
            "destination_connection_id": out["id"],
            "queries": ["REPLICATE [adults] SELECT id, name FROM [people] WHERE age >= 30"],
        },
    ).json()
    assert run_job(api, job["id"])["status"] == "Success"
    written = (emulator.data_dir.resolve() / "csv_out" / "adults.csv").read_text().splitlines()
    assert written == ["id,name", "1,Ann", "3,Cy"]


def test_transformation_and_pipeline_runs(api: httpx.Client, small_job: SmallJob) -> None:
    sql = "DROP TABLE IF EXISTS total; CREATE TABLE total AS SELECT count(*) AS n FROM accounts"
    tr = api.post(
        "/workspaces/default/transformations",
        json={"name": "Tot", "connection_id": small_job.destination_id, "queries": [sql]},
    ).json()
    pipeline = api.post(
        "/workspaces/default/pipelines",
        json={
            "name": "Pipe",
            "steps": [{"job_id": small_job.job_id}, {"type": "transformation", "target_id": tr["id"]}],
            "events": [
                {"name": "ok", "trigger": "on_success", "message": "all good"},
                {"name": "ko", "trigger": "on_failure", "message": "bad"},
            ],
        },
    ).json()
    started = api.post(f"/pipelines/{pipeline['id']}/execute")
    assert started.status_code == 202
    run = wait_run(api, "pipeline", pipeline["id"], started.json()["id"])
    assert run["status"] == "Success"
    assert [s["status"] for s in run["steps"]] == ["Success", "Success"]
    assert [e["name"] for e in run["events_fired"]] == ["ok"]
    job_run = api.get(f"/jobs/{small_job.job_id}/history/{run['steps'][0]['run_id']}").json()
    assert job_run["trigger"] == "pipeline" and job_run["pipeline_run_id"] == run["id"]
    tr_runs = api.get(f"/transformations/{tr['id']}/history").json()["value"]
    assert tr_runs[0]["transformation_id"] == tr["id"] and tr_runs[0]["status"] == "Success"
    assert sqlite3.connect(small_job.destination_db).execute("SELECT n FROM total").fetchone() == (20,)
    assert api.get(f"/pipelines/{pipeline['id']}/status").json()["last_history_id"] == run["id"]
    # a failing first step fails the pipeline and skips the next one
    api.post(f"/jobs/{small_job.job_id}/tasks", json={"query": "REPLICATE [nope]"})
    run = wait_run(
        api, "pipeline", pipeline["id"], api.post(f"/pipelines/{pipeline['id']}/execute").json()["id"]
    )
    assert run["status"] == "Failed" and [s["status"] for s in run["steps"]] == ["Failed", "Skipped"]
    assert [e["name"] for e in run["events_fired"]] == ["ko"]
    log = api.post(f"/connections/{small_job.destination_id}/logs/{run['log_file']}/download").text
    assert "Event 'ko' (on_failure) fired: bad" in log


def test_scheduler_starts_matching_runs(
    api: httpx.Client, emulator: CDataSyncEmulator, small_job: SmallJob
) -> None:
    api.put(f"/jobs/{small_job.job_id}", json={"schedule": {"enabled": True, "cron": "0,30 8-9 * * 1-5"}})
    engine = emulator._core().engine
    assert engine.run_schedules(datetime(2026, 11, 24, 8, 15, tzinfo=UTC)) == []
    started = engine.run_schedules(datetime(2026, 11, 24, 9, 30, tzinfo=UTC))  # a Tuesday
    assert len(started) == 1 and started[0]["trigger"] == "schedule"
    assert wait_run(api, "job", small_job.job_id, started[0]["id"])["status"] == "Success"
    assert engine.run_schedules(datetime(2026, 11, 29, 9, 30, tzinfo=UTC)) == []  # Sunday


def test_admin_state_and_runs(emulator: CDataSyncEmulator, api: httpx.Client, small_job: SmallJob) -> None:
    run = run_job(api, small_job.job_id)
    state = httpx.get(f"{emulator.base_url}/_emulator/state").json()
    assert state["runs"][0]["id"] == run["id"] and state["jobs"][0]["last_run_id"] == run["id"]
    assert emulator.runs(small_job.job_id)[0]["status"] == "Success"
    assert emulator.state()["active_runs"] == []
    assert emulator.wait_idle(1)


def test_console_pages(emulator: CDataSyncEmulator, api: httpx.Client, small_job: SmallJob) -> None:
    run = run_job(api, small_job.job_id)
    page = httpx.get(f"{emulator.base_url}/console/jobs/{small_job.job_id}")
    assert page.status_code == 200 and "SmallJob" in page.text and run["id"] in page.text
    detail = httpx.get(f"{emulator.base_url}/console/jobs/{small_job.job_id}/history/{run['id']}")
    assert detail.status_code == 200 and "Success" in detail.text
    assert httpx.get(f"{emulator.base_url}/console/jobs/nope").status_code == 404
    assert httpx.get(f"{emulator.base_url}/", follow_redirects=True).status_code == 200


def test_make_source_db_helper(tmp_path) -> None:
    make_source_db(tmp_path / "x.db", {"a": 3})
    assert count_rows(tmp_path / "x.db", "a") == 3
