"""API v2: auth, error shapes and the CRUD endpoints, with plain httpx calls."""

from __future__ import annotations

import base64
import re

import httpx
from cdata_sync_emulator import CDataSyncEmulator
from cdata_sync_emulator.testing import SmallJob

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_auth_header_basic_and_missing(emulator: CDataSyncEmulator) -> None:
    url = f"{emulator.api_url}/v2/workspaces"
    assert httpx.get(url, headers=emulator.headers).status_code == 200
    assert httpx.get(url, auth=("anyone", emulator.token)).status_code == 200
    missing = httpx.get(url)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "Unauthorized"
    assert "token" in missing.json()["error"]["message"]
    assert httpx.get(url, headers={"x-cdata-authtoken": "wrong"}).status_code == 401
    # the URL token is refused unless allowed
    assert httpx.get(url, params={"@authtoken": emulator.token}).status_code == 401


def test_url_token_when_allowed(tmp_path) -> None:
    with CDataSyncEmulator(tmp_path, "tk", allow_url_token=True, scheduler=False) as server:
        assert httpx.get(f"{server.api_url}/v2/workspaces", params={"@authtoken": "tk"}).status_code == 200


def test_context_path(tmp_path) -> None:
    with CDataSyncEmulator(tmp_path, "tk", context_path="/sync", scheduler=False) as server:
        assert server.base_url.endswith("/sync")
        response = httpx.get(f"{server.api_url}/v2/workspaces", headers=server.headers)
        assert response.status_code == 200
        assert response.json()["value"][0]["id"] == "default"
        root = f"{server.base_url.removesuffix('/sync')}/api.rsc/v2/workspaces"
        assert httpx.get(root, headers=server.headers).status_code == 404


def test_generated_user_token_is_valid(api: httpx.Client, emulator: CDataSyncEmulator) -> None:
    user = api.post("/users", json={"Name": "robot", "Role": "Admin"})
    assert user.status_code == 201 and UUID.match(user.json()["id"])
    assert api.post("/users/generate-token", json={}).status_code == 400
    token = api.post("/users/generate-token", json={"user": "robot"}).json()["token"]
    url = f"{emulator.api_url}/v2/workspaces"
    assert httpx.get(url, headers={"x-cdata-authtoken": token}).status_code == 200
    basic = base64.b64encode(f"x:{token}".encode()).decode()
    assert httpx.get(url, headers={"Authorization": f"Basic {basic}"}).status_code == 200
    assert api.get(f"/users/{user.json()['id']}").json()["name"] == "robot"
    assert api.put(f"/users/{user.json()['id']}", json={"active": False}).json()["active"] is False
    assert httpx.get(url, headers={"x-cdata-authtoken": token}).status_code == 401
    assert api.delete("/users/robot").status_code == 204
    assert api.get("/users/robot").status_code == 404


def test_workspaces(api: httpx.Client) -> None:
    created = api.post("/workspaces", json={"Name": "Team"})
    assert created.status_code == 201
    ws = created.json()["id"]
    assert UUID.match(ws)
    assert api.put(f"/workspaces/{ws}", json={"name": "Team2"}).json()["name"] == "Team2"
    assert {w["id"] for w in api.get("/workspaces").json()["value"]} == {"default", ws}
    assert api.delete(f"/workspaces/{ws}").status_code == 204
    missing = api.get(f"/workspaces/{ws}")
    assert missing.status_code == 404 and ws in missing.json()["error"]["message"]


def test_connections_crud_merge_and_errors(api: httpx.Client, emulator: CDataSyncEmulator) -> None:
    bad = api.post("/workspaces/default/connections", json={"connector": "SQLite"})
    assert bad.status_code == 400 and "name" in bad.json()["error"]["message"]
    body = {"Name": "Src", "Connector": "SQLite", "Properties": {"Database": "src.db", "Password": "x"}}
    conn = api.post("/workspaces/default/connections", json=body).json()
    assert conn["properties"]["Password"] == "********"
    updated = api.put(
        f"/connections/{conn['id']}", json={"settings": {"Logfile_Verbosity": "Verbose"}}
    ).json()
    assert updated["properties"]["Database"] == "src.db"  # merged, not replaced
    updated = api.put(f"/connections/{conn['id']}", json={"properties": {"Timeout": "5"}}).json()
    assert updated["properties"]["Database"] == "src.db" and updated["properties"]["Timeout"] == "5"
    assert updated["settings"]["logfile_verbosity"] == "Verbose"
    failed = api.post(f"/connections/{conn['id']}/test")
    assert failed.status_code == 400 and "not found" in failed.json()["error"]["message"]
    import sqlite3

    sqlite3.connect(emulator.data_dir.resolve() / "src.db").executescript(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL); CREATE VIEW v AS SELECT * FROM t"
    )
    assert api.post(f"/connections/{conn['id']}/test").json()["success"] is True
    tables = api.post(f"/connections/{conn['id']}/tables").json()["value"]
    assert {t["name"] for t in tables} == {"t", "v"}
    only_views = api.get(f"/connections/{conn['id']}/tables", params={"include_table_types": "VIEW"}).json()
    assert [t["name"] for t in only_views["value"]] == ["v"]
    columns = api.get(f"/connections/{conn['id']}/tables/t/columns").json()["value"]
    assert columns[0] == {"name": "id", "data_type": "INTEGER", "is_nullable": False, "is_key": True}
    assert columns[1]["is_nullable"] is False
    assert api.get(f"/connections/{conn['id']}/tables/nope/columns").status_code == 404
    assert api.post(f"/connections/{conn['id']}/reset-metadata").status_code == 200
    assert api.post(f"/connections/{conn['id']}/reset-credentials").status_code == 200
    assert "Password" not in api.get(f"/connections/{conn['id']}").json()["properties"]
    assert api.get(f"/connections/{conn['id']}/logs").json() == {"value": []}
    assert api.post(f"/connections/{conn['id']}/logs/none.log/download").status_code == 404
    assert api.delete(f"/connections/{conn['id']}").status_code == 204
    assert api.get(f"/connections/{conn['id']}").status_code == 404


def test_jobs_crud_and_405(api: httpx.Client, small_job: SmallJob) -> None:
    jobs = api.get("/workspaces/default/jobs").json()["value"]
    job = next(j for j in jobs if j["id"] == small_job.job_id)
    assert job["source_connection"] == {"id": small_job.source_id, "name": "SmallJobSource"}
    assert job["status"] == "Idle" and job["last_run_id"] is None
    assert (
        job["batch_size"] == 1000
        and job["alter_schema"] is True
        and job["schedule"] == {"enabled": False, "cron": ""}
    )
    not_allowed = api.get(f"/jobs/{small_job.job_id}")
    assert not_allowed.status_code == 405
    assert not_allowed.json()["error"]["code"] == "MethodNotAllowed"
    body = {
        "Name": "Renamed",
        "EmailErrorOnly": True,
        "Worker_Pool": "3",
        "Use_GMT_DateTime": True,
        "schedule": {"Enabled": True, "Cron": "*/10 * * * *"},
    }
    updated = api.put(f"/jobs/{small_job.job_id}", json=body).json()
    assert (
        updated["name"] == "Renamed" and updated["email_error_only"] is True and updated["worker_pool"] == 3
    )
    assert updated["use_gmt_datetime"] is True and updated["schedule"] == {
        "enabled": True,
        "cron": "*/10 * * * *",
    }
    bad = api.put(f"/jobs/{small_job.job_id}", json={"batch_size": "many"})
    assert bad.status_code == 400 and "batch_size" in bad.json()["error"]["message"]
    bad_cron = api.put(f"/jobs/{small_job.job_id}", json={"schedule": {"enabled": True, "cron": "nope"}})
    assert bad_cron.status_code == 400 and "schedule.cron" in bad_cron.json()["error"]["message"]
    missing = api.put("/jobs/00000000-0000-0000-0000-000000000000", json={"name": "x"})
    assert missing.status_code == 404 and "Job" in missing.json()["error"]["message"]
    assert api.delete(f"/jobs/{small_job.job_id}").status_code == 204
    assert api.get(f"/jobs/{small_job.job_id}/tasks").status_code == 404


def test_create_job_spellings(api: httpx.Client, small_job: SmallJob) -> None:
    body = {
        "Name": "Spelled",
        "Type": "standard",
        "Source-Connection": {"Id": small_job.source_id, "Name": "SmallJobSource"},
        "Destination-Connection": {"name": "SmallJobDest"},
        "Truncate_Table_Data": "true",
        "Queries": ["REPLICATE [accounts]", "REPLICATE [x] SELECT id FROM [contacts]"],
    }
    job = api.post("/workspaces/default/jobs", json=body)
    assert job.status_code == 201, job.text
    data = job.json()
    assert data["type"] == "Standard" and data["truncate_table_data"] is True
    assert data["destination_connection"]["id"] == small_job.destination_id
    tasks = api.get(f"/jobs/{data['id']}/tasks").json()["value"]
    assert [t["table"] for t in tasks] == ["accounts", "x"]
    assert [t["index"] for t in tasks] == [0, 1]
    assert all(t["id"].isdigit() and len(t["id"]) >= 15 for t in tasks)
    bad = api.post(
        "/workspaces/default/jobs",
        json={"name": "NoSrc", "destination_connection_id": small_job.destination_id},
    )
    assert bad.status_code == 400 and "source_connection" in bad.json()["error"]["message"]
    dup = api.post("/workspaces/default/jobs", json=body)
    assert dup.status_code == 409


def test_tasks_crud_and_move(api: httpx.Client, small_job: SmallJob) -> None:
    base = f"/jobs/{small_job.job_id}/tasks"
    added = api.post(base, json={"Query": "REPLICATE [third] SELECT * FROM [accounts]", "Is_Active": False})
    assert added.status_code == 201
    task = added.json()
    assert task == {**task, "job_id": small_job.job_id, "is_active": False, "index": 2, "table": "third"}
    assert api.post(base, json={"is_active": True}).status_code == 400
    bad_query = api.post(base, json={"query": "DELETE FROM x"})
    assert bad_query.status_code == 400 and "query" in bad_query.json()["error"]["message"]
    moved = api.post(f"{base}/{task['id']}/move", json={"from_index": 2, "to_index": 0}).json()
    assert moved["index"] == 0
    assert api.get(base).json()["value"][0]["id"] == task["id"]
    assert api.post(f"{base}/{task['id']}/move", json={"from_index": 1, "to_index": 0}).status_code == 400
    updated = api.put(f"{base}/{task['id']}", json={"query": "REPLICATE [fourth]", "is_active": True}).json()
    assert updated["table"] == "fourth" and updated["is_active"] is True
    assert api.get(f"{base}/{task['id']}").json()["query"] == "REPLICATE [fourth]"
    assert api.delete(f"{base}/{task['id']}").status_code == 204
    assert api.get(f"{base}/{task['id']}").status_code == 404
    assert [t["index"] for t in api.get(base).json()["value"]] == [0, 1]


def test_paging(api: httpx.Client, small_job: SmallJob) -> None:
    for number in range(5):
        api.post(f"/jobs/{small_job.job_id}/tasks", json={"query": f"REPLICATE [t{number}]"})
    page = api.get(f"/jobs/{small_job.job_id}/tasks", params={"page_size": 3}).json()
    assert len(page["value"]) == 3
    seen = [t["id"] for t in page["value"]]
    while "@odata.nextLink" in page:
        page = httpx.get(page["@odata.nextLink"], headers=api.headers).json()
        seen += [t["id"] for t in page["value"]]
    assert len(seen) == 7 == len(set(seen))


def test_transformations_crud(api: httpx.Client, small_job: SmallJob) -> None:
    created = api.post(
        "/workspaces/default/transformations",
        json={"name": "T1", "connection": {"id": small_job.destination_id}, "queries": ["SELECT 1"]},
    )
    assert created.status_code == 201, created.text
    tid = created.json()["id"]
    assert api.get(f"/transformations/{tid}").json()["connection_id"] == small_job.destination_id
    assert api.put(f"/transformations/{tid}", json={"name": "T2"}).json()["name"] == "T2"
    task = api.post(
        f"/transformations/{tid}/tasks", json={"query": "CREATE TABLE x AS SELECT 1 AS one"}
    ).json()
    assert task["transformation_id"] == tid and task["table"] == "x" and task["index"] == 1
    assert (
        api.post(f"/transformations/{tid}/tasks/{task['id']}/move", json={"to_index": 0}).json()["index"] == 0
    )
    assert api.delete(f"/transformations/{tid}").status_code == 204
    assert api.get(f"/transformations/{tid}").status_code == 404


def test_pipelines_steps_events(api: httpx.Client, small_job: SmallJob) -> None:
    created = api.post("/workspaces/default/pipelines", json={"name": "P", "labels": ["a"]})
    assert created.status_code == 201
    pid = created.json()["id"]
    assert api.get(f"/pipelines/{pid}").json()["labels"] == ["a"]
    step = api.post(f"/pipelines/{pid}/steps", json={"job_id": small_job.job_id}).json()
    assert step == {**step, "type": "job", "target_id": small_job.job_id, "index": 0}
    bad = api.post(f"/pipelines/{pid}/steps", json={"type": "job", "target_id": "nope"})
    assert bad.status_code == 400 and "target_id" in bad.json()["error"]["message"]
    assert api.get(f"/pipelines/{pid}/steps/{step['id']}").status_code == 405
    event = api.post(f"/pipelines/{pid}/events", json={"name": "E", "Trigger": "OnSuccess", "message": "hi"})
    assert event.status_code == 201 and event.json()["trigger"] == "on_success"
    eid = event.json()["id"]
    assert (
        api.put(f"/pipelines/{pid}/events/{eid}", json={"trigger": "on_failure"}).json()["trigger"]
        == "on_failure"
    )
    assert api.get(f"/pipelines/{pid}/events/{eid}").json()["message"] == "hi"
    assert api.post(f"/pipelines/{pid}/events", json={"trigger": "sometimes"}).status_code == 400
    assert api.delete(f"/pipelines/{pid}/events/{eid}").status_code == 204
    assert api.get(f"/pipelines/{pid}/events").json() == {"value": []}
    # pipeline_only keeps the job
    assert api.delete(f"/pipelines/{pid}", params={"pipeline_only": "true"}).status_code == 204
    assert api.get(f"/jobs/{small_job.job_id}/tasks").status_code == 200


def test_delete_pipeline_deletes_its_jobs(api: httpx.Client, small_job: SmallJob) -> None:
    pid = api.post(
        "/workspaces/default/pipelines", json={"name": "P", "steps": [{"job_id": small_job.job_id}]}
    ).json()["id"]
    assert api.delete(f"/pipelines/{pid}").status_code == 204
    assert api.get(f"/jobs/{small_job.job_id}/tasks").status_code == 404


def test_bad_json_and_unknown_path(api: httpx.Client) -> None:
    response = api.post("/workspaces", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "BadRequest"
    assert api.get("/nothing/here").status_code == 404
    assert api.delete("/workspaces").status_code == 405
