"""API v1 (OData): entity sets, keys with quotes, query options, paging and actions."""

from __future__ import annotations

import httpx
from cdata_sync_emulator import CDataSyncEmulator
from cdata_sync_emulator.testing import SmallJob, count_rows, seed_small_job


def test_jobs_collection_and_entity(v1: httpx.Client, small_job: SmallJob) -> None:
    body = v1.get("/jobs").json()
    assert body["@odata.context"].endswith("/api.rsc/$metadata#jobs")
    job = body["value"][0]
    assert job["JobName"] == "SmallJob" and job["JobId"] == small_job.job_id
    assert job["Source"] == "SmallJobSource" and job["Status"] == "Idle" and job["Type"] == "Standard"
    assert job["Queries"] == ["REPLICATE [accounts]", "REPLICATE [contacts]"]
    assert v1.get("/jobs('SmallJob')").json()["JobId"] == small_job.job_id
    missing = v1.get("/jobs('Nope')")
    assert missing.status_code == 404 and "Nope" in missing.json()["error"]["message"]
    assert v1.get("/jobs/$count").text == "1"
    assert v1.get("/nothing").status_code == 404


def test_keys_with_quotes_and_crud(v1: httpx.Client, small_job: SmallJob) -> None:
    created = v1.post(
        "/jobs",
        json={
            "JobName": "O'Brien",
            "Source": "SmallJobSource",
            "Destination": "SmallJobDest",
            "Queries": ["REPLICATE [accounts]"],
            "TruncateTableData": "true",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["TruncateTableData"] is True
    assert v1.get("/jobs('O''Brien')").json()["JobName"] == "O'Brien"
    updated = v1.put(
        "/jobs('O''Brien')", json={"BatchSize": 7, "ScheduledCron": "0 * * * *", "Scheduled": True}
    )
    assert updated.json()["BatchSize"] == 7 and updated.json()["Scheduled"] is True
    assert v1.delete("/jobs('O''Brien')").status_code == 204
    assert v1.get("/jobs('O''Brien')").status_code == 404


def test_tasks_connections_transformations_users(v1: httpx.Client, small_job: SmallJob) -> None:
    tasks = v1.get("/tasks", params={"$filter": "JobName eq 'SmallJob'"}).json()["value"]
    assert [t["Index"] for t in tasks] == [0, 1]
    assert v1.get("/tasks(JobName='SmallJob',Index=1)").json()["Table"] == "contacts"
    assert v1.get(f"/tasks('{small_job.task_ids[0]}')").json()["Index"] == 0
    added = v1.post("/tasks", json={"JobName": "SmallJob", "Query": "REPLICATE [extra]"})
    assert added.status_code == 201 and added.json()["Index"] == 2
    assert v1.delete("/tasks(JobName='SmallJob',Index=2)").status_code == 204
    conn = v1.get("/connections('SmallJobSource')").json()
    assert conn["ProviderName"] == "SQLite" and conn["ConnectionString"].startswith("Database=")
    made = v1.post(
        "/connections", json={"Name": "Csv1", "ProviderName": "CSV", "ConnectionString": "Folder=out"}
    )
    assert made.status_code == 201 and made.json()["ConnectionString"] == "Folder=out"
    tr = v1.post(
        "/transformations",
        json={"TransformationName": "Tr", "Connection": "SmallJobDest", "Queries": ["SELECT 1"]},
    )
    assert tr.status_code == 201 and tr.json()["Connection"] == "SmallJobDest"
    assert v1.post("/users", json={"User": "ann", "Roles": "Admin"}).json()["User"] == "ann"
    assert v1.get("/users('ann')").json()["Roles"] == "Admin"


def test_query_options_and_paging(tmp_path) -> None:
    with CDataSyncEmulator(tmp_path, "tk", scheduler=False, v1_page_size=3) as server:
        for number in range(7):
            seed_small_job(server, tables={"a": 1}, name=f"Job{number}", prefix=f"p{number}")
        client = httpx.Client(base_url=server.api_url, headers=server.headers)
        page = client.get(
            "/jobs", params={"$orderby": "JobName desc", "$select": "JobName,Status", "$count": "true"}
        ).json()
        assert page["@odata.count"] == 7 and len(page["value"]) == 3
        assert page["value"][0] == {"JobName": "p6Job6", "Status": "Idle"}
        names = [r["JobName"] for r in page["value"]]
        while "@odata.nextLink" in page:
            page = client.get(page["@odata.nextLink"]).json()
            names += [r["JobName"] for r in page["value"]]
        assert names == [f"p{n}Job{n}" for n in range(6, -1, -1)]
        top = client.get("/jobs", params={"$orderby": "JobName", "$skip": 1, "$top": 4}).json()
        assert [r["JobName"] for r in top["value"]] == ["p1Job1", "p2Job2", "p3Job3"]
        rest = client.get(top["@odata.nextLink"]).json()
        assert [r["JobName"] for r in rest["value"]] == ["p4Job4"] and "@odata.nextLink" not in rest
        flt = "(startswith(JobName,'p1') or endswith(JobName,'Job5')) and not contains(JobName,'x')"
        assert {r["JobName"] for r in client.get("/jobs", params={"$filter": flt}).json()["value"]} == {
            "p1Job1",
            "p5Job5",
        }
        assert client.get("/jobs", params={"$filter": "JobName eq"}).status_code == 400
        assert client.get("/jobs", params={"$filter": "Nope eq 1"}).status_code == 400
        client.close()


def test_history_filter_by_date(v1: httpx.Client, emulator: CDataSyncEmulator, small_job: SmallJob) -> None:
    result = v1.post("/executeJob", json={"JobName": "SmallJob"}).json()["value"]
    assert [r["Status"] for r in result] == ["SUCCESS", "SUCCESS"] and result[0]["Result"] is None
    history = v1.get(
        "/history", params={"$filter": "JobName eq 'SmallJob' and RunStartDate gt 2025-01-01"}
    ).json()
    record = history["value"][0]
    assert (
        record["Status"] == "Success"
        and record["RecordsAffected"] == 40
        and record["LogFile"].endswith(".log")
    )
    assert set(record) >= {"Id", "JobId", "JobName", "RunStartDate", "RunEndDate", "Details", "Runtime"}
    later = v1.get("/history", params={"$filter": "RunStartDate ge 2999-01-01T00:00:00Z"}).json()
    assert later["value"] == []
    assert v1.get(f"/history({record['Id']})").json()["Id"] == record["Id"]
    desc = v1.get("/history", params={"$orderby": "Id desc", "$top": 1}).json()["value"]
    assert desc[0]["Id"] == record["Id"]


def test_actions(v1: httpx.Client, emulator: CDataSyncEmulator, small_job: SmallJob) -> None:
    started = v1.post("/executejob", json={"JobId": small_job.job_id, "WaitForResults": "false"}).json()[
        "value"
    ][0]
    assert started["Status"] == "Running" and started["HistoryId"]
    emulator.wait_idle(10)
    query = v1.post("/executeQuery", json={"JobName": "SmallJob", "Query#1": "REPLICATE [contacts]"}).json()
    assert [r["Query"] for r in query["value"]] == ["REPLICATE [contacts]"]
    assert (
        v1.post("/executeQuery", json={"JobName": "SmallJob", "Query#1": "REPLICATE [zzz]"}).status_code
        == 400
    )
    status = v1.post("/getJobStatus", json={"JobName": "SmallJob", "PushOnQuery": "true"}).json()["value"]
    assert [s["Query"] for s in status] == ["REPLICATE [contacts]"] and status[0]["JobStatus"] == "Idle"
    everything = v1.post("/getJobStatus", json={}).json()["value"]
    assert everything[0]["JobName"] == "SmallJob" and everything[0]["LastRunStatus"] == "Success"
    logs = v1.post("/getJobLog", json={"JobName": "SmallJob"}).json()["value"]
    assert len(logs) == 2 and "Replicating table [accounts]" in logs[0]["Log"]
    one = v1.post("/getJobLog", json={"JobName": "SmallJob", "HistoryId": logs[1]["HistoryId"]}).json()[
        "value"
    ]
    assert len(one) == 1
    assert (
        v1.post("/testConnection", json={"ConnectionName": "SmallJobSource"}).json()["value"][0]["Status"]
        == "Success"
    )
    tables = v1.post("/getConnectionTables", json={"ConnectionName": "SmallJobSource"}).json()["value"]
    assert [t["TableName"] for t in tables] == ["accounts", "contacts"]
    cols = v1.post(
        "/getConnectionTableColumns", json={"ConnectionName": "SmallJobSource", "Table": "accounts"}
    ).json()
    assert cols["value"][0] == {"ColumnName": "id", "DataType": "INTEGER", "IsNullable": False, "IsKey": True}
    users = v1.post("/createUsers", json={"Users": [{"User": "a"}, {"User": "b"}]}).json()["value"]
    assert [u["User"] for u in users] == ["a", "b"]
    assert v1.post("/cancelJob", json={"JobName": "SmallJob"}).status_code == 409
    assert v1.get("/executeJob").status_code == 405
    assert count_rows(small_job.destination_db, "contacts") == 20


def test_v1_cancel_running_job(v1: httpx.Client, emulator: CDataSyncEmulator, small_job: SmallJob) -> None:
    emulator.set_speed(rows_per_second=10)
    v1.put("/jobs('SmallJob')", json={"BatchSize": 2})
    v1.post("/executeJob", json={"JobName": "SmallJob", "Async": "true"})
    cancelled = v1.post("/cancelJob", json={"JobName": "SmallJob"})
    assert cancelled.status_code == 200 and cancelled.json()["value"][0]["Status"] == "Cancelling"
    emulator.wait_idle(10)
    assert v1.get("/history").json()["value"][-1]["Status"] == "Cancelled"
