"""Every v2 endpoint, through the sync and the async client: method, path, query, body, parsed result.

The table below is the single list of expectations. ``test_every_operation_is_in_the_table`` makes a new
``@operation`` on ``V2Api`` without a row here fail.
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

from airflow_provider_cdata_sync.client import CDataSyncConfigError, RunState
from airflow_provider_cdata_sync.client.http import operation
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
from airflow_provider_cdata_sync.client.v2 import V2Api

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
    ops: tuple[str, ...] = ()  # the V2Api operations this row covers (derived from the id by default)


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
        "list_workspaces",
        lambda c: c.list_workspaces(),
        [Ex("GET", "v2/workspaces", reply={"value": [{"Id": "default", "Name": "Default"}, {"id": "w2"}]})],
        lambda r: (
            [(w.id, w.name) for w in r] == [("default", "Default"), ("w2", None)] or pytest.fail(repr(r))
        ),
    ),
    Case(
        "get_workspace",
        lambda c: c.get_workspace(WS),
        [Ex("GET", f"v2/workspaces/{Q_WS}", reply={"WorkspaceId": WS, "WorkspaceName": "Mine"})],
        lambda r: (isinstance(r, Workspace) and r.id == WS and r.name == "Mine") or pytest.fail(repr(r)),
    ),
    Case(
        "create_workspace",
        lambda c: c.create_workspace("New WS"),
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
        "rename_workspace",
        lambda c: c.rename_workspace(WS, "Renamed"),
        [Ex("PUT", f"v2/workspaces/{Q_WS}", body={"name": "Renamed"}, reply={"id": WS, "name": "Renamed"})],
        lambda r: r.name == "Renamed" or pytest.fail(repr(r)),
    ),
    Case(
        "delete_workspace", lambda c: c.delete_workspace(WS), [Ex("DELETE", f"v2/workspaces/{Q_WS}")], is_none
    ),
    Case(
        "resolve_workspace",
        lambda c: c.resolve_workspace("mine"),
        [Ex("GET", "v2/workspaces", reply=[{"id": "default"}, {"id": WS, "name": "Mine"}])],
        lambda r: r.id == WS or pytest.fail(repr(r)),
    ),
    # ----------------------------------------------------------------- connections
    Case(
        "list_connections",
        lambda c: c.list_connections(WS),
        [Ex("GET", f"v2/workspaces/{Q_WS}/connections", reply={"data": CONNECTIONS})],
        lambda r: [(x.id, x.name) for x in r] == [("c-sf", "SF"), ("c-dest", "Dest")] or pytest.fail(repr(r)),
    ),
    Case(
        "list_connections (default workspace)",
        lambda c: c.list_connections(),
        [Ex("GET", "v2/workspaces/default/connections", reply=[])],
        lambda r: r == [] or pytest.fail(repr(r)),
        ops=("list_connections",),
    ),
    Case(
        "get_connection",
        lambda c: c.get_connection(CONN),
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
        "create_connection",
        lambda c: c.create_connection(
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
        "update_connection",
        lambda c: c.update_connection(CONN, name="Renamed", settings={"Metadata_Refresh_Interval": "daily"}),
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
        "update_connection (empty answer)",
        lambda c: c.update_connection(CONN, properties={"Password": "x"}, connector_version="2", labels=[]),
        [
            Ex(
                "PUT",
                f"v2/connections/{Q_CONN}",
                body={"properties": {"Password": "x"}, "connector_version": "2", "labels": []},
            )
        ],
        is_none,
        ops=("update_connection",),
    ),
    Case(
        "delete_connection",
        lambda c: c.delete_connection(CONN),
        [Ex("DELETE", f"v2/connections/{Q_CONN}")],
        is_none,
    ),
    Case(
        "test_connection",
        lambda c: c.test_connection(CONN),
        [Ex("POST", f"v2/connections/{Q_CONN}/test", reply={"Success": True, "Message": "Connected"})],
        lambda r: (
            (isinstance(r, TestResult) and r.success and r.message == "Connected") or pytest.fail(repr(r))
        ),
    ),
    Case(
        "test_connection (failed test is returned)",
        lambda c: c.test_connection(CONN),
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
        ops=("test_connection",),
    ),
    Case(
        "test_connection (plain message)",
        lambda c: c.test_connection(CONN),
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
        ops=("test_connection",),
    ),
    Case(
        "list_tables",
        lambda c: c.list_tables(
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
        "list_columns",
        lambda c: c.list_columns(CONN, TABLE, reset_metadata=False),
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
        "reset_metadata",
        lambda c: c.reset_metadata(CONN),
        [Ex("POST", f"v2/connections/{Q_CONN}/reset-metadata", reply={"ok": True})],
        lambda r: r == {"ok": True} or pytest.fail(repr(r)),
    ),
    Case(
        "reset_credentials",
        lambda c: c.reset_credentials(CONN),
        [Ex("POST", f"v2/connections/{Q_CONN}/reset-credentials")],
        is_none,
    ),
    Case(
        "list_connection_logs",
        lambda c: c.list_connection_logs(CONN),
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
        "download_connection_log",
        lambda c: c.download_connection_log(CONN, LOG),
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
        "resolve_connection",
        lambda c: c.resolve_connection("dest", workspace=WS),
        [Ex("GET", f"v2/workspaces/{Q_WS}/connections", reply=CONNECTIONS)],
        lambda r: r.id == "c-dest" or pytest.fail(repr(r)),
    ),
    # ------------------------------------------------------------------------ jobs
    Case(
        "list_jobs",
        lambda c: c.list_jobs(WS),
        [Ex("GET", f"v2/workspaces/{Q_WS}/jobs", reply={"items": [{"JobId": "j-1", "JobName": "Nightly"}]})],
        lambda r: [(j.id, j.name) for j in r] == [("j-1", "Nightly")] or pytest.fail(repr(r)),
    ),
    Case(
        "get_job",
        lambda c: c.get_job(JOB),
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
        "resolve_job",
        lambda c: c.resolve_job("NIGHTLY", workspace=WS),
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
        "create_job",
        lambda c: c.create_job(
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
        "create_job (minimal, default workspace)",
        lambda c: c.create_job("Bare"),
        [
            Ex(
                "POST",
                "v2/workspaces/default/jobs",
                body={"name": "Bare", "type": "Standard"},
                reply={"id": "j-9", "name": "Bare"},
            )
        ],
        lambda r: r.id == "j-9" or pytest.fail(repr(r)),
        ops=("create_job",),
    ),
    Case(
        "update_job",
        lambda c: c.update_job(
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
    Case("delete_job", lambda c: c.delete_job(JOB), [Ex("DELETE", f"v2/jobs/{Q_JOB}")], is_none),
    Case(
        "execute_job",
        lambda c: c.execute_job(JOB, tasks=[TASK, 870875808946851841]),
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
        "execute_job (all tasks, empty answer)",
        lambda c: c.execute_job(JOB),
        [Ex("POST", f"v2/jobs/{Q_JOB}/execute", reply=lambda _: httpx.Response(202))],
        lambda r: (
            (isinstance(r, Run) and r.id is None and r.state is RunState.UNKNOWN) or pytest.fail(repr(r))
        ),
        ops=("execute_job",),
    ),
    Case(
        "cancel_job",
        lambda c: c.cancel_job(JOB),
        [Ex("POST", f"v2/jobs/{Q_JOB}/cancel", reply={"message": "cancelled"})],
        lambda r: r == {"message": "cancelled"} or pytest.fail(repr(r)),
    ),
    Case(
        "list_job_history",
        lambda c: c.list_job_history(JOB),
        [Ex("GET", f"v2/jobs/{Q_JOB}/history", reply=HISTORY)],
        _check_history,
    ),
    Case(
        "get_job_history",
        lambda c: c.get_job_history(JOB, HIST),
        [Ex("GET", f"v2/jobs/{Q_JOB}/history/{Q_HIST}", reply={"value": [HISTORY[0]]})],
        lambda r: _check_history([r, Run(status="Completed")]),
    ),
    Case(
        "get_job_status",
        lambda c: c.get_job_status(JOB),
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
        "list_job_tasks",
        lambda c: c.list_job_tasks(JOB),
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
        "get_job_task",
        lambda c: c.get_job_task(JOB, TASK),
        [Ex("GET", f"v2/jobs/{Q_JOB}/tasks/{TASK}", reply={"id": TASK, "query": "q", "active": False})],
        lambda r: (r.id == TASK and r.is_active is False and r.table is None) or pytest.fail(repr(r)),
    ),
    Case(
        "add_job_task",
        lambda c: c.add_job_task(
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
        "update_job_task",
        lambda c: c.update_job_task(JOB, TASK, query="REPLICATE [A]", is_active=True, index=1),
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
        "delete_job_task",
        lambda c: c.delete_job_task(JOB, TASK),
        [Ex("DELETE", f"v2/jobs/{Q_JOB}/tasks/{TASK}")],
        is_none,
    ),
    Case(
        "move_job_task",
        lambda c: c.move_job_task(JOB, TASK, 0, 1),
        [Ex("POST", f"v2/jobs/{Q_JOB}/tasks/{TASK}/move", body={"from_index": 0, "to_index": 1})],
        is_none,
    ),
    Case(
        "get_job_tasks_last_run",
        lambda c: c.get_job_tasks_last_run(JOB),
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
        "list_job_task_history",
        lambda c: c.list_job_task_history(JOB, TASK),
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
        "resolve_job_tasks",
        lambda c: c.resolve_job_tasks(JOB, ["accounts", TASK]),
        [Ex("GET", f"v2/jobs/{Q_JOB}/tasks", reply=TASKS)],
        lambda r: [t.id for t in r] == [TASK, TASK] or pytest.fail(repr(r)),
    ),
    # ------------------------------------------------------------- transformations
    Case(
        "list_transformations",
        lambda c: c.list_transformations(WS),
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
        "get_transformation",
        lambda c: c.get_transformation(TR),
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
        "resolve_transformation",
        lambda c: c.resolve_transformation("t one", workspace=WS),
        [Ex("GET", f"v2/workspaces/{Q_WS}/transformations", reply=[{"id": "t-1", "name": "T One"}])],
        lambda r: r.id == "t-1" or pytest.fail(repr(r)),
    ),
    Case(
        "create_transformation",
        lambda c: c.create_transformation(
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
                    "connection_id": "c-sf",
                    "queries": ["SELECT 1"],
                    "schedule": {"enabled": True, "cron": "*/5 * * * *"},
                    "description": "d",
                },
                reply={"id": "t-2", "name": "T", "connection_id": "c-sf"},
            ),
        ],
        lambda r: (r.id, r.connection_id) == ("t-2", "c-sf") or pytest.fail(repr(r)),
    ),
    Case(
        "update_transformation",
        lambda c: c.update_transformation(TR, Name="T2", isActive=True, Skip=None),
        [Ex("PUT", f"v2/transformations/{Q_TR}", body={"name": "T2", "is_active": True})],
        is_none,
    ),
    Case(
        "delete_transformation",
        lambda c: c.delete_transformation(TR),
        [Ex("DELETE", f"v2/transformations/{Q_TR}")],
        is_none,
    ),
    Case(
        "execute_transformation",
        lambda c: c.execute_transformation(TR),
        [Ex("POST", f"v2/transformations/{Q_TR}/execute", reply={"run_id": "r-1", "status": "Running"})],
        lambda r: (r.id == "r-1" and r.state is RunState.RUNNING) or pytest.fail(repr(r)),
    ),
    Case(
        "cancel_transformation",
        lambda c: c.cancel_transformation(TR),
        [Ex("POST", f"v2/transformations/{Q_TR}/cancel")],
        is_none,
    ),
    Case(
        "list_transformation_history",
        lambda c: c.list_transformation_history(TR),
        [Ex("GET", f"v2/transformations/{Q_TR}/history", reply=HISTORY)],
        _check_history,
    ),
    Case(
        "get_transformation_history",
        lambda c: c.get_transformation_history(TR, HIST),
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
        "get_transformation_status",
        lambda c: c.get_transformation_status(TR),
        [Ex("GET", f"v2/transformations/{Q_TR}/status", reply={"Status": "Idle"})],
        lambda r: r.state is RunState.IDLE or pytest.fail(repr(r)),
    ),
    Case(
        "list_transformation_tasks",
        lambda c: c.list_transformation_tasks(TR),
        [Ex("GET", f"v2/transformations/{Q_TR}/tasks", reply=TASKS)],
        lambda r: r[0].id == TASK or pytest.fail(repr(r)),
    ),
    Case(
        "get_transformation_task",
        lambda c: c.get_transformation_task(TR, TASK),
        [Ex("GET", f"v2/transformations/{Q_TR}/tasks/{TASK}", reply={"TaskId": TASK})],
        lambda r: r.id == TASK or pytest.fail(repr(r)),
    ),
    Case(
        "add_transformation_task",
        lambda c: c.add_transformation_task(TR, "SELECT 1"),
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
        "update_transformation_task",
        lambda c: c.update_transformation_task(TR, TASK, is_active=False),
        [Ex("PUT", f"v2/transformations/{Q_TR}/tasks/{TASK}", body={"is_active": False})],
        is_none,
    ),
    Case(
        "delete_transformation_task",
        lambda c: c.delete_transformation_task(TR, TASK),
        [Ex("DELETE", f"v2/transformations/{Q_TR}/tasks/{TASK}")],
        is_none,
    ),
    Case(
        "move_transformation_task",
        lambda c: c.move_transformation_task(TR, TASK, 3, 0),
        [Ex("POST", f"v2/transformations/{Q_TR}/tasks/{TASK}/move", body={"from_index": 3, "to_index": 0})],
        is_none,
    ),
    # ------------------------------------------------------------------- pipelines
    Case(
        "list_pipelines",
        lambda c: c.list_pipelines(WS),
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
        "get_pipeline",
        lambda c: c.get_pipeline(PL),
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
        "resolve_pipeline",
        lambda c: c.resolve_pipeline(PL, workspace=WS),
        [Ex("GET", f"v2/workspaces/{Q_WS}/pipelines", reply=[{"id": PL, "name": "P"}])],
        lambda r: r.id == PL or pytest.fail(repr(r)),
    ),
    Case(
        "create_pipeline",
        lambda c: c.create_pipeline(
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
        "update_pipeline",
        lambda c: c.update_pipeline(PL, name="P2", labels=[]),
        [Ex("PUT", f"v2/pipelines/{Q_PL}", body={"name": "P2", "labels": []})],
        is_none,
    ),
    Case("delete_pipeline", lambda c: c.delete_pipeline(PL), [Ex("DELETE", f"v2/pipelines/{Q_PL}")], is_none),
    Case(
        "delete_pipeline (pipeline_only)",
        lambda c: c.delete_pipeline(PL, pipeline_only=True),
        [Ex("DELETE", f"v2/pipelines/{Q_PL}", params={"pipeline_only": "true"})],
        is_none,
        ops=("delete_pipeline",),
    ),
    Case(
        "execute_pipeline",
        lambda c: c.execute_pipeline(PL),
        [Ex("POST", f"v2/pipelines/{Q_PL}/execute", reply={"id": "r-2", "status": "Starting"})],
        lambda r: (r.id == "r-2" and r.state is RunState.RUNNING) or pytest.fail(repr(r)),
    ),
    Case(
        "cancel_pipeline",
        lambda c: c.cancel_pipeline(PL),
        [Ex("POST", f"v2/pipelines/{Q_PL}/cancel")],
        is_none,
    ),
    Case(
        "list_pipeline_history",
        lambda c: c.list_pipeline_history(PL),
        [Ex("GET", f"v2/pipelines/{Q_PL}/history", reply={"data": HISTORY})],
        _check_history,
    ),
    Case(
        "get_pipeline_history",
        lambda c: c.get_pipeline_history(PL, HIST),
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
        "get_pipeline_status",
        lambda c: c.get_pipeline_status(PL),
        [Ex("GET", f"v2/pipelines/{Q_PL}/status", reply={"JobStatus": "No Jobs Running"})],
        lambda r: r.state is RunState.IDLE or pytest.fail(repr(r)),
    ),
    Case(
        "list_pipeline_steps",
        lambda c: c.list_pipeline_steps(PL),
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
        "create_pipeline_step",
        lambda c: c.create_pipeline_step(PL, "job", "j-1", index=0, ContinueOnError=True),
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
        "update_pipeline_step",
        lambda c: c.update_pipeline_step(PL, STEP, Index=2),
        [Ex("PUT", f"v2/pipelines/{Q_PL}/steps/{Q_STEP}", body={"index": 2})],
        is_none,
    ),
    Case(
        "delete_pipeline_step",
        lambda c: c.delete_pipeline_step(PL, STEP),
        [Ex("DELETE", f"v2/pipelines/{Q_PL}/steps/{Q_STEP}")],
        is_none,
    ),
    Case(
        "move_pipeline_step",
        lambda c: c.move_pipeline_step(PL, STEP, 1, 0),
        [Ex("POST", f"v2/pipelines/{Q_PL}/steps/{Q_STEP}/move", body={"from_index": 1, "to_index": 0})],
        is_none,
    ),
    Case(
        "list_pipeline_events",
        lambda c: c.list_pipeline_events(PL),
        [
            Ex(
                "GET",
                f"v2/pipelines/{Q_PL}/events",
                reply=[{"EventId": EVT, "Name": "e", "Trigger": "OnFailure"}],
            )
        ],
        lambda r: (
            (isinstance(r[0], PipelineEvent) and (r[0].id, r[0].trigger) == (EVT, "OnFailure"))
            or pytest.fail(repr(r))
        ),
    ),
    Case(
        "get_pipeline_event",
        lambda c: c.get_pipeline_event(PL, EVT),
        [Ex("GET", f"v2/pipelines/{Q_PL}/events/{Q_EVT}", reply={"id": EVT, "action": "Email"})],
        lambda r: r.action == "Email" or pytest.fail(repr(r)),
    ),
    Case(
        "create_pipeline_event",
        lambda c: c.create_pipeline_event(PL, Name="e", Trigger="OnFailure", Action="Email"),
        [
            Ex(
                "POST",
                f"v2/pipelines/{Q_PL}/events",
                body={"name": "e", "trigger": "OnFailure", "action": "Email"},
                reply={"id": EVT, "name": "e"},
            )
        ],
        lambda r: r.id == EVT or pytest.fail(repr(r)),
    ),
    Case(
        "update_pipeline_event",
        lambda c: c.update_pipeline_event(PL, EVT, Action="Webhook"),
        [Ex("PUT", f"v2/pipelines/{Q_PL}/events/{Q_EVT}", body={"action": "Webhook"})],
        is_none,
    ),
    Case(
        "delete_pipeline_event",
        lambda c: c.delete_pipeline_event(PL, EVT),
        [Ex("DELETE", f"v2/pipelines/{Q_PL}/events/{Q_EVT}")],
        is_none,
    ),
    # ----------------------------------------------------------------------- users
    Case(
        "list_users",
        lambda c: c.list_users(),
        [Ex("GET", "v2/users", reply={"value": [{"User": "admin", "Role": "Admin", "Active": "true"}]})],
        lambda r: (
            (isinstance(r[0], User) and (r[0].name, r[0].role, r[0].active) == ("admin", "Admin", True))
            or pytest.fail(repr(r))
        ),
    ),
    Case(
        "get_user",
        lambda c: c.get_user(USER),
        [Ex("GET", f"v2/users/{Q_USER}", reply={"UserId": USER, "UserName": "bob"})],
        lambda r: (r.id, r.name) == (USER, "bob") or pytest.fail(repr(r)),
    ),
    Case(
        "create_user",
        lambda c: c.create_user("bob", password="pw", role="Admin", Active=True),
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
        "update_user",
        lambda c: c.update_user(USER, Role="Standard"),
        [Ex("PUT", f"v2/users/{Q_USER}", body={"role": "Standard"})],
        is_none,
    ),
    Case("delete_user", lambda c: c.delete_user(USER), [Ex("DELETE", f"v2/users/{Q_USER}")], is_none),
    Case(
        "generate_token",
        lambda c: c.generate_token("bob"),
        [Ex("POST", "v2/users/generate-token", body={"user": "bob"}, reply={"Token": "minted-token"})],
        lambda r: r == "minted-token" or pytest.fail(repr(r)),
    ),
    Case(
        "generate_token (bare string)",
        lambda c: c.generate_token("bob"),
        [Ex("POST", "v2/users/generate-token", body={"user": "bob"}, reply="minted-2")],
        lambda r: r == "minted-2" or pytest.fail(repr(r)),
        ops=("generate_token",),
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


def test_every_operation_is_in_the_table() -> None:
    operations = {name for name, value in vars(V2Api).items() if isinstance(value, operation)}
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
        client.create_job("J", Wrker_Pool=3)
    message = str(info.value)
    assert "'Wrker_Pool'" in message and "worker_pool" in message and "continue_on_error" in message
    assert server.requests == []


def test_create_job_rejects_an_unknown_type(server: FakeServer, client: Any) -> None:
    with pytest.raises(CDataSyncConfigError, match=r"Unknown job type 'Nightly'.*ReverseETL"):
        client.create_job("J", type="Nightly")
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
    client.update_job("j", **given)
    assert body_of(server.requests[0]) == sent
