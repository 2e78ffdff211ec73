"""API v1: OData keys and $filter values built from hostile names, against the emulator's v1 API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
from cdata_sync_emulator import CDataSyncEmulator
from cdata_sync_emulator.testing import running_emulator, seed_small_job

from airflow_provider_cdata_sync.client import (
    CDataSyncConfigError,
    CDataSyncLookupError,
    CDataSyncNotFoundError,
    CDataSyncUnsupportedError,
    CDataSyncV1Client,
    ClientConfig,
    connect,
)
from airflow_provider_cdata_sync.client.v1 import odata

HOSTILE = [
    "O'Brien",
    "x') or true or ('",
    "a' eq 'a",
    "Sales/2025 #1 100%",
    "naïve ünïcode",
    "trailing space ",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_string_literal_doubles_quotes_and_round_trips(name: str) -> None:
    literal = odata.string_literal(name)
    assert literal.startswith("'") and literal.endswith("'")
    inner = literal[1:-1]
    assert "'" not in inner.replace("''", "")  # no lone quote can end the literal early
    assert inner.replace("''", "'") == name


@pytest.mark.parametrize("name", HOSTILE)
def test_entity_path_is_one_url_segment(name: str) -> None:
    path = odata.entity_path("jobs", name)
    assert "/" not in path and "#" not in path and "?" not in path
    assert unquote(path) == f"jobs({odata.string_literal(name)})"


def test_filter_literals() -> None:
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert odata.eq("JobName", "O'Brien") == "JobName eq 'O''Brien'"
    assert odata.ge("RunStartDate", when) == "RunStartDate ge 2025-01-02T03:04:05Z"
    assert odata.eq("Id", 12) == "Id eq 12"
    assert odata.all_of("A eq 1", "B eq 2") == "(A eq 1) and (B eq 2)"
    with pytest.raises(ValueError, match="Invalid OData field name"):
        odata.eq("JobName eq 'x' or Id", 1)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[CDataSyncEmulator]:
    with running_emulator(tmp_path) as emulator:
        yield emulator


@pytest.fixture
def client(server: CDataSyncEmulator) -> Iterator[CDataSyncV1Client]:
    with CDataSyncV1Client(ClientConfig(server.base_url, token=server.token, api_version="v1")) as v1:
        yield v1


@pytest.mark.parametrize("name", ["O'Brien", "x') or true or ('", "Sales/2025 #1 100%"])
def test_hostile_job_names_address_exactly_their_job(server: CDataSyncEmulator, client, name: str) -> None:
    other = seed_small_job(server, name="Innocent", rows=3)
    seed_small_job(server, name=name, prefix="h", rows=5)
    full_name = f"h{name}"

    job = client.jobs.get(full_name)
    target = client.resolve_target("job", full_name)
    run = client.start_run(target)
    server.wait_run(str(run.id))
    server.wait_run(str(client.start_run(client.resolve_target("job", "Innocent")).id))

    assert job.name == full_name
    runs = client.list_runs(target)
    assert [r.id for r in runs] == [run.id]  # the other job's run never leaks through the filter
    since = client.runs_since(target, datetime(2000, 1, 1, tzinfo=UTC))
    assert [r.id for r in since] == [run.id]
    assert client.get_run(target, str(run.id)).records_affected == 10
    assert other.job_id != target.id


def test_v1_run_control_reports_tasks_logs_and_cancel(server: CDataSyncEmulator, client) -> None:
    seed_small_job(server, name="Orders", tables={"orders": 50, "lines": 80})
    target = client.resolve_target("job", "orders")
    queries = client.resolve_tasks(target, ["lines"])

    run = client.start_run(target, queries)
    server.wait_run(str(run.id))
    finished = client.get_run(target, str(run.id))
    log = client.fetch_run_log(target, finished)

    assert finished.state.value == "success"
    assert [task.table for task in finished.tasks] == ["lines"]
    assert log is not None and "lines" in log.text

    server.set_speed(min_run_seconds=30, target_id=target.id)
    running = client.start_run(target)
    assert client.current_run(target).id == running.id
    assert client.cancel_run(target) is True
    assert server.wait_run(str(running.id))["status"] == "Cancelled"


def test_v1_lacks_pipelines_with_a_clear_error_but_has_workspaces(client) -> None:
    with pytest.raises(CDataSyncUnsupportedError, match="needs the CData Sync API v2"):
        client.resolve_target("pipeline", "Anything")
    # v1 has workspaces (API-FACTS: ?workspaceId= on every v1 call): a named workspace is asked for, not
    # refused; one that does not exist is a clear not-found.
    with pytest.raises(CDataSyncNotFoundError, match="Workspace 'finance' was not found"):
        client.jobs.list("finance")


def test_unknown_job_lists_what_exists(server: CDataSyncEmulator, client) -> None:
    seed_small_job(server, name="Alpha")
    with pytest.raises(CDataSyncLookupError, match="Known jobs: 'Alpha'"):
        client.resolve_target("job", "Beta")


def test_auto_detects_the_api_version_once(server: CDataSyncEmulator) -> None:
    config = ClientConfig(server.base_url, token=server.token, api_version="auto")
    assert connect(config).api_version == "v2"
    # A server without v2 (every v2 path answers 404) is spoken to in v1.
    server.inject_fault(r"/api\.rsc/v2/.*", "status", status=404, count=10)
    assert connect(config).api_version == "v1"
    with pytest.raises(CDataSyncConfigError, match="api_version"):
        ClientConfig(server.base_url, token="t", api_version="v3")  # type: ignore[arg-type]
