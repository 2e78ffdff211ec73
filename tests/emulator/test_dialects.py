"""The CData Sync emulator's dialects: one engine, three shapes (plain httpx, no provider client)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cdata_sync_emulator import CDataSyncEmulator
from cdata_sync_emulator.dialects import DIALECTS, V1_HISTORY_BASE, V1_JOB_NUMBER_START
from cdata_sync_emulator.pytest_plugin import DIALECT_NAMES
from cdata_sync_emulator.testing import SmallJob, count_rows, running_emulator, seed_small_job

TOKEN = "t0ken"
FLOAT_EXACT_LIMIT = 2**53  # above this a double cannot hold every integer


def keys_of(value: Any) -> set[str]:
    """Every key of every object in a JSON value, except inside connection property bags."""
    if isinstance(value, list):
        return set().union(*(keys_of(v) for v in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    found = set(value)
    for key, item in value.items():
        if key.lower() not in ("properties", "settings"):
            found |= keys_of(item)
    return found


def wait_until(condition: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def pascal(tmp_path: Path) -> Iterator[CDataSyncEmulator]:
    with running_emulator(tmp_path / "data", TOKEN, dialect="pascal") as server:
        yield server


@pytest.fixture
def real(tmp_path: Path) -> Iterator[CDataSyncEmulator]:
    with running_emulator(tmp_path / "data", TOKEN, dialect="v1-real") as server:
        yield server


def v2(server: CDataSyncEmulator) -> httpx.Client:
    return httpx.Client(base_url=f"{server.api_url}/v2", headers=server.headers, timeout=10)


def v1(server: CDataSyncEmulator) -> httpx.Client:
    return httpx.Client(base_url=server.api_url, headers=server.headers, timeout=10)


def broken_job(server: CDataSyncEmulator) -> SmallJob:
    """A job whose second task reads a table that does not exist."""
    return seed_small_job(
        server, tables={"accounts": 5}, name="Broken", extra_queries=["REPLICATE [missing]"]
    )


# ----- choosing a dialect -------------------------------------------------------------------------------
def test_dialects_are_named_the_same_everywhere(tmp_path: Path) -> None:
    assert tuple(DIALECTS) == DIALECT_NAMES == ("default", "pascal", "v1-real")
    with pytest.raises(ValueError, match="default, pascal, v1-real"):
        CDataSyncEmulator(tmp_path, dialect="PascalCase")
    with pytest.raises(ValueError, match="http://host:port"):
        CDataSyncEmulator(tmp_path, link_base="proxy:9")
    assert CDataSyncEmulator(tmp_path, dialect="V1_Real").dialect.name == "v1-real"


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_every_dialect_runs_the_same_engine(tmp_path: Path, dialect: str) -> None:
    """The dialect only reshapes answers: the same job moves the same rows in every dialect."""
    with running_emulator(tmp_path / "data", TOKEN, dialect=dialect) as server:
        job = seed_small_job(server, rows=7)
        with v2(server) as api:
            assert api.post(f"/jobs/{job.job_id}/execute").status_code == 202
        assert server.wait_idle(20)
        (run,) = server.runs(job.job_id)
        assert run["status"] == "Success" and run["records_affected"] == 14
        assert count_rows(job.destination_db, "accounts") == count_rows(job.destination_db, "contacts") == 7


# ----- pascal (v2) --------------------------------------------------------------------------------------
def test_pascal_answers_in_pascal_case_paged_by_two(pascal: CDataSyncEmulator) -> None:
    job = seed_small_job(pascal, rows=3)
    with v2(pascal) as api:
        for name in ("W1", "W2", "W3"):
            assert api.post("/workspaces", json={"name": name}).status_code == 201
        page = api.get("/workspaces").json()
        assert set(page) == {"value", "@odata.nextLink"} and len(page["value"]) == 2
        assert set(page["value"][0]) == {"Id", "Name", "CreatedTime"}
        names = [w["Name"] for w in page["value"]]
        while "@odata.nextLink" in page:
            page = httpx.get(page["@odata.nextLink"], headers=pascal.headers).json()
            names += [w["Name"] for w in page["value"]]
        assert names == ["Default", "W1", "W2", "W3"]
        jobs = api.get("/workspaces/default/jobs").json()["value"]
        assert jobs[0]["SourceConnection"] == {"Id": job.source_id, "Name": "SmallJobSource"}
        assert jobs[0]["WorkerPool"] == 4 and "worker_pool" not in keys_of(jobs)
        connection = api.get(f"/connections/{job.source_id}").json()
        assert connection["Properties"] == {"Database": str(job.source_db)}  # a bag keeps its keys
        assert page.get("@odata.nextLink") is None
        assert api.get("/workspaces", params={"page_size": 10}).json().keys() == {"value"}


def test_pascal_execute_has_no_run_id_and_history_is_oldest_first(pascal: CDataSyncEmulator) -> None:
    job = seed_small_job(pascal, rows=3)
    with v2(pascal) as api:
        for _ in range(3):
            answer = api.post(f"/jobs/{job.job_id}/execute")
            assert answer.status_code == 202, answer.text
            started = answer.json()
            assert "Id" not in started and "LogFile" not in started and started["JobId"] == job.job_id
            assert started["Status"] in ("Queued", "In progress")
            assert pascal.wait_idle(20)
        status = api.get(f"/jobs/{job.job_id}/status").json()
        assert status["Status"] == "Idle" and status["LastStatus"] == "Successful"
        assert not {"HistoryId", "LastHistoryId"} & set(status)
        first = api.get(f"/jobs/{job.job_id}/history").json()
        assert len(first["value"]) == 2 and "@odata.nextLink" in first
        last = httpx.get(first["@odata.nextLink"], headers=pascal.headers).json()
        ids = [r["Id"] for r in first["value"] + last["value"]]
        assert ids == sorted(ids, key=int) and len(ids) == 3  # oldest first: the newest is on the last page
        assert last["value"][-1]["Status"] == "Successful"
        assert {t["Status"] for t in last["value"][-1]["Tasks"]} == {"Successful"}


def test_pascal_running_and_failed_words_and_errors_only_in_details(pascal: CDataSyncEmulator) -> None:
    job = broken_job(pascal)
    pascal.set_speed(min_run_seconds=1.0)
    with v2(pascal) as api:
        api.post(f"/jobs/{job.job_id}/execute")
        running = wait_until(
            lambda: (s := api.get(f"/jobs/{job.job_id}/status").json())["Status"] == "In progress" and s
        )
        assert running["Status"] == "In progress"
        assert pascal.wait_idle(20)
        (record,) = api.get(f"/jobs/{job.job_id}/history").json()["value"]
        assert record["Status"] == "Failed"
        assert "no such table: missing" in record["Details"]
        failed = [t for t in record["Tasks"] if t["Status"] == "Failed"]
        assert len(failed) == 1 and "no such table: missing" in failed[0]["Details"]
        answers = [record, api.get(f"/jobs/{job.job_id}/status").json()]
        answers.append(api.get(f"/jobs/{job.job_id}/tasks/last-run").json())
        for answer in answers:
            assert not {"Error", "error"} & keys_of(answer), answer


def test_pascal_accepts_the_same_requests(pascal: CDataSyncEmulator) -> None:
    job = seed_small_job(pascal, rows=2)
    with v2(pascal) as api:
        created = api.post(
            "/workspaces/default/jobs",
            json={
                "Name": "Again",
                "Source-Connection": {"Id": job.source_id},
                "Destination-Connection": {"Name": "SmallJobDest"},
                "Worker_Pool": 2,
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["WorkerPool"] == 2
        missing = api.get("/connections/nope")
        assert (
            missing.status_code == 404 and missing.json()["error"]["code"] == "NotFound"
        )  # errors keep one shape


# ----- v1-real --------------------------------------------------------------------------------------------
def test_v1_real_history_refuses_filter_and_count(real: CDataSyncEmulator) -> None:
    job = seed_small_job(real, rows=2)
    with v1(real) as client:
        client.post("/executeJob", json={"JobName": "SmallJob", "WaitForResults": "true"})
        for params, path in (
            ({"$filter": "JobName eq 'SmallJob'"}, "/history"),
            ({"$count": "true"}, "/history"),
            ({}, "/history/$count"),
        ):
            refused = client.get(path, params=params)
            assert refused.status_code == 400, (path, params)
            assert set(refused.json()) == {"error"} and "history" in refused.json()["error"]["message"]
        rows = client.get("/history", params={"$orderby": "RunStartDate desc", "$top": 5, "$skip": 0}).json()
        assert [r["JobName"] for r in rows["value"]] == ["SmallJob"]
        # other entity sets still filter
        assert client.get("/jobs", params={"$filter": "JobName eq 'SmallJob'"}).json()["value"]
    assert job.job_id


def test_v1_real_ids_are_17_digit_json_numbers(real: CDataSyncEmulator) -> None:
    seed_small_job(real, rows=2)
    with v1(real) as client:
        raw = client.get("/jobs").text
        job_id = json.loads(raw)["value"][0]["JobId"]
        assert isinstance(job_id, int) and len(str(job_id)) == 17 and job_id > FLOAT_EXACT_LIMIT
        assert job_id == V1_JOB_NUMBER_START and f'"JobId":{job_id},' in raw  # a number, not a string
        assert int(float(job_id)) != job_id  # a client that reads numbers as doubles gets another id
        for ref in (job_id, str(job_id)):  # CData's client sends ids as strings
            ran = client.post("/executeJob", json={"JobId": ref, "WaitForResults": "true"})
            assert ran.status_code == 200 and ran.json()["value"][0]["Status"] == "SUCCESS"
        history = client.get("/history", params={"$orderby": "Id desc"}).json()["value"]
        assert [h["Id"] for h in history] == [V1_HISTORY_BASE + 2, V1_HISTORY_BASE + 1]
        assert all(len(str(h["Id"])) == 17 and h["JobId"] == job_id for h in history)
        assert client.get(f"/history({history[0]['Id']})").json()["Id"] == history[0]["Id"]
        assert client.get("/history(2)").status_code == 404  # the small run number is not an id here
        assert client.get(f"/jobs({job_id})").json()["JobName"] == "SmallJob"


def test_v1_real_history_records_have_the_real_fields_and_appear_when_the_run_ends(
    real: CDataSyncEmulator,
) -> None:
    job = broken_job(real)
    real.set_speed(min_run_seconds=1.5)
    with v1(real) as client:
        started = client.post("/executeJob", json={"JobName": "Broken", "WaitForResults": "false"})
        row = started.json()["value"][0]
        assert row["Status"] == "Running" and "HistoryId" not in row and isinstance(row["JobId"], int)
        time.sleep(0.3)
        assert real.runs(job.job_id)[0]["status"] in ("Queued", "Running")
        assert client.get("/history").json()["value"] == []  # a running run is not listed yet
        assert real.wait_idle(20)
        (record,) = client.get("/history").json()["value"]
    assert set(record) == {
        "Id",
        "JobId",
        "JobName",
        "RunStartDate",
        "Status",
        "Details",
        "Runtime",
        "RecordsAffected",
        "LogFile",
        "InstanceId",
    }
    assert record["Status"] == "Failed"
    assert (
        record["Details"].startswith("1 of 2 Tasks Failed") and "no such table: missing" in record["Details"]
    )


def test_v1_real_job_status_is_one_object_without_history_ids(real: CDataSyncEmulator) -> None:
    broken_job(real)
    real.set_speed(min_run_seconds=1.0)
    with v1(real) as client:
        client.post("/executeJob", json={"JobName": "Broken", "WaitForResults": "false"})
        running = client.post("/getJobStatus", json={"JobName": "Broken", "PushOnQuery": "true"})
        assert set(running.json()) == {"Status", "Queries", "JobId", "JobName"}
        assert running.json()["Status"] in ("Queued", "Running")
        assert real.wait_idle(20)
        answer = client.post("/getJobStatus", json={"JobName": "Broken", "PushOnQuery": "true"})
        status = answer.json()
        assert status["Status"] == "Failed" and status["JobName"] == "Broken"
        assert [q["Status"] for q in status["Queries"]] == ["SUCCESS", "FAILED"]
        assert "no such table: missing" in status["Queries"][1]["Detail"]
        assert "historyid" not in answer.text.lower() and "lastrunid" not in client.get("/jobs").text.lower()
        waited = client.post("/executeJob", json={"JobName": "Broken", "WaitForResults": "true"}).json()
        assert waited["@odata.context"].endswith("$metadata#Collection(CData.executeJobOutput)")
        assert [set(r) for r in waited["value"]] == [
            {"Result", "Status", "JobName", "RunStartDate", "Detail", "Query"}
        ] * 2
        assert waited["value"][0]["Detail"] == "Completed" and waited["value"][0]["Result"] is None
        assert "no such table: missing" in waited["value"][1]["Result"]
        assert (
            client.post("/cancelJob", json={"JobName": "Broken"}).json()["error"]["message"]
            == "Job not running"
        )
        assert (
            client.post("/cancelJob", json={"JobName": "Nope"}).json()["error"]["message"] == "Job not found"
        )


def test_v1_real_logs_come_as_text_only(real: CDataSyncEmulator) -> None:
    seed_small_job(real, rows=2)
    with v1(real) as client:
        client.post("/executeJob", json={"JobName": "SmallJob", "WaitForResults": "true"})
        job_id = client.get("/jobs").json()["value"][0]["JobId"]
        for action, body in (
            ("/getlogs", {"JobName": "SmallJob", "Days": "1"}),
            ("/getJobLog", {"JobId": job_id}),
        ):
            answer = client.post(action, json=body)
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
            assert "Replicating table [accounts]" in answer.text and "[Job SmallJob]" in answer.text
            with pytest.raises(ValueError):
                json.loads(answer.text)


def test_v1_real_workspaces_by_query_and_body(real: CDataSyncEmulator) -> None:
    with v1(real) as client:
        created = client.post("/workspaces", json={"Name": "Sales"})
        assert created.status_code == 201
        ws = created.json()["Id"]
        assert {w["Name"] for w in client.get("/workspaces").json()["value"]} == {"Default", "Sales"}
        core = real._core()
        src = core.service.create_connection(
            ws, {"name": "S", "connector": "SQLite", "properties": {"Database": str(real.data_dir / "s.db")}}
        )
        from cdata_sync_emulator.testing import make_source_db

        make_source_db(real.data_dir / "s.db", {"t": 3})
        dst = core.service.create_connection(
            ws, {"name": "D", "connector": "SQLite", "properties": {"Database": str(real.data_dir / "d.db")}}
        )
        made = client.post(
            "/jobs",
            params={"workspaceId": ws},
            json={"JobName": "InSales", "Source": src["name"], "Destination": dst["name"], "WorkspaceId": ws},
        )
        assert made.status_code == 201 and made.json()["WorkspaceId"] == ws
        made = client.post(
            "/tasks", params={"workspaceId": ws}, json={"JobName": "InSales", "Query": "REPLICATE [t]"}
        )
        assert made.status_code == 201, made.text
        # without the workspace, the job is invisible
        assert client.get("/jobs").json()["value"] == []
        assert client.get("/jobs('InSales')").status_code == 404
        assert (
            client.post("/executeJob", json={"JobName": "InSales"}).json()["error"]["message"]
            == "Job not found"
        )
        ran = client.post(f"/executeJob?workspaceId={ws}", json={"JobName": "InSales", "WorkspaceId": ws})
        assert ran.status_code == 200 and ran.json()["value"][0]["Status"] == "SUCCESS"
        assert client.get("/history").json()["value"] == []
        assert [h["JobName"] for h in client.get("/history", params={"workspaceId": ws}).json()["value"]] == [
            "InSales"
        ]
        assert client.get("/jobs", params={"workspaceId": "nope"}).status_code == 404
    assert count_rows(real.data_dir / "d.db", "t") == 3


def test_default_dialect_sees_every_workspace_unless_one_is_named(emulator: CDataSyncEmulator) -> None:
    seed_small_job(emulator, rows=1)
    with v1(emulator) as client:
        other = client.post("/workspaces", json={"Name": "Other"}).json()["Id"]
        assert [j["JobName"] for j in client.get("/jobs").json()["value"]] == ["SmallJob"]
        assert client.get("/jobs", params={"workspaceId": other}).json()["value"] == []
        assert client.get("/jobs", params={"workspaceId": "default"}).json()["value"]
        answer = client.post("/executeJob", json={"JobName": "SmallJob"}).json()["value"]
        assert answer[0]["HistoryId"] == "1"  # today's shape keeps the history ids


# ----- link_base --------------------------------------------------------------------------------------
def test_link_base_makes_paging_links_name_another_host(tmp_path: Path) -> None:
    base = "http://127.0.0.1:9"  # nothing listens there
    with running_emulator(
        tmp_path / "data", TOKEN, link_base=base + "/", context_path="/sync", v1_page_size=1
    ) as server:
        seed_small_job(server, rows=1, name="A")
        seed_small_job(server, rows=1, name="B")
        with v2(server) as api:
            link = api.get("/workspaces/default/jobs", params={"page_size": 1}).json()["@odata.nextLink"]
        assert link.startswith(f"{base}/sync/api.rsc/v2/workspaces/default/jobs?")
        assert "page=2" in link and "page_size=1" in link
        with v1(server) as client:
            page = client.get("/jobs", params={"$orderby": "JobName"}).json()
        assert page["@odata.nextLink"].startswith(f"{base}/sync/api.rsc/jobs?")
        same = page["@odata.nextLink"].replace(
            base, f"http://127.0.0.1:{server.port}"
        )  # the path stays valid
        assert httpx.get(same, headers=server.headers).json()["value"][0]["JobName"] == "B"


def test_pascal_link_base(tmp_path: Path) -> None:
    with (
        running_emulator(
            tmp_path / "data", TOKEN, dialect="pascal", link_base="https://proxy.internal:8443"
        ) as s,
        v2(s) as api,
    ):
        api.post("/workspaces", json={"name": "W1"})
        api.post("/workspaces", json={"name": "W2"})
        link = api.get("/workspaces").json()["@odata.nextLink"]
    assert link == "https://proxy.internal:8443/api.rsc/v2/workspaces?page=2&page_size=2"


# ----- documented v2 bodies (every dialect) -----------------------------------------------------------------
def test_documented_event_body_and_event_steps(api: httpx.Client, small_job: SmallJob) -> None:
    pid = api.post("/workspaces/default/pipelines", json={"name": "P"}).json()["id"]
    event = api.post(
        f"/pipelines/{pid}/events", json={"Name": "Notify", "Script": "print('done')\n", "Labels": ["ops"]}
    )
    assert event.status_code == 201, event.text
    shown = event.json()
    assert shown["name"] == "Notify" and shown["script"] == "print('done')\n" and shown["labels"] == ["ops"]
    assert shown["trigger"] is None
    assert api.post(f"/pipelines/{pid}/events", json={"script": "x"}).status_code == 400  # name is required
    assert api.post(f"/pipelines/{pid}/steps", json={"job_id": small_job.job_id}).status_code == 201
    step = api.post(f"/pipelines/{pid}/steps", json={"type": "event", "target_id": shown["id"]})
    assert step.status_code == 201 and step.json()["type"] == "event"
    updated = api.put(f"/pipelines/{pid}/events/{shown['id']}", json={"script": "print('again')"}).json()
    assert updated["script"] == "print('again')" and updated["labels"] == ["ops"]
    run_id = api.post(f"/pipelines/{pid}/execute").json()["id"]
    run = wait_until(lambda: (r := api.get(f"/pipelines/{pid}/history/{run_id}").json())["end_time"] and r)
    assert run["status"] == "Success"
    assert [s["status"] for s in run["steps"]] == ["Success", "Success"]
    assert [(e["name"], e["trigger"]) for e in run["events_fired"]] == [("Notify", "step")]


def test_documented_transformation_body_runs_after_its_job(api: httpx.Client, small_job: SmallJob) -> None:
    body = {
        "Name": "Totals",
        "Type": "SQL",
        "Destination-Connection": {"Id": small_job.destination_id, "Name": "SmallJobDest"},
        "Schedule": {"Enabled": False, "Cron": ""},
        "Trigger": {"Type": "After Job", "After_Job": small_job.job_id, "After_Job_Tasks": []},
        "Alerts": {"Send_Email": True, "Email_To": "ops@example.com"},
    }
    created = api.post("/workspaces/default/transformations", json=body)
    assert created.status_code == 201, created.text
    shown = created.json()
    assert shown["type"] == "SQL" and shown["connection_id"] == small_job.destination_id
    assert shown["destination_connection"] == {"id": small_job.destination_id, "name": "SmallJobDest"}
    assert shown["trigger"]["type"] == "AfterJob" and shown["trigger"]["after_job"] == small_job.job_id
    assert shown["alerts"] == {"send_email": True, "email_to": "ops@example.com"}
    task = api.post(
        f"/transformations/{shown['id']}/tasks",
        json={"query": "CREATE TABLE IF NOT EXISTS totals AS SELECT count(*) AS n FROM accounts"},
    )
    assert task.status_code == 201
    api.post(f"/jobs/{small_job.job_id}/execute")
    run = wait_until(
        lambda: [
            r for r in api.get(f"/transformations/{shown['id']}/history").json()["value"] if r["end_time"]
        ]
    )[0]
    assert run["status"] == "Success" and run["trigger"] == "after_job"
    assert count_rows(small_job.destination_db, "totals") == 1
    scheduled = api.put(
        f"/transformations/{shown['id']}",
        json={"trigger": {"type": "Scheduled", "schedule_cron": "0 * * * *"}},
    ).json()
    assert scheduled["schedule"] == {"enabled": True, "cron": "0 * * * *"}
    for wrong, field in (
        ({"Type": "Spark"}, "type"),
        ({"Trigger": {"Type": "Scheduled"}}, "trigger.schedule_cron"),
        ({"Trigger": {"Type": "AfterJob", "After_Job": "nope"}}, "trigger.after_job"),
    ):
        refused = api.post("/workspaces/default/transformations", json={**body, "Name": "X", **wrong})
        assert refused.status_code == 400 and f"'{field}'" in refused.json()["error"]["message"], wrong


# ----- command line --------------------------------------------------------------------------------
def test_command_line_dialect_and_link_base() -> None:
    from cdata_sync_emulator.__main__ import parse_args

    args = parse_args(["--dialect", "v1-real", "--link-base", "http://proxy:1"])
    assert (args.dialect, args.link_base) == ("v1-real", "http://proxy:1")
    with pytest.raises(SystemExit):
        parse_args(["--dialect", "nope"])
