"""Tolerance: list envelopes, paging, key spellings, unknown fields, timestamps and status words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cdata_fakes import BASE_URL, FakeServer

from airflow_provider_cdata_sync.client import CDataSyncResponseError, RunState, normalise_state
from airflow_provider_cdata_sync.client.models import (
    SUCCESS_STATES,
    Job,
    Run,
    RunStatus,
    Task,
    TaskRun,
    to_snake,
)

JOBS = "v2/workspaces/default/jobs"
API = f"{BASE_URL}/api.rsc"


# ------------------------------------------------------------------------------ envelopes
@pytest.mark.parametrize(
    "body",
    [
        [{"id": "1", "name": "A"}, {"id": "2", "name": "B"}],
        {"value": [{"id": "1", "name": "A"}, {"id": "2", "name": "B"}], "@odata.context": "x"},
        {"items": [{"id": "1", "name": "A"}, {"id": "2", "name": "B"}], "total": 2},
        {"data": [{"id": "1", "name": "A"}, {"id": "2", "name": "B"}], "meta": {"count": 2}},
        {"results": [{"id": "1", "name": "A"}, {"id": "2", "name": "B"}]},
        {"jobs": [{"id": "1", "name": "A"}, {"id": "2", "name": "B"}], "count": 2},
        {
            "data": [
                {"id": "1", "type": "job", "attributes": {"name": "A"}},
                {"id": "2", "attributes": {"name": "B"}},
            ]
        },
    ],
    ids=["bare", "value", "items", "data", "results", "only-list", "json-api"],
)
def test_list_envelopes(body: Any, server: FakeServer, client: Any) -> None:
    server.add("GET", JOBS, body)
    assert [(job.id, job.name) for job in client.jobs.list()] == [("1", "A"), ("2", "B")]


@pytest.mark.parametrize("body", [None, {"value": []}, []])
def test_empty_lists(body: Any, server: FakeServer, client: Any) -> None:
    server.add("GET", JOBS, httpx.Response(204) if body is None else body)
    assert client.jobs.list() == []


@pytest.mark.parametrize("body", ["just text", 42, {"a": [1], "b": [2]}, {"count": 3}])
def test_unexpected_list_shapes_raise_a_response_error(body: Any, server: FakeServer, client: Any) -> None:
    server.add("GET", JOBS, body)
    with pytest.raises(
        CDataSyncResponseError, match=r"Unparseable answer from CData Sync to GET /ctx/api\.rsc/v2/"
    ):
        client.jobs.list()


def test_an_item_of_the_wrong_shape_raises_a_response_error_naming_the_model(
    server: FakeServer, client: Any
) -> None:
    server.add("GET", JOBS, [{"id": "1"}])  # a job without a name
    shown = r"GET /ctx/api\.rsc/v2/workspaces/default/jobs: the Job in the answer is not as expected \(name"
    with pytest.raises(CDataSyncResponseError, match=shown):
        client.jobs.list()


# --------------------------------------------------------------------------------- paging
def page(n: int) -> list[dict[str, str]]:
    return [{"id": f"{n}a", "name": f"J{n}a"}, {"id": f"{n}b", "name": f"J{n}b"}]


@pytest.mark.parametrize(
    ("link2", "link3"),
    [
        (f"{API}/{JOBS}?$skip=2", f"{API}/{JOBS}?$skip=4"),  # absolute
        (f"{JOBS}?page=2", f"{JOBS}?page=3"),  # relative to the API root
        (f"/ctx/api.rsc/{JOBS}?page=2", f"/ctx/api.rsc/{JOBS}?page=3"),  # absolute path
    ],
    ids=["absolute", "relative", "absolute-path"],
)
@pytest.mark.parametrize("style", ["odata", "next", "links.next", "paging.next"])
def test_paging_follows_every_page(
    link2: str, link3: str, style: str, server: FakeServer, client: Any
) -> None:
    def envelope(items: list[Any], link: str | None) -> dict[str, Any]:
        if style == "odata":
            return {"value": items, "@odata.nextLink": link} if link else {"value": items}
        if style == "next":
            return {"items": items, "next": link}
        return {"data": items, style.split(".")[0]: {"next": link, "self": "ignored"}}

    def reply(request: httpx.Request) -> dict[str, Any]:
        query = request.url.query.decode()
        if "2" in query:
            return envelope(page(2), link3)
        if "3" in query or "4" in query:
            return envelope(page(3), None)
        return envelope(page(1), link2)

    server.add("GET", JOBS, reply)
    jobs = client.jobs.list()
    assert [job.id for job in jobs] == ["1a", "1b", "2a", "2b", "3a", "3b"]
    assert len(server.requests) == 3
    assert all(str(r.url).startswith(f"{API}/{JOBS}") for r in server.requests)
    assert all(r.headers["x-cdata-authtoken"] for r in server.requests)


async def test_paging_in_the_async_client(server: FakeServer, async_client: Any) -> None:
    server.add(
        "GET",
        JOBS,
        lambda r: {"value": page(2)} if r.url.query else {"value": page(1), "@odata.nextLink": f"{JOBS}?p=2"},
    )
    assert len(await async_client.jobs.list()) == 4


def test_paging_loop_guard_on_a_self_link(server: FakeServer, client: Any) -> None:
    server.add(
        "GET",
        JOBS,
        lambda r: (
            {"value": page(2), "next": f"{JOBS}?p=2"}
            if r.url.query
            else {"value": page(1), "next": f"{JOBS}?p=2"}
        ),
    )
    assert [job.id for job in client.jobs.list()] == ["1a", "1b", "2a", "2b"]
    assert len(server.requests) == 2


def test_paging_loop_guard_on_a_link_back_to_the_first_page(server: FakeServer, client: Any) -> None:
    server.add(
        "GET",
        JOBS,
        lambda r: (
            {"value": page(2), "next": JOBS} if r.url.query else {"value": page(1), "next": f"{JOBS}?p=2"}
        ),
    )
    assert [job.id for job in client.jobs.list()] == ["1a", "1b", "2a", "2b"]
    assert len(server.requests) == 2


def test_paging_stops_on_an_empty_page_even_with_a_link(server: FakeServer, client: Any) -> None:
    server.add(
        "GET",
        JOBS,
        lambda r: (
            {"value": [], "next": f"{JOBS}?p=3"} if r.url.query else {"value": page(1), "next": f"{JOBS}?p=2"}
        ),
    )
    assert len(client.jobs.list()) == 2
    assert len(server.requests) == 2


def test_list_tables_follows_relative_paging_links(server: FakeServer, client: Any) -> None:
    server.add(
        "POST",
        "v2/connections/c/tables",
        {"value": [{"name": "A"}], "@odata.nextLink": "v2/connections/c/tables?p=2"},
    )
    server.add("GET", "v2/connections/c/tables", {"value": [{"name": "B"}]})
    assert [table.name for table in client.connections.tables("c")] == ["A", "B"]
    assert str(server.requests[1].url) == f"{API}/v2/connections/c/tables?p=2"


# ------------------------------------------------------------------------ key spellings
@pytest.mark.parametrize(
    "data",
    [
        {
            "JobId": "j",
            "JobName": "N",
            "JobType": "Standard",
            "SourceConnection": {"ConnectionId": "s", "ConnectionName": "S"},
        },
        {"jobId": "j", "jobName": "N", "type": "Standard", "sourceConnection": {"id": "s", "name": "S"}},
        {
            "job_id": "j",
            "job_name": "N",
            "type": "Standard",
            "source_connection_id": "s",
            "source_connection_name": "S",
        },
        {"ID": "j", "NAME": "N", "TYPE": "Standard", "Source-Connection": {"Id": "s", "Name": "S"}},
        {"Id": "j", "Name": "N", "Type": "Standard", "source": {"id": "s", "name": "S"}},
    ],
    ids=["Pascal", "camel", "snake", "upper+hyphen", "source-object"],
)
def test_job_keys_in_any_spelling(data: dict[str, Any]) -> None:
    job = Job.model_validate(data)
    assert (job.id, job.name, job.type) == ("j", "N", "Standard")
    assert job.source_connection is not None
    assert (job.source_connection.id, job.source_connection.name) == ("s", "S")


def test_job_connection_given_as_a_bare_name_and_numbers_as_ids() -> None:
    job = Job.model_validate(
        {"Id": 123, "Name": "N", "Destination-Connection": "Snowflake", "Schedule": "0 * * * *"}
    )
    assert job.id == "123"
    assert job.destination_connection is not None and job.destination_connection.name == "Snowflake"
    assert job.schedule is not None and job.schedule.enabled and job.schedule.cron == "0 * * * *"


def test_first_non_null_spelling_wins() -> None:
    job = Job.model_validate({"name": None, "JobName": "Real", "id": "1"})
    assert job.name == "Real"


def test_unknown_fields_are_kept_in_model_extra() -> None:
    run = Run.model_validate(
        {"Id": "1", "Status": "SUCCESS", "Runtime": "00:00:03", "NewServerField": {"a": 1}}
    )
    assert run.model_extra == {"runtime": "00:00:03", "new_server_field": {"a": 1}}
    assert run.extra("new_server_field") == {"a": 1}
    assert run.extra("missing", "default") == "default"


def test_v1_history_record() -> None:
    run = Run.model_validate(
        {
            "Id": "5",
            "JobId": "j",
            "JobName": "Nightly",
            "RunStartDate": "2025-02-21T09:31:08-05:00",
            "Status": "FAILED",
            "Details": "Login failed for user",
            "RecordsAffected": "0",
            "LogFile": "Nightly_5.log",
            "QueryResults": [
                {"Query": "REPLICATE [Accounts] SELECT 1", "Status": "FAILED", "Result": "Login failed"}
            ],
        }
    )
    assert run.state is RunState.FAILED
    assert run.error_text == "Login failed for user"
    assert run.log_file == "Nightly_5.log" and run.records_affected == 0
    assert [task.label for task in run.failed_tasks] == ["Accounts"]
    assert run.failed_tasks[0].error == "Login failed"


def test_status_record_with_alternative_keys() -> None:
    status = RunStatus.model_validate({"JobStatus": "Running", "CurrentRunId": 77, "QueryResults": []})
    assert (status.state, status.history_id) == (RunState.RUNNING, "77")


@pytest.mark.parametrize(
    ("data", "table"),
    [
        ({"Query": "REPLICATE [Sales Orders] SELECT * FROM [Sales Orders]"}, "Sales Orders"),
        ({"Query": 'REPLICATE "Accounts" SELECT 1'}, "Accounts"),
        ({"Query": "replicate dbo.Accounts(Id) SELECT 1"}, "dbo.Accounts"),
        ({"Query": "SELECT 1"}, None),
        ({"TableName": "Explicit", "Query": "REPLICATE [Other]"}, "Explicit"),
    ],
)
def test_task_table_from_query(data: dict[str, Any], table: str | None) -> None:
    assert Task.model_validate(data).table == table


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("RunStartDate", "run_start_date"),
        ("Source-Connection", "source_connection"),
        ("source_connection_id", "source_connection_id"),
        ("Worker_Pool", "worker_pool"),
        ("EmailErrorOnly", "email_error_only"),
        ("HTTPStatusCode", "http_status_code"),
        ("@odata.nextLink", "odata_next_link"),
        ("Pipeline Id", "pipeline_id"),
    ],
)
def test_to_snake(key: str, expected: str) -> None:
    assert to_snake(key) == expected


# ------------------------------------------------------------------------------ timestamps
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-02-21T09:31:08-05:00", datetime(2025, 2, 21, 14, 31, 8, tzinfo=UTC)),
        ("2025-02-21T14:31:08Z", datetime(2025, 2, 21, 14, 31, 8, tzinfo=UTC)),
        ("2025-02-21T14:31:08.250Z", datetime(2025, 2, 21, 14, 31, 8, 250000, tzinfo=UTC)),
        ("2025-02-21T09:31:08.1234567-05:00", datetime(2025, 2, 21, 14, 31, 8, 123456, tzinfo=UTC)),
        ("2025-02-21T14:31:08", datetime(2025, 2, 21, 14, 31, 8, tzinfo=UTC)),  # naive: UTC assumed
        ("2025-02-21 14:31:08.5", datetime(2025, 2, 21, 14, 31, 8, 500000, tzinfo=UTC)),
    ],
)
def test_timestamps(text: str, expected: datetime) -> None:
    run = Run.model_validate({"RunStartDate": text, "end_time": text})
    for value in (run.start_time, run.end_time):
        assert value == expected
        assert value is not None and value.tzinfo is not None
    task = TaskRun.model_validate({"started_at": text})
    assert task.start_time == expected and task.start_time is not None and task.start_time.tzinfo is not None


def test_offset_is_kept() -> None:
    run = Run.model_validate({"RunStartDate": "2025-02-21T09:31:08-05:00"})
    assert run.start_time is not None and run.start_time.utcoffset() == timedelta(hours=-5)


@pytest.mark.parametrize("text", ["", None])
def test_empty_timestamps_are_none(text: Any) -> None:
    assert Run.model_validate({"RunStartDate": text}).start_time is None


# ---------------------------------------------------------------------------- status words
@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("Starting", RunState.RUNNING),
        ("Testing", RunState.RUNNING),
        ("Queued", RunState.QUEUED),
        ("Running", RunState.RUNNING),
        ("RUNNING", RunState.RUNNING),
        ("In progress", RunState.RUNNING),
        ("In Progress", RunState.RUNNING),
        ("in_progress", RunState.RUNNING),
        ("Successful", RunState.SUCCESS),
        ("SUCCESS", RunState.SUCCESS),
        ("success", RunState.SUCCESS),
        ("Completed", RunState.SUCCESS),
        ("Failed", RunState.FAILED),
        ("FAILED", RunState.FAILED),
        ("Error", RunState.FAILED),
        ("Cancelled", RunState.CANCELLED),
        ("Canceled", RunState.CANCELLED),
        ("7 of 13 Tasks Failed", RunState.FAILED),
        ("1 of 1 Task Failed", RunState.FAILED),
        ("0 of 13 Tasks Failed", RunState.SUCCESS),
        ("Idle", RunState.IDLE),
        ("No Jobs Running", RunState.IDLE),
        ("No jobs running.", RunState.IDLE),
        ("  idle  ", RunState.IDLE),
        ("Completed with warnings", RunState.WARNING),
        ("Exploded", RunState.UNKNOWN),
        ("Succeeded partially?", RunState.UNKNOWN),
        ("", RunState.UNKNOWN),
        (None, RunState.UNKNOWN),
        (RunState.FAILED, RunState.FAILED),
    ],
)
def test_status_words(word: Any, state: RunState) -> None:
    assert normalise_state(word) is state


def test_unknown_is_never_success_nor_terminal() -> None:
    unknown = normalise_state("Frobnicated")
    assert unknown is RunState.UNKNOWN
    assert unknown not in SUCCESS_STATES
    assert not unknown.is_terminal and not unknown.is_failure and not unknown.is_active


def test_state_properties() -> None:
    assert RunState.RUNNING.is_active and not RunState.RUNNING.is_terminal
    assert RunState.FAILED.is_terminal and RunState.FAILED.is_failure
    assert RunState.CANCELLED.is_failure
    assert RunState.SUCCESS.is_terminal and not RunState.SUCCESS.is_failure
    assert not RunState.IDLE.is_terminal and not RunState.IDLE.is_active
    assert Job.model_validate({"name": "x", "status": "No Jobs Running"}).state is RunState.IDLE


def test_list_tables_with_an_unexpected_shape_raises_a_response_error(
    server: FakeServer, client: Any
) -> None:
    server.add("POST", "v2/connections/c/tables", {"count": 3})
    with pytest.raises(CDataSyncResponseError, match=r"POST /ctx/api\.rsc/v2/connections/c/tables"):
        client.connections.tables("c")


@pytest.mark.parametrize(
    "link",
    ["http://internal-node:8181/ctx/api.rsc/{jobs}?p=2", "https://evil.example/ctx/api.rsc/{jobs}?p=2"],
)
def test_absolute_paging_links_stay_on_the_configured_server(
    link: str, server: FakeServer, client: Any
) -> None:
    """A proxied server may name an internal host: the token is only ever sent to the configured one."""
    server.add(
        "GET",
        JOBS,
        lambda r: {"value": page(2)} if r.url.query else {"value": page(1), "next": link.format(jobs=JOBS)},
    )
    assert len(client.jobs.list()) == 4
    assert [r.url.host for r in server.requests] == ["sync.test", "sync.test"]
    assert str(server.requests[1].url) == f"{API}/{JOBS}?p=2"
