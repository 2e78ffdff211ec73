"""Every v2 endpoint, through the sync and the async client: method, path, query, body, parsed result.

The table below is the single list of expectations, one row per resource operation (``jobs.execute``,
``connections.tables``, ``pipelines.steps.move``, ...). ``test_every_operation_is_in_the_table`` makes a new
``@operation`` on a v2 resource without a row here fail.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from cdata_fakes import TOKEN, FakeServer, body_of, params_of

from airflow_provider_cdata_sync.client import CDataSyncClient, CDataSyncConfigError, RunState
from airflow_provider_cdata_sync.client.http import Resource, operation
from airflow_provider_cdata_sync.client.models import (
    Column,
    Connection,
    Job,
    LogFileInfo,
    Pipeline,
    PipelineEvent,
    PipelineStep,
    Run,
    RunStatus,
    Task,
    TaskRun,
    TestResult,
    Transformation,
    User,
    Workspace,
)

# Ids and names with spaces, slashes and quotes, and how they must look in the path (one segment each).
WS, Q_WS = "my ws/1", "my%20ws%2F1"
CONN, Q_CONN = "conn 'a'/b", "conn%20%27a%27%2Fb"
JOB, Q_JOB = 'job "1"/a b', "job%20%221%22%2Fa%20b"
TASK = "870237973789151200"
HIST, Q_HIST = "h/1 2", "h%2F1%202"
TABLE, Q_TABLE = "dbo.My Table/x", "dbo.My%20Table%2Fx"
LOG, Q_LOG = "log 2025/01.txt", "log%202025%2F01.txt"
TR, Q_TR = "tr'1", "tr%271"
PL, Q_PL = "pl 1", "pl%201"
STEP, Q_STEP = "st/1", "st%2F1"
EVT, Q_EVT = 'ev"1', "ev%221"
USER, Q_USER = "user a", "user%20a"


@dataclass
class Ex:
    """One expected exchange: what the client must send, and what the fake server answers."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    reply: Any = None  # None: an empty 204


@dataclass
class Case:
    id: str
    call: Callable[[Any], Any]
    exchanges: list[Ex]
    check: Callable[[Any], None] = lambda result: None
    ops: tuple[str, ...] = ()  # the resource operations this row covers (derived from the id by default)


def _check_job(result: Any) -> None:
    assert isinstance(result, Job)
    assert (result.id, result.name, result.type) == ("j-1", "Nightly", "ReverseETL")
    assert result.source_connection is not None and result.source_connection.id == "c-sf"
    assert result.destination_connection is not None and result.destination_connection.name == "Dest"


def _check_history(result: Any) -> None:
    assert [type(run) for run in result] == [Run, Run]
    first = result[0]
    assert (first.id, first.job_id, first.job_name) == ("11", "j-1", "Nightly")
    assert first.start_time == datetime(2025, 2, 21, 9, 31, 8, tzinfo=timezone(timedelta(hours=-5)))
    assert first.state is RunState.FAILED and first.records_affected == 12 and first.log_file == "a.log"
    assert first.extra("runtime") == "00:01:02"
    assert result[1].state is RunState.SUCCESS


HISTORY = [
    {
        "Id": "11",
        "JobId": "j-1",
        "JobName": "Nightly",
        "RunStartDate": "2025-02-21T09:31:08-05:00",
        "Status": "7 of 13 Tasks Failed",
        "Details": "boom",
        "Runtime": "00:01:02",
        "RecordsAffected": "12",
        "LogFile": "a.log",
    },
    {"id": "12", "status": "SUCCESS", "started_at": "2025-02-22T00:00:00Z"},
]
TASKS = {"items": [{"TaskId": TASK, "Query": "REPLICATE [Accounts] SELECT * FROM [Accounts]", "Index": 0}]}
STATUS = {
    "status": "In progress",
    "history_id": "h-9",
    "tasks": [{"TaskId": "1", "Query": "REPLICATE [Accounts]", "Status": "SUCCESS", "Result": None}],
}
CONNECTIONS = [{"id": "c-sf", "name": "SF"}, {"ConnectionId": "c-dest", "ConnectionName": "Dest"}]
ALL_JOB_SETTINGS = {
    "Send_Email": True,
    "Email_To": "ops@example.com",
    "emailSubject": "subject",
    "EmailErrorOnly": True,
    "Enable_Parallel_Processing": True,
    "Worker_Pool": 4,
    "Verbosity": 3,
    "Destination_Schema": "dbo",
    "Table_Name_Prefix": "sf_",
    "Use_GMT_DateTime": True,
    "History_Mode": False,
    "Truncate_Table_Data": False,
    "Drop_Table": False,
    "Auto_Truncate_Strings": True,
    "Continue_On_Error": True,
    "Deletion_Behavior": "HardDelete",
    "Alter_Schema": True,
    "Replicate_Interval": 1,
    "Replicate_Interval_Unit": "days",
    "Replicate_Start_Date": "2025-01-01",
    "Batch_Size": 1000,
    "Pre_Job_Event": "<pre/>",
    "Post_Job_Event": "<post/>",
    "CDC_Engine_Settings": {"name": "engine", "schema": "cdc"},
    "Labels": ["sales"],
    "Pipeline Id": "p-1",
}
ALL_JOB_SETTINGS_SENT = {
    "send_email": True,
    "email_to": "ops@example.com",
    "email_subject": "subject",
    "email_error_only": True,
    "enable_parallel_processing": True,
    "worker_pool": 4,
    "verbosity": 3,
    "destination_schema": "dbo",
    "table_name_prefix": "sf_",
    "use_gmt_datetime": True,
    "history_mode": False,
    "truncate_table_data": False,
    "drop_table": False,
    "auto_truncate_strings": True,
    "continue_on_error": True,
    "deletion_behavior": "HardDelete",
    "alter_schema": True,
    "replicate_interval": 1,
    "replicate_interval_unit": "days",
    "replicate_start_date": "2025-01-01",
    "batch_size": 1000,
    "pre_job_event": "<pre/>",
    "post_job_event": "<post/>",
    "cdc_engine_settings": {"name": "engine", "schema": "cdc"},
    "labels": ["sales"],
    "pipeline_id": "p-1",
}


def is_none(result: Any) -> None:
    assert result is None


CASES: list[Case] = [
    # ------------------------------------------------------------------ workspaces
    Case(
        "workspaces.list",
        lambda c: c.workspaces.list(),
        [Ex("GET", "v2/workspaces", reply={"value": [{"Id": "default", "Name": "Default"}, {"id": "w2"}]})],
        lambda r: (
            [(w.id, w.name) for w in r] == [("default", "Default"), ("w2", None)] or pytest.fail(repr(r))
        ),
    ),
    Case(
        "workspaces.get",
        lambda c: c.workspaces.get(WS),
        [Ex("GET", f"v2/workspaces/{Q_WS}", reply={"WorkspaceId": WS, "WorkspaceName": "Mine"})],
        lambda r: (isinstance(r, Workspace) and r.id == WS and r.name == "Mine") or pytest.fail(repr(r)),
    ),
    Case(
        "workspaces.create",
        lambda c: c.workspaces.create("New WS"),
        [
            Ex(
                "POST",
                "v2/workspaces",
                body={"name": "New WS"},
                reply={"data": {"id": "w3", "name": "New WS"}},
            )
        ],
        lambda r: r.id == "w3" or pytest.fail(repr(r)),
    ),
    Case(
        "workspaces.rename",
        lambda c: c.workspaces.rename(WS, "Renamed"),
        [Ex("PUT", f"v2/workspaces/{Q_WS}", body={"name": "Renamed"}, reply={"id": WS, "name": "Renamed"})],
        lambda r: r.name == "Renamed" or pytest.fail(repr(r)),
    ),
    Case(
        "workspaces.delete",
        lambda c: c.workspaces.delete(WS),
        [Ex("DELETE", f"v2/workspaces/{Q_WS}")],
        is_none,
    ),
    Case(
        "workspaces.resolve",
        lambda c: c.workspaces.resolve("mine"),
        [Ex("GET", "v2/workspaces", reply=[{"id": "default"}, {"id": WS, "name": "Mine"}])],
        lambda r: r.id == WS or pytest.fail(repr(r)),
    ),
    # ----------------------------------------------------------------- connections
    Case(
        "connections.list",
        lambda c: c.connections.list(WS),
        [Ex("GET", f"v2/workspaces/{Q_WS}/connections", reply={"data": CONNECTIONS})],
        lambda r: [(x.id, x.name) for x in r] == [("c-sf", "SF"), ("c-dest", "Dest")] or pytest.fail(repr(r)),
    ),
    Case(
        "connections.list (default workspace)",
        lambda c: c.connections.list(),
        [Ex("GET", "v2/workspaces/default/connections", reply=[])],
        lambda r: r == [] or pytest.fail(repr(r)),
        ops=("connections.list",),
    ),
    Case(
        "connections.get",
        lambda c: c.connections.get(CONN),
        [
            Ex(
                "GET",
                f"v2/connections/{Q_CONN}",
                reply={
                    "Id": CONN,
                    "Name": "SF",
                    "ProviderName": "CData Salesforce",
                    "Connect_Version": "25.0.9000",
                    "Properties": {"User": "admin"},
                    "Color": "blue",
                },
            )
        ],
        lambda r: (
            (
                isinstance(r, Connection)
                and (r.id, r.name, r.connector, r.connector_version)
                == (CONN, "SF", "CData Salesforce", "25.0.9000")
                and r.properties == {"User": "admin"}
                and r.model_extra == {"color": "blue"}
            )
            or pytest.fail(repr(r))
        ),
    ),
    Case(
        "connections.create",
        lambda c: c.connections.create(
            "MySource",
            "CData QuickBooks",
            {"URL": "https://qb", "User": "admin"},
            settings={"Metadata_Refresh_Interval": "Daily", "LogfileVerbosity": "Info"},
            connector_version="25.0.9000",
            labels=["prod"],
            workspace=WS,
        ),
        [
            Ex(
                "POST",
                f"v2/workspaces/{Q_WS}/connections",
                body={
                    "name": "MySource",
                    "connector": "CData QuickBooks",
                    "connector_version": "25.0.9000",
                    "properties": {"URL": "https://qb", "User": "admin"},
                    "settings": {"metadata_refresh_interval": "Daily", "logfile_verbosity": "Info"},
                    "labels": ["prod"],
                },
                reply={"id": "c-new", "name": "MySource"},
            )
        ],
        lambda r: r.id == "c-new" or pytest.fail(repr(r)),
    ),
    Case(
        "connections.update",
        lambda c: c.connections.update(CONN, name="Renamed", settings={"Metadata_Refresh_Interval": "daily"}),
        [
            Ex(
                "PUT",
                f"v2/connections/{Q_CONN}",
                body={"name": "Renamed", "settings": {"metadata_refresh_interval": "daily"}},
                reply={"Name": "Renamed", "Id": CONN},
            )
        ],
        lambda r: (isinstance(r, Connection) and r.name == "Renamed") or pytest.fail(repr(r)),
    ),
    Case(
        "connections.update (empty answer)",
        lambda c: c.connections.update(CONN, properties={"Password": "x"}, connector_version="2", labels=[]),
        [
            Ex(
                "PUT",
                f"v2/connections/{Q_CONN}",
                body={"properties": {"Password": "x"}, "connector_version": "2", "labels": []},
            )
        ],
        is_none,
        ops=("connections.update",),
    ),
    Case(
        "connections.delete",
        lambda c: c.connections.delete(CONN),
        [Ex("DELETE", f"v2/connections/{Q_CONN}")],
        is_none,
    ),
    Case(
        "connections.test",
        lambda c: c.connections.test(CONN),
        [Ex("POST", f"v2/connections/{Q_CONN}/test", reply={"Success": True, "Message": "Connected"})],
        lambda r: (
            (isinstance(r, TestResult) and r.success and r.message == "Connected") or pytest.fail(repr(r))
        ),
    ),
    Case(
        "connections.test (failed test is returned)",
        lambda c: c.connections.test(CONN),
        [
            Ex(
                "POST",
                f"v2/connections/{Q_CONN}/test",
                reply=lambda _: httpx.Response(
                    400, json={"error": {"code": "x", "message": "Invalid password"}}
                ),
            )
        ],
        lambda r: (r.success is False and r.message == "Invalid password") or pytest.fail(repr(r)),
        ops=("connections.test",),
    ),
    Case(
        "connections.test (plain message)",
        lambda c: c.connections.test(CONN),
        [
            Ex(
                "POST",
                f"v2/connections/{Q_CONN}/test",
                reply={"message": "The connection test was successful."},
            )
        ],
        lambda r: (
            (r.success is True and r.message == "The connection test was successful.") or pytest.fail(repr(r))
        ),
        ops=("connections.test",),
    ),
    Case(
        "connections.tables",
        lambda c: c.connections.tables(
            CONN, schema="dbo", include_table_types=["TABLE", "VIEW"], reset_metadata=True
        ),
        [
            Ex(
                "POST",
                f"v2/connections/{Q_CONN}/tables",
                params={"schema": "dbo", "include_table_types": "TABLE,VIEW", "reset_metadata": "true"},
                reply={"value": [{"TableName": "Account", "TableSchema": "dbo", "TableType": "TABLE"}]},
            )
        ],
        lambda r: (
            [(t.name, t.schema_name, t.type) for t in r] == [("Account", "dbo", "TABLE")]
            or pytest.fail(repr(r))
        ),
    ),
    Case(
        "connections.columns",
        lambda c: c.connections.columns(CONN, TABLE, reset_metadata=False),
        [
            Ex(
                "GET",
                f"v2/connections/{Q_CONN}/tables/{Q_TABLE}/columns",
                params={"reset_metadata": "false"},
                reply=[{"ColumnName": "Id", "TypeName": "varchar", "IsKey": True, "IsNullable": False}],
            )
        ],
        lambda r: (
            (isinstance(r[0], Column) and (r[0].name, r[0].data_type, r[0].is_key) == ("Id", "varchar", True))
            or pytest.fail(repr(r))
        ),
    ),
    Case(
        "connections.reset_metadata",
        lambda c: c.connections.reset_metadata(CONN),
        [Ex("POST", f"v2/connections/{Q_CONN}/reset-metadata", reply={"ok": True})],
        lambda r: r == {"ok": True} or pytest.fail(repr(r)),
    ),
    Case(
        "connections.reset_credentials",
        lambda c: c.connections.reset_credentials(CONN),
        [Ex("POST", f"v2/connections/{Q_CONN}/reset-credentials")],
        is_none,
    ),
    Case(
        "connections.logs",
        lambda c: c.connections.logs(CONN),
        [
            Ex(
                "GET",
                f"v2/connections/{Q_CONN}/logs",
                reply=[{"FileName": "a.log", "Size": "12", "Modified": "2025-02-21T09:31:08.123Z"}],
            )
        ],
        lambda r: (
            (
                isinstance(r[0], LogFileInfo)
                and (r[0].name, r[0].size) == ("a.log", 12)
                and r[0].modified == datetime(2025, 2, 21, 9, 31, 8, 123000, tzinfo=UTC)
            )
            or pytest.fail(repr(r))
        ),
    ),
    Case(
        "connections.download_log",
        lambda c: c.connections.download_log(CONN, LOG),
        [
            Ex(
                "POST",
                f"v2/connections/{Q_CONN}/logs/{Q_LOG}/download",
                reply=lambda _: httpx.Response(200, text="line 1\nline 2\n"),
            )
        ],
        lambda r: r == "line 1\nline 2\n" or pytest.fail(repr(r)),
    ),
    Case(
        "connections.resolve",
        lambda c: c.connections.resolve("dest", workspace=WS),
        [Ex("GET", f"v2/workspaces/{Q_WS}/connections", reply=CONNECTIONS)],
        lambda r: r.id == "c-dest" or pytest.fail(repr(r)),
    ),
    # ------------------------------------------------------------------------ jobs
    Case(
        "jobs.list",
        lambda c: c.jobs.list(WS),
        [Ex("GET", f"v2/workspaces/{Q_WS}/jobs", reply={"items": [{"JobId": "j-1", "JobName": "Nightly"}]})],
        lambda r: [(j.id, j.name) for j in r] == [("j-1", "Nightly")] or pytest.fail(repr(r)),
    ),
    Case(
        "jobs.get",
        lambda c: c.jobs.get(JOB),
        [
            Ex(
                "GET",
                f"v2/jobs/{Q_JOB}",
                reply={
                    "JobId": "j-1",
                    "JobName": "Nightly",
                    "Type": "ReverseETL",
                    "Source-Connection": {"Id": "c-sf", "Name": "SF"},
                    "destination_connection_name": "Dest",
                },
            )
        ],
        _check_job,
    ),
    Case(
        "jobs.resolve",
        lambda c: c.jobs.resolve("NIGHTLY", workspace=WS),
        [
            Ex(
                "GET",
                f"v2/workspaces/{Q_WS}/jobs",
                reply=[{"id": "j-1", "name": "Nightly"}, {"id": "j-2", "name": "Other"}],
            )
        ],
        lambda r: r.id == "j-1" or pytest.fail(repr(r)),
    ),
    Case(
        "jobs.create",
        lambda c: c.jobs.create(
            "Nightly",
            type="ReverseETL",
            source_connection="sf",
            destination_connection="c-dest",
            schedule_enabled=True,
            cron="0 * * * *",
            queries=["REPLICATE [Accounts]"],
            workspace=WS,
            **ALL_JOB_SETTINGS,
        ),
        [
            Ex("GET", f"v2/workspaces/{Q_WS}/connections", reply=CONNECTIONS),
            Ex("GET", f"v2/workspaces/{Q_WS}/connections", reply=CONNECTIONS),
            Ex(
                "POST",
                f"v2/workspaces/{Q_WS}/jobs",
                body={
                    "name": "Nightly",
                    "type": "ReverseETL",
                    "source_connection_id": "c-sf",
                    "destination_connection_id": "c-dest",
                    "schedule": {"enabled": True, "cron": "0 * * * *"},
                    "queries": ["REPLICATE [Accounts]"],
                    **ALL_JOB_SETTINGS_SENT,
                },
                reply={
                    "job_id": "j-1",
                    "job_name": "Nightly",
                    "job_type": "ReverseETL",
                    "source_connection_id": "c-sf",
                    "Destination-Connection": "Dest",
                },
            ),
        ],
        _check_job,
    ),
    Case(
        "jobs.create (minimal, default workspace)",
        lambda c: c.jobs.create("Bare"),
        [
            Ex(
                "POST",
                "v2/workspaces/default/jobs",
                body={"name": "Bare", "type": "Standard"},
                reply={"id": "j-9", "name": "Bare"},
            )
        ],
        lambda r: r.id == "j-9" or pytest.fail(repr(r)),
        ops=("jobs.create",),
    ),
    Case(
        "jobs.update",
        lambda c: c.jobs.update(
            JOB, name="Renamed", schedule_enabled=False, cron="", Email_Error_Only=True, Verbosity=5
        ),
        [
            Ex(
                "PUT",
                f"v2/jobs/{Q_JOB}",
                body={
                    "name": "Renamed",
                    "schedule": {"enabled": False, "cron": ""},
                    "email_error_only": True,
                    "verbosity": 5,
                },
                reply={"ok": 1},
            )
        ],
        lambda r: r == {"ok": 1} or pytest.fail(repr(r)),
    ),
    Case("jobs.delete", lambda c: c.jobs.delete(JOB), [Ex("DELETE", f"v2/jobs/{Q_JOB}")], is_none),
    Case(
        "jobs.execute",
        lambda c: c.jobs.execute(JOB, tasks=[TASK, 870875808946851841]),
        [
            Ex(
                "POST",
                f"v2/jobs/{Q_JOB}/execute",
                body={"tasks": [TASK, "870875808946851841"]},
                reply=lambda _: httpx.Response(
                    202, json={"HistoryId": "h-1", "Status": "Queued", "RunStartDate": "2025-02-21T14:31:08Z"}
                ),
            )
        ],
        lambda r: (
            (
                isinstance(r, Run)
                and r.id == "h-1"
                and r.state is RunState.QUEUED
                and r.start_time == datetime(2025, 2, 21, 14, 31, 8, tzinfo=UTC)
            )
            or pytest.fail(repr(r))
        ),
    ),
    Case(
        "jobs.execute (all tasks, empty answer)",
        lambda c: c.jobs.execute(JOB),
        [Ex("POST", f"v2/jobs/{Q_JOB}/execute", reply=lambda _: httpx.Response(202))],
        lambda r: (
            (isinstance(r, Run) and r.id is None and r.state is RunState.UNKNOWN) or pytest.fail(repr(r))
        ),
        ops=("jobs.execute",),
    ),
    Case(
        "jobs.cancel",
        lambda c: c.jobs.cancel(JOB),
        [Ex("POST", f"v2/jobs/{Q_JOB}/cancel", reply={"message": "cancelled"})],
        lambda r: r == {"message": "cancelled"} or pytest.fail(repr(r)),
    ),
    Case(
        "jobs.history",
        lambda c: c.jobs.history(JOB),
        [Ex("GET", f"v2/jobs/{Q_JOB}/history", reply=HISTORY)],
        _check_history,
    ),
    Case(
        "jobs.get_history",
        lambda c: c.jobs.get_history(JOB, HIST),
        [Ex("GET", f"v2/jobs/{Q_JOB}/history/{Q_HIST}", reply={"value": [HISTORY[0]]})],
        lambda r: _check_history([r, Run(status="Completed")]),
    ),
    Case(
        "jobs.status",
        lambda c: c.jobs.status(JOB),
        [Ex("GET", f"v2/jobs/{Q_JOB}/status", reply=STATUS)],
        lambda r: (
            (
                isinstance(r, RunStatus)
                and r.state is RunState.RUNNING
                and r.history_id == "h-9"
                and r.tasks[0].table == "Accounts"
                and r.tasks[0].state is RunState.SUCCESS
            )
            or pytest.fail(repr(r))
        ),
    ),
    Case(
        "jobs.tasks.list",
        lambda c: c.jobs.tasks.list(JOB),
        [Ex("GET", f"v2/jobs/{Q_JOB}/tasks", reply=TASKS)],
        lambda r: (
            (
                isinstance(r[0], Task)
                and (r[0].id, r[0].table, r[0].index, r[0].is_active) == (TASK, "Accounts", 0, True)
            )
            or pytest.fail(repr(r))
        ),
    ),
    Case(
        "jobs.tasks.get",
        lambda c: c.jobs.tasks.get(JOB, TASK),
        [Ex("GET", f"v2/jobs/{Q_JOB}/tasks/{TASK}", reply={"id": TASK, "query": "q", "active": False})],
        lambda r: (r.id == TASK and r.is_active is False and r.table is None) or pytest.fail(repr(r)),
    ),
    Case(
        "jobs.tasks.add",
        lambda c: c.jobs.tasks.add(
            JOB, "REPLICATE [Accounts] SELECT * FROM [Accounts]", is_active=False, index=2
        ),
        [
            Ex(
                "POST",
                f"v2/jobs/{Q_JOB}/tasks",
                body={
                    "query": "REPLICATE [Accounts] SELECT * FROM [Accounts]",
                    "is_active": False,
                    "index": 2,
                },
                reply={"task_id": "77", "query": "REPLICATE [Accounts] SELECT * FROM [Accounts]"},
            )
        ],
        lambda r: (r.id, r.table) == ("77", "Accounts") or pytest.fail(repr(r)),
    ),
    Case(
        "jobs.tasks.update",
        lambda c: c.jobs.tasks.update(JOB, TASK, query="REPLICATE [A]", is_active=True, index=1),
        [
            Ex(
                "PUT",
                f"v2/jobs/{Q_JOB}/tasks/{TASK}",
                body={"query": "REPLICATE [A]", "is_active": True, "index": 1},
            )
        ],
        is_none,
    ),
    Case(
        "jobs.tasks.delete",
        lambda c: c.jobs.tasks.delete(JOB, TASK),
        [Ex("DELETE", f"v2/jobs/{Q_JOB}/tasks/{TASK}")],
        is_none,
    ),
    Case(
        "jobs.tasks.move",
        lambda c: c.jobs.tasks.move(JOB, TASK, 0, 1),
        [Ex("POST", f"v2/jobs/{Q_JOB}/tasks/{TASK}/move", body={"from_index": 0, "to_index": 1})],
        is_none,
    ),
    Case(
        "jobs.tasks.last_run",
        lambda c: c.jobs.tasks.last_run(JOB),
        [
            Ex(
                "GET",
                f"v2/jobs/{Q_JOB}/tasks/last-run",
                reply=[
                    {
                        "Id": TASK,
                        "TableName": "Accounts",
                        "Status": "FAILED",
                        "Result": "Login failed",
                        "RunStartDate": "2025-02-21T09:31:08",
                        "RowsAffected": "",
                    }
                ],
            )
        ],
        lambda r: (
            (
                isinstance(r[0], TaskRun)
                and (r[0].task_id, r[0].table, r[0].error, r[0].records_affected)
                == (TASK, "Accounts", "Login failed", None)
                and r[0].state is RunState.FAILED
                and r[0].start_time == datetime(2025, 2, 21, 9, 31, 8, tzinfo=UTC)
            )
            or pytest.fail(repr(r))
        ),
    ),
    Case(
        "jobs.tasks.history",
        lambda c: c.jobs.tasks.history(JOB, TASK),
        [
            Ex(
                "GET",
                f"v2/jobs/{Q_JOB}/tasks/{TASK}/history",
                reply={"value": [{"status": "Successful", "records": 5}]},
            )
        ],
        lambda r: (r[0].state is RunState.SUCCESS and r[0].records_affected == 5) or pytest.fail(repr(r)),
    ),
    Case(
        "jobs.tasks.resolve",
        lambda c: c.jobs.tasks.resolve(JOB, ["accounts", TASK]),
        [Ex("GET", f"v2/jobs/{Q_JOB}/tasks", reply=TASKS)],
        lambda r: [t.id for t in r] == [TASK, TASK] or pytest.fail(repr(r)),
    ),
    # ------------------------------------------------------------- transformations
    Case(
        "transformations.list",
        lambda c: c.transformations.list(WS),
        [
            Ex(
                "GET",
                f"v2/workspaces/{Q_WS}/transformations",
                reply=[{"TransformationId": "t-1", "Name": "T One"}],
            )
        ],
        lambda r: (isinstance(r[0], Transformation) and r[0].id == "t-1") or pytest.fail(repr(r)),
    ),
    Case(
        "transformations.get",
        lambda c: c.transformations.get(TR),
        [
            Ex(
                "GET",
                f"v2/transformations/{Q_TR}",
                reply={"id": TR, "name": "T", "schedule": {"Enabled": True}},
            )
        ],
        lambda r: (r.id == TR and r.schedule is not None and r.schedule.enabled) or pytest.fail(repr(r)),
    ),
    Case(
        "transformations.resolve",
        lambda c: c.transformations.resolve("t one", workspace=WS),
        [Ex("GET", f"v2/workspaces/{Q_WS}/transformations", reply=[{"id": "t-1", "name": "T One"}])],
        lambda r: r.id == "t-1" or pytest.fail(repr(r)),
    ),
    Case(
        "transformations.create",
        lambda c: c.transformations.create(
            "T",
            "SF",
            queries=["SELECT 1"],
            schedule_enabled=True,
            cron="*/5 * * * *",
            workspace=WS,
            Description="d",
        ),
        [
            Ex("GET", f"v2/workspaces/{Q_WS}/connections", reply=CONNECTIONS),
            Ex(
                "POST",
                f"v2/workspaces/{Q_WS}/transformations",
                body={
                    "name": "T",
                    "type": "SQL",
                    "destination_connection": {"id": "c-sf", "name": "SF"},
                    "schedule": {"enabled": True, "cron": "*/5 * * * *"},
                    "trigger": {"type": "Schedule", "schedule_cron": "*/5 * * * *"},
                    "description": "d",
                },
                reply={"Id": "t-2", "Name": "T", "Destination-Connection": {"Id": "c-sf", "Name": "SF"}},
            ),
            Ex(
                "POST",
                "v2/transformations/t-2/tasks",
                body={"query": "SELECT 1", "is_active": True},
                reply={"id": "5", "query": "SELECT 1"},
            ),
        ],
        lambda r: (r.id, r.connection_id, r.connection_name) == ("t-2", "c-sf", "SF") or pytest.fail(repr(r)),
    ),
    Case(
        "transformations.create (after a job, with alerts, default workspace)",
        lambda c: c.transformations.create(
            "T", "dest", after_job="j-1", after_job_tasks=[TASK], email_to="ops@example.com"
        ),
        [
            Ex("GET", "v2/workspaces/default/connections", reply=CONNECTIONS),
            Ex(
                "POST",
                "v2/workspaces/default/transformations",
                body={
                    "name": "T",
                    "type": "SQL",
                    "destination_connection": {"id": "c-dest", "name": "Dest"},
                    "trigger": {"type": "After_Job", "after_job": "j-1", "after_job_tasks": [TASK]},
                    "alerts": {"send_email": True, "email_to": "ops@example.com"},
                },
                reply={"id": "t-3", "name": "T", "destination_connection": {"id": "c-dest"}},
            ),
        ],
        lambda r: (r.id, r.connection_id) == ("t-3", "c-dest") or pytest.fail(repr(r)),
        ops=("transformations.create",),
    ),
    Case(
        "transformations.update",
        lambda c: c.transformations.update(TR, Name="T2", isActive=True, Skip=None),
        [Ex("PUT", f"v2/transformations/{Q_TR}", body={"name": "T2", "is_active": True})],
        is_none,
    ),
    Case(
        "transformations.delete",
        lambda c: c.transformations.delete(TR),
        [Ex("DELETE", f"v2/transformations/{Q_TR}")],
        is_none,
    ),
    Case(
        "transformations.execute",
        lambda c: c.transformations.execute(TR),
        [Ex("POST", f"v2/transformations/{Q_TR}/execute", reply={"run_id": "r-1", "status": "Running"})],
        lambda r: (r.id == "r-1" and r.state is RunState.RUNNING) or pytest.fail(repr(r)),
    ),
    Case(
        "transformations.cancel",
        lambda c: c.transformations.cancel(TR),
        [Ex("POST", f"v2/transformations/{Q_TR}/cancel")],
        is_none,
    ),
    Case(
        "transformations.history",
        lambda c: c.transformations.history(TR),
        [Ex("GET", f"v2/transformations/{Q_TR}/history", reply=HISTORY)],
        _check_history,
    ),
    Case(
        "transformations.get_history",
        lambda c: c.transformations.get_history(TR, HIST),
        [
            Ex(
                "GET",
                f"v2/transformations/{Q_TR}/history/{Q_HIST}",
                reply={"history_id": "h", "status": "Canceled"},
            )
        ],
        lambda r: (r.id == "h" and r.state is RunState.CANCELLED) or pytest.fail(repr(r)),
    ),
    Case(
        "transformations.status",
        lambda c: c.transformations.status(TR),
        [Ex("GET", f"v2/transformations/{Q_TR}/status", reply={"Status": "Idle"})],
        lambda r: r.state is RunState.IDLE or pytest.fail(repr(r)),
    ),
    Case(
        "transformations.tasks.list",
        lambda c: c.transformations.tasks.list(TR),
        [Ex("GET", f"v2/transformations/{Q_TR}/tasks", reply=TASKS)],
        lambda r: r[0].id == TASK or pytest.fail(repr(r)),
    ),
    Case(
        "transformations.tasks.get",
        lambda c: c.transformations.tasks.get(TR, TASK),
        [Ex("GET", f"v2/transformations/{Q_TR}/tasks/{TASK}", reply={"TaskId": TASK})],
        lambda r: r.id == TASK or pytest.fail(repr(r)),
    ),
    Case(
        "transformations.tasks.add",
        lambda c: c.transformations.tasks.add(TR, "SELECT 1"),
        [
            Ex(
                "POST",
                f"v2/transformations/{Q_TR}/tasks",
                body={"query": "SELECT 1", "is_active": True},
                reply={"id": "5", "query": "SELECT 1"},
            )
        ],
        lambda r: r.id == "5" or pytest.fail(repr(r)),
    ),
    Case(
        "transformations.tasks.update",
        lambda c: c.transformations.tasks.update(TR, TASK, is_active=False),
        [Ex("PUT", f"v2/transformations/{Q_TR}/tasks/{TASK}", body={"is_active": False})],
        is_none,
    ),
    Case(
        "transformations.tasks.delete",
        lambda c: c.transformations.tasks.delete(TR, TASK),
        [Ex("DELETE", f"v2/transformations/{Q_TR}/tasks/{TASK}")],
        is_none,
    ),
    Case(
        "transformations.tasks.move",
        lambda c: c.transformations.tasks.move(TR, TASK, 3, 0),
        [Ex("POST", f"v2/transformations/{Q_TR}/tasks/{TASK}/move", body={"from_index": 3, "to_index": 0})],
        is_none,
    ),
    Case(
        "transformations.tasks.last_run",
        lambda c: c.transformations.tasks.last_run(TR),
        [
            Ex(
                "GET",
                f"v2/transformations/{Q_TR}/tasks/last-run",
                reply=[{"TaskId": TASK, "Status": "SUCCESS", "RowsAffected": "3"}],
            )
        ],
        lambda r: (
            (
                isinstance(r[0], TaskRun)
                and (r[0].task_id, r[0].records_affected) == (TASK, 3)
                and r[0].state is RunState.SUCCESS
            )
            or pytest.fail(repr(r))
        ),
    ),
    Case(
        "transformations.tasks.history",
        lambda c: c.transformations.tasks.history(TR, TASK),
        [
            Ex(
                "GET",
                f"v2/transformations/{Q_TR}/tasks/{TASK}/history",
                reply={"items": [{"status": "Failed", "error": "syntax error"}]},
            )
        ],
        lambda r: (r[0].state is RunState.FAILED and r[0].error == "syntax error") or pytest.fail(repr(r)),
    ),
    Case(
        "transformations.tasks.resolve",
        lambda c: c.transformations.tasks.resolve(TR, [TASK, "ACCOUNTS"]),
        [Ex("GET", f"v2/transformations/{Q_TR}/tasks", reply=TASKS)],
        lambda r: [t.id for t in r] == [TASK, TASK] or pytest.fail(repr(r)),
    ),
    # ------------------------------------------------------------------- pipelines
    Case(
        "pipelines.list",
        lambda c: c.pipelines.list(WS),
        [
            Ex(
                "GET",
                f"v2/workspaces/{Q_WS}/pipelines",
                reply={"value": [{"PipelineId": "p-1", "PipelineName": "P"}]},
            )
        ],
        lambda r: (
            (isinstance(r[0], Pipeline) and (r[0].id, r[0].name) == ("p-1", "P")) or pytest.fail(repr(r))
        ),
    ),
    Case(
        "pipelines.get",
        lambda c: c.pipelines.get(PL),
        [
            Ex(
                "GET",
                f"v2/pipelines/{Q_PL}",
                reply={
                    "id": PL,
                    "name": "P",
                    "schedule": {"enabled": True, "cron": "0 0 * * *"},
                    "labels": ["x"],
                },
            )
        ],
        lambda r: (
            (r.schedule is not None and r.schedule.cron == "0 0 * * *" and r.labels == ["x"])
            or pytest.fail(repr(r))
        ),
    ),
    Case(
        "pipelines.resolve",
        lambda c: c.pipelines.resolve(PL, workspace=WS),
        [Ex("GET", f"v2/workspaces/{Q_WS}/pipelines", reply=[{"id": PL, "name": "P"}])],
        lambda r: r.id == PL or pytest.fail(repr(r)),
    ),
    Case(
        "pipelines.create",
        lambda c: c.pipelines.create(
            "P", schedule_enabled=False, cron="0 0 * * *", labels=["x"], workspace=WS
        ),
        [
            Ex(
                "POST",
                f"v2/workspaces/{Q_WS}/pipelines",
                body={"name": "P", "schedule": {"enabled": False, "cron": "0 0 * * *"}, "labels": ["x"]},
                reply={"id": "p-2", "name": "P"},
            )
        ],
        lambda r: r.id == "p-2" or pytest.fail(repr(r)),
    ),
    Case(
        "pipelines.update",
        lambda c: c.pipelines.update(PL, name="P2", labels=[]),
        [Ex("PUT", f"v2/pipelines/{Q_PL}", body={"name": "P2", "labels": []})],
        is_none,
    ),
    Case(
        "pipelines.delete", lambda c: c.pipelines.delete(PL), [Ex("DELETE", f"v2/pipelines/{Q_PL}")], is_none
    ),
    Case(
        "pipelines.delete (pipeline_only)",
        lambda c: c.pipelines.delete(PL, pipeline_only=True),
        [Ex("DELETE", f"v2/pipelines/{Q_PL}", params={"pipeline_only": "true"})],
        is_none,
        ops=("pipelines.delete",),
    ),
    Case(
        "pipelines.execute",
        lambda c: c.pipelines.execute(PL),
        [Ex("POST", f"v2/pipelines/{Q_PL}/execute", reply={"id": "r-2", "status": "Starting"})],
        lambda r: (r.id == "r-2" and r.state is RunState.RUNNING) or pytest.fail(repr(r)),
    ),
    Case(
        "pipelines.cancel",
        lambda c: c.pipelines.cancel(PL),
        [Ex("POST", f"v2/pipelines/{Q_PL}/cancel")],
        is_none,
    ),
    Case(
        "pipelines.history",
        lambda c: c.pipelines.history(PL),
        [Ex("GET", f"v2/pipelines/{Q_PL}/history", reply={"data": HISTORY})],
        _check_history,
    ),
    Case(
        "pipelines.get_history",
        lambda c: c.pipelines.get_history(PL, HIST),
        [
            Ex(
                "GET",
                f"v2/pipelines/{Q_PL}/history/{Q_HIST}",
                reply={"id": "h", "status": "Error", "error": "x"},
            )
        ],
        lambda r: (r.state is RunState.FAILED and r.error_text == "x") or pytest.fail(repr(r)),
    ),
    Case(
        "pipelines.status",
        lambda c: c.pipelines.status(PL),
        [Ex("GET", f"v2/pipelines/{Q_PL}/status", reply={"JobStatus": "No Jobs Running"})],
        lambda r: r.state is RunState.IDLE or pytest.fail(repr(r)),
    ),
    Case(
        "pipelines.steps.list",
        lambda c: c.pipelines.steps.list(PL),
        [
            Ex(
                "GET",
                f"v2/pipelines/{Q_PL}/steps",
                reply=[{"StepId": STEP, "Index": "0", "Type": "job", "JobId": "j-1"}],
            )
        ],
        lambda r: (
            (isinstance(r[0], PipelineStep) and (r[0].id, r[0].index, r[0].target_id) == (STEP, 0, "j-1"))
            or pytest.fail(repr(r))
        ),
    ),
    Case(
        "pipelines.steps.create",
        lambda c: c.pipelines.steps.create(PL, "job", "j-1", index=0, ContinueOnError=True),
        [
            Ex(
                "POST",
                f"v2/pipelines/{Q_PL}/steps",
                body={"type": "job", "target_id": "j-1", "index": 0, "continue_on_error": True},
                reply={"id": STEP, "type": "job", "target_id": "j-1"},
            )
        ],
        lambda r: r.id == STEP or pytest.fail(repr(r)),
    ),
    Case(
        "pipelines.steps.update",
        lambda c: c.pipelines.steps.update(PL, STEP, Index=2),
        [Ex("PUT", f"v2/pipelines/{Q_PL}/steps/{Q_STEP}", body={"index": 2})],
        is_none,
    ),
    Case(
        "pipelines.steps.delete",
        lambda c: c.pipelines.steps.delete(PL, STEP),
        [Ex("DELETE", f"v2/pipelines/{Q_PL}/steps/{Q_STEP}")],
        is_none,
    ),
    Case(
        "pipelines.steps.move",
        lambda c: c.pipelines.steps.move(PL, STEP, 1, 0),
        [Ex("POST", f"v2/pipelines/{Q_PL}/steps/{Q_STEP}/move", body={"from_index": 1, "to_index": 0})],
        is_none,
    ),
    Case(
        "pipelines.events.list",
        lambda c: c.pipelines.events.list(PL),
        [
            Ex(
                "GET",
                f"v2/pipelines/{Q_PL}/events",
                reply=[{"EventId": EVT, "Name": "e", "Script": "print(1)", "Labels": ["x"]}],
            )
        ],
        lambda r: (
            (
                isinstance(r[0], PipelineEvent)
                and (r[0].id, r[0].name, r[0].script, r[0].labels) == (EVT, "e", "print(1)", ["x"])
            )
            or pytest.fail(repr(r))
        ),
    ),
    Case(
        "pipelines.events.get",
        lambda c: c.pipelines.events.get(PL, EVT),
        [Ex("GET", f"v2/pipelines/{Q_PL}/events/{Q_EVT}", reply={"id": EVT, "script": "print(1)"})],
        lambda r: (r.id, r.script) == (EVT, "print(1)") or pytest.fail(repr(r)),
    ),
    Case(
        "pipelines.events.create",
        lambda c: c.pipelines.events.create(PL, "e", "print(1)", labels=["x"]),
        [
            Ex(
                "POST",
                f"v2/pipelines/{Q_PL}/events",
                body={"name": "e", "script": "print(1)", "labels": ["x"]},
                reply={"id": EVT, "name": "e"},
            )
        ],
        lambda r: r.id == EVT or pytest.fail(repr(r)),
    ),
    Case(
        "pipelines.events.update",
        lambda c: c.pipelines.events.update(PL, EVT, script="print(2)", labels=[]),
        [Ex("PUT", f"v2/pipelines/{Q_PL}/events/{Q_EVT}", body={"script": "print(2)", "labels": []})],
        is_none,
    ),
    Case(
        "pipelines.events.delete",
        lambda c: c.pipelines.events.delete(PL, EVT),
        [Ex("DELETE", f"v2/pipelines/{Q_PL}/events/{Q_EVT}")],
        is_none,
    ),
    # ----------------------------------------------------------------------- users
    Case(
        "users.list",
        lambda c: c.users.list(),
        [Ex("GET", "v2/users", reply={"value": [{"User": "admin", "Role": "Admin", "Active": "true"}]})],
        lambda r: (
            (isinstance(r[0], User) and (r[0].name, r[0].role, r[0].active) == ("admin", "Admin", True))
            or pytest.fail(repr(r))
        ),
    ),
    Case(
        "users.get",
        lambda c: c.users.get(USER),
        [Ex("GET", f"v2/users/{Q_USER}", reply={"UserId": USER, "UserName": "bob"})],
        lambda r: (r.id, r.name) == (USER, "bob") or pytest.fail(repr(r)),
    ),
    Case(
        "users.create",
        lambda c: c.users.create("bob", password="pw", role="Admin", Active=True),
        [
            Ex(
                "POST",
                "v2/users",
                body={"name": "bob", "password": "pw", "role": "Admin", "active": True},
                reply={"id": "u-1", "name": "bob"},
            )
        ],
        lambda r: r.id == "u-1" or pytest.fail(repr(r)),
    ),
    Case(
        "users.update",
        lambda c: c.users.update(USER, Role="Standard"),
        [Ex("PUT", f"v2/users/{Q_USER}", body={"role": "Standard"})],
        is_none,
    ),
    Case("users.delete", lambda c: c.users.delete(USER), [Ex("DELETE", f"v2/users/{Q_USER}")], is_none),
    Case(
        "users.generate_token",
        lambda c: c.users.generate_token("bob"),
        [Ex("POST", "v2/users/generate-token", body={"user": "bob"}, reply={"Token": "minted-token"})],
        lambda r: r == "minted-token" or pytest.fail(repr(r)),
    ),
    Case(
        "users.generate_token (bare string)",
        lambda c: c.users.generate_token("bob"),
        [Ex("POST", "v2/users/generate-token", body={"user": "bob"}, reply="minted-2")],
        lambda r: r == "minted-2" or pytest.fail(repr(r)),
        ops=("users.generate_token",),
    ),
]


def ops_of(case: Case) -> tuple[str, ...]:
    return case.ops or (case.id,)


def script(server: FakeServer, case: Case) -> None:
    for ex in case.exchanges:
        server.add(ex.method, ex.path, ex.reply if ex.reply is not None else httpx.Response(204))


def verify(server: FakeServer, case: Case, result: Any) -> None:
    sent = [
        (r.method, r.url.raw_path.decode().split("?")[0].split("/api.rsc/", 1)[1], params_of(r), body_of(r))
        for r in server.requests
    ]
    expected = [(ex.method, ex.path, ex.params, ex.body) for ex in case.exchanges]
    assert sent == expected
    for request in server.requests:
        assert TOKEN not in str(request.url)
        assert request.headers["x-cdata-authtoken"] == TOKEN
        assert request.headers["accept"] == "application/json"
        if request.content:
            assert request.headers["content-type"] == "application/json"
    case.check(result)


def resource_operations(owner: Any, prefix: str = "") -> set[str]:
    """The dotted names (``jobs.tasks.move``) of every operation of the resource groups below ``owner``."""
    found: set[str] = set()
    for name in dir(type(owner)) + list(vars(owner)):
        if name.startswith("_"):
            continue
        static = inspect.getattr_static(owner, name)
        if isinstance(static, operation):
            if isinstance(owner, Resource):
                found.add(prefix + name)
            continue
        value = getattr(owner, name)
        if isinstance(value, Resource) and value is not owner:
            found |= resource_operations(value, f"{prefix}{name}.")
    return found


def test_every_operation_is_in_the_table(client: CDataSyncClient) -> None:
    operations = resource_operations(client)
    covered = {op for case in CASES for op in ops_of(case)}
    assert operations - covered == set(), "operations without a row in CASES"
    assert covered - operations == set(), "rows naming no operation"
    assert len(operations) >= 80


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_sync_client(case: Case, server: FakeServer, client: Any) -> None:
    script(server, case)
    result = case.call(client)
    assert not inspect.isawaitable(result)
    verify(server, case, result)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_async_client(case: Case, server: FakeServer, async_client: Any) -> None:
    script(server, case)
    pending = case.call(async_client)
    assert inspect.isawaitable(pending)
    verify(server, case, await pending)


# -------------------------------------------------------------- job settings and job types
def test_create_job_rejects_an_unknown_setting_listing_the_known_ones(
    server: FakeServer, client: Any
) -> None:
    with pytest.raises(CDataSyncConfigError) as info:
        client.jobs.create("J", Wrker_Pool=3)
    message = str(info.value)
    assert "'Wrker_Pool'" in message and "worker_pool" in message and "continue_on_error" in message
    assert server.requests == []


def test_create_job_rejects_an_unknown_type(server: FakeServer, client: Any) -> None:
    with pytest.raises(CDataSyncConfigError, match=r"Unknown job type 'Nightly'.*ReverseETL"):
        client.jobs.create("J", type="Nightly")
    assert server.requests == []


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ({"Email_Error_Only": True}, {"email_error_only": True}),
        ({"EmailErrorOnly": True}, {"email_error_only": True}),
        ({"email-error-only": True}, {"email_error_only": True}),
        ({"workerPool": 2}, {"worker_pool": 2}),
        ({"WORKER_POOL": 2}, {"worker_pool": 2}),
        ({"Use_GMT_DateTime": True}, {"use_gmt_datetime": True}),
        ({"useGmtDatetime": True}, {"use_gmt_datetime": True}),
        ({"PipelineId": "p"}, {"pipeline_id": "p"}),
        ({"continue_on_error": None}, {}),
    ],
)
def test_job_settings_accept_any_spelling(
    given: dict[str, Any], sent: dict[str, Any], server: FakeServer, client: Any
) -> None:
    server.add("PUT", "v2/jobs/j", httpx.Response(204))
    client.jobs.update("j", **given)
    assert body_of(server.requests[0]) == sent


def test_create_transformation_rejects_an_unknown_type(server: FakeServer, client: Any) -> None:
    with pytest.raises(CDataSyncConfigError, match=r"Unknown transformation type 'Python'.*DBT-Cloud"):
        client.transformations.create("T", "c-dest", type="Python")
    assert server.requests == []
