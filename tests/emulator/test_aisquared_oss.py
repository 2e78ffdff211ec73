"""The AI Squared emulator's ``oss`` mode, against the open-source server's code (plain httpx, no client)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cdata_sync_emulator.aisquared import AISquaredEmulator
from cdata_sync_emulator.testing import count_rows

UNAUTHORIZED = {"errors": [{"status": 401, "title": "Error", "detail": "Unauthorized"}]}
NO_WORKSPACE = {
    "errors": [
        {
            "status": 400,
            "title": "Bad Request",
            "detail": "There was a problem with the request format: Workspace not found",
            "source": {"pointer": "/request/payload"},
        }
    ]
}
MAPPING = {"id": "id", "name": "full_name", "email": "email", "plan": "plan"}


def sync_body(**changes: Any) -> dict[str, Any]:
    """A valid manual sync of the demo's customers into the CRM."""
    sync = {"source_id": 1, "destination_id": 2, "model_id": 1, "schedule_type": "manual"}
    sync |= {"sync_mode": "full_refresh", "stream_name": "crm_contacts", "configuration": MAPPING}
    return {"sync": {**sync, **changes}}


def errors(response: httpx.Response) -> Any:
    return response.json()["errors"]


def detail(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["detail"])


def claims(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


def wait_until(condition: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.03)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[AISquaredEmulator]:
    with AISquaredEmulator(tmp_path, mode="oss", seed_demo=True, step_seconds=0.02) as emulator:
        yield emulator


@pytest.fixture
def api(server: AISquaredEmulator) -> Iterator[httpx.Client]:
    """A client that has logged in over HTTP and sends the token and the workspace."""
    with httpx.Client(base_url=server.api_url, timeout=10) as client:
        token = client.post("/login", json={"email": server.email, "password": server.password}).json()
        client.headers.update({"Authorization": f"Bearer {token['data']['id']}", "Workspace-Id": "1"})
        yield client


def create_sync(api: httpx.Client, **changes: Any) -> str:
    created = api.post("/syncs", json=sync_body(**changes))
    assert created.status_code == 201, created.text
    return str(created.json()["data"]["id"])


def runs(api: httpx.Client, sync_id: str) -> list[dict[str, Any]]:
    return list(api.get(f"/syncs/{sync_id}/sync_runs").json()["data"])


# ----- login and tokens ---------------------------------------------------------------------------
def test_login_answers_a_jwt_token_resource(server: AISquaredEmulator) -> None:
    with httpx.Client(base_url=server.api_url, timeout=10) as client:
        answer = client.post("/login", json={"email": server.email, "password": server.password})
        assert answer.status_code == 200
        data = answer.json()["data"]
        assert data["type"] == "token" and data["id"] == data["attributes"]["token"]
        payload = claims(data["id"])
        assert payload["exp"] - payload["iat"] in (1800, 1801) and payload["sub"] == "1" and payload["jti"]
        wrong = client.post("/login", json={"email": server.email, "password": "nope"})
        assert wrong.status_code == 401
        assert errors(wrong) == [
            {"status": 401, "title": "Error", "detail": "Invalid login credentials, please try again"}
        ]
        assert client.post("/login", json={"password": "x"}).json() == {"errors": {"email": ["is missing"]}}
        malformed = client.post("/login", json={"email": "not-an-email", "password": "x"})
        assert malformed.status_code == 400
        assert malformed.json() == {"errors": {"email": ["has invalid email format"]}}


def test_five_wrong_passwords_lock_the_account(server: AISquaredEmulator) -> None:
    with httpx.Client(base_url=server.api_url, timeout=10) as client:
        answers = [client.post("/login", json={"email": server.email, "password": "bad"}) for _ in range(5)]
        assert [detail(a) for a in answers[:4]] == ["Invalid login credentials, please try again"] * 4
        assert detail(answers[4]).startswith("Account is locked due to multiple login attempts")
        good = client.post("/login", json={"email": server.email, "password": server.password})
        assert good.status_code == 401 and detail(good).startswith("Account is locked")


def test_tokens_expire_after_their_lifetime(tmp_path: Path) -> None:
    with AISquaredEmulator(tmp_path, mode="oss", token_lifetime=1) as server:
        headers = {"Authorization": f"Bearer {server.login()}", "Workspace-Id": "1"}
        payload = claims(server.token)
        with httpx.Client(base_url=server.api_url, headers=headers, timeout=10) as client:
            assert client.get("/syncs").status_code == 200
            wait_until(lambda: time.time() >= payload["exp"], timeout=5)
            expired = client.get("/syncs")
            assert expired.status_code == 401 and expired.json() == UNAUTHORIZED


def test_the_next_login_revokes_the_previous_token(server: AISquaredEmulator, api: httpx.Client) -> None:
    first = api.headers["Authorization"]
    assert api.get("/syncs").status_code == 200
    second = server.login()  # the same user logs in elsewhere
    revoked = api.get("/syncs")
    assert revoked.status_code == 401 and revoked.json() == UNAUTHORIZED
    assert api.get("/syncs", headers={"Authorization": f"Bearer {second}"}).status_code == 200
    forged = first[:-4] + ("AAAA" if not first.endswith("AAAA") else "BBBB")
    assert api.get("/syncs", headers={"Authorization": forged}).status_code == 401
    assert api.get("/syncs", headers={"Authorization": f"Bearer {server.token}x"}).status_code == 401


# ----- order of the checks ------------------------------------------------------------------------
def test_workspace_id_is_mandatory_and_checked_after_token_and_contract(api: httpx.Client) -> None:
    for headers in ({"Workspace-Id": ""}, {"Workspace-Id": "2"}):
        refused = api.get("/syncs", headers=headers)
        assert refused.status_code == 400 and refused.json() == NO_WORKSPACE
    no_token = api.get("/syncs", headers={"Workspace-Id": "", "Authorization": ""})
    assert no_token.status_code == 401 and no_token.json() == UNAUTHORIZED
    contract_first = api.get("/syncs/abc", headers={"Workspace-Id": "2"})
    assert contract_first.status_code == 400 and contract_first.json() == {
        "errors": {"id": ["must be an integer"]}
    }


def test_host_authorization_refuses_other_host_names(tmp_path: Path, server: AISquaredEmulator) -> None:
    by_ip = f"http://127.0.0.1:{server.port}/api/v1"
    for url, headers in ((by_ip, {}), (server.api_url, {"Host": "evil.example.com"})):
        refused = httpx.get(f"{url}/syncs", headers={**server.headers, **headers})
        assert refused.status_code == 403 and refused.content == b""  # no JSON: not a token problem
        assert refused.headers["content-type"].startswith("text/html")
    assert httpx.post(f"{by_ip}/login", json={}).status_code == 403
    hosted = httpx.get(f"{by_ip}/syncs", headers={**server.headers, "Host": "api.squared.ai"})
    assert hosted.status_code == 200
    assert httpx.get(f"http://127.0.0.1:{server.port}/").status_code != 403  # the health check is exempt
    with AISquaredEmulator(tmp_path / "allowed", mode="oss", allowed_hosts=["127.0.0.1"]) as other:
        ip = f"http://127.0.0.1:{other.port}/api/v1/syncs"
        assert httpx.get(ip, headers=other.headers).status_code == 200
        assert httpx.get(f"{other.api_url}/syncs", headers=other.headers).status_code == 403  # localhost too


# ----- create, read, enable -----------------------------------------------------------------------
def test_create_contract_and_model_failures(api: httpx.Client) -> None:
    sync_id = create_sync(api, name="ignored")
    shown = api.get(f"/syncs/{sync_id}").json()["data"]
    assert shown["type"] == "syncs" and "name" not in shown["attributes"]
    assert shown["attributes"]["status"] == "pending" and shown["attributes"]["model"]["name"] == "Customers"
    missing = api.post(
        "/syncs", json={"sync": {k: v for k, v in sync_body()["sync"].items() if k != "schedule_type"}}
    )
    assert missing.status_code == 400 and missing.json() == {
        "errors": {"sync": {"schedule_type": ["is missing"]}}
    }
    assert api.post("/syncs", json={}).json() == {"errors": {"sync": ["is missing"]}}
    interval = api.post("/syncs", json=sync_body(schedule_type="interval"))
    assert interval.json() == {
        "errors": {"sync": {"sync_interval": ["must be present"], "sync_interval_unit": ["must be present"]}}
    }
    cron = api.post("/syncs", json=sync_body(schedule_type="cron_expression", cron_expression="every day"))
    assert cron.json() == {"errors": {"sync": {"cron_expression": ["invalid cron expression format"]}}}
    empty = api.post("/syncs", json=sync_body(configuration={}, model_id="one"))
    assert empty.json() == {
        "errors": {"sync": {"model_id": ["must be an integer"], "configuration": ["must be filled"]}}
    }
    model = api.post("/syncs", json=sync_body(stream_name="no_such_stream"))
    assert model.status_code == 422
    assert errors(model) == [
        {
            "status": 422,
            "title": "Error",
            "detail": "Sync creation failed",
            "source": {"stream_name": "Add a valid stream_name associated with destination connector"},
        }
    ]
    no_source = api.post(
        "/syncs", json={"sync": {k: v for k, v in sync_body()["sync"].items() if k != "source_id"}}
    )
    assert no_source.status_code == 422
    assert errors(no_source)[0]["source"] == {"source_id": "can't be blank", "source": "must exist"}
    spelled = api.post("/syncs", json=sync_body(sync_mode="Full_Refresh"))
    assert spelled.status_code == 400 and "'Full_Refresh' is not a valid sync_mode" in detail(spelled)
    assert api.get("/syncs/999").json() == {"error": "Couldn't find Sync with 'id'=999"}


def test_enable_is_not_idempotent(api: httpx.Client) -> None:
    sync_id = create_sync(api)

    def enable(flag: bool) -> httpx.Response:
        return api.patch(f"/syncs/{sync_id}/enable", json={"enable": flag})

    refused = enable(True)
    assert refused.status_code == 400 and detail(refused).endswith(
        "Event 'enable' cannot transition from 'pending'."
    )
    assert enable(False).json()["data"]["attributes"]["status"] == "disabled"
    again = enable(False)
    assert again.status_code == 400 and "Event 'disable' cannot transition from 'disabled'" in detail(again)
    assert enable(True).json()["data"]["attributes"]["status"] == "pending"
    assert api.patch(f"/syncs/{sync_id}/enable", json={}).json() == {"errors": {"enable": ["is missing"]}}


# ----- trigger, cancel, the run-creation gap --------------------------------------------------------
def test_trigger_and_cancel_answer_the_servers_texts_in_its_order(api: httpx.Client) -> None:
    def trigger(sync_id: Any) -> httpx.Response:
        return api.post("/schedule_syncs", json={"schedule_sync": {"sync_id": sync_id}})

    assert trigger("x").json() == {"errors": {"schedule_sync": {"sync_id": ["must be an integer"]}}}
    for answer in (trigger(99), api.delete("/schedule_syncs/99")):
        assert answer.status_code == 404 and errors(answer) == [
            {"status": 404, "title": "Error", "detail": "Sync not found"}
        ]
    scheduled = create_sync(api, schedule_type="interval", sync_interval=1, sync_interval_unit="hours")
    for answer in (trigger(int(scheduled)), api.delete(f"/schedule_syncs/{scheduled}")):
        assert answer.status_code == 424 and detail(answer) == "Sync Schedule type should be manual"
    api.patch(f"/syncs/{scheduled}/enable", json={"enable": False})
    for answer in (trigger(int(scheduled)), api.delete(f"/schedule_syncs/{scheduled}")):
        assert detail(answer) == "Sync is disabled"  # checked before the schedule type
    manual = create_sync(api)
    idle = api.delete(f"/schedule_syncs/{manual}")
    assert idle.status_code == 424 and detail(idle) == "Sync cannot be cancelled due to no active sync run"
    assert trigger(int(manual)).json() == {"message": "Sync scheduled successfully"}
    wait_until(lambda: runs(api, manual))
    busy = trigger(int(manual))
    assert busy.status_code == 424 and detail(busy) == "Sync cannot be scheduled due to active sync run"


def test_a_cancel_in_the_run_creation_gap_is_lost_and_the_run_starts(
    server: AISquaredEmulator, api: httpx.Client
) -> None:
    server.set_speed(trigger_delay=2.0)
    sync_id = create_sync(api)
    assert api.post("/schedule_syncs", json={"schedule_sync": {"sync_id": int(sync_id)}}).status_code == 200
    assert runs(api, sync_id) == []  # the 200 came before the run row
    gap = api.delete(f"/schedule_syncs/{sync_id}")
    assert gap.status_code == 424 and detail(gap) == "Sync cannot be cancelled due to no active sync run"
    again = api.post("/schedule_syncs", json={"schedule_sync": {"sync_id": int(sync_id)}})
    assert again.status_code == 200  # the workflow engine refuses a second one: only logged
    (run,) = wait_until(lambda: runs(api, sync_id))
    assert run["attributes"]["status"] in (
        "pending",
        "started",
        "querying",
        "queued",
        "in_progress",
        "success",
    )
    assert server.wait_idle(30)
    (run,) = runs(api, sync_id)
    assert run["attributes"]["status"] == "success"  # the cancel did not stop it
    assert count_rows(server.data_dir / "aisquared-demo" / "crm.db", "crm_contacts") == 240


def test_cancel_marks_the_run_canceled_at_once(server: AISquaredEmulator, api: httpx.Client) -> None:
    server.set_speed(rows_per_second=20)
    sync_id = create_sync(api)
    api.post("/schedule_syncs", json={"schedule_sync": {"sync_id": int(sync_id)}})
    wait_until(lambda: [r for r in runs(api, sync_id) if r["attributes"]["status"] == "in_progress"])
    cancelled = api.delete(f"/schedule_syncs/{sync_id}")
    assert cancelled.json() == {"message": "Sync cancelled successfully"}
    (run,) = runs(api, sync_id)
    assert run["attributes"]["status"] == "canceled" and run["attributes"]["finished_at"] is None
    assert server.wait_idle(30)
    (run,) = runs(api, sync_id)
    assert run["attributes"]["status"] == "canceled"
    assert api.get(f"/syncs/{sync_id}").json()["data"]["attributes"]["status"] == "pending"  # unchanged


def test_a_dropped_trigger_answers_200_and_no_run_appears(
    server: AISquaredEmulator, api: httpx.Client
) -> None:
    server.drop_next_triggers(1)
    sync_id = create_sync(api)
    assert api.post("/schedule_syncs", json={"schedule_sync": {"sync_id": int(sync_id)}}).status_code == 200
    time.sleep(server.engine.speed.trigger_delay + 0.3)
    assert runs(api, sync_id) == []


# ----- runs and records ---------------------------------------------------------------------------
def test_run_lifecycle_records_with_logs_and_failed_run_without_error(
    server: AISquaredEmulator, api: httpx.Client
) -> None:
    server.set_speed(step_seconds=0.6, rows_per_second=400)  # each phase lasts long enough to be seen
    sync_id = create_sync(api)
    api.post("/schedule_syncs", json={"schedule_sync": {"sync_id": int(sync_id)}})
    (pending,) = wait_until(lambda: runs(api, sync_id))
    seen = {pending["attributes"]["status"]}
    if pending["attributes"]["status"] == "pending":
        assert pending["attributes"]["started_at"] is None  # until extraction starts
    while True:
        (run,) = runs(api, sync_id)
        seen.add(run["attributes"]["status"])
        if run["attributes"]["status"] == "success":
            break
        time.sleep(0.02)
    assert "queued" in seen and "in_progress" in seen
    attributes = run["attributes"]
    assert (attributes["total_rows"], attributes["successful_rows"], attributes["failed_rows"]) == (
        250,
        240,
        10,
    )
    assert (
        attributes["error"] is None
        and attributes["sync_run_type"] == "general"
        and attributes["duration"] > 0
    )
    assert attributes["finished_at"].endswith("Z")
    failed = api.get(
        f"/syncs/{sync_id}/sync_runs/{run['id']}/sync_records", params={"status": "failed"}
    ).json()
    record = failed["data"][0]["attributes"]
    assert set(record) == {
        "sync_id",
        "sync_run_id",
        "record",
        "status",
        "action",
        "logs",
        "created_at",
        "updated_at",
    }
    assert record["logs"]["level"] == "error" and "NOT NULL" in record["logs"]["response"]
    assert api.get(f"/syncs/{sync_id}/sync_runs", params={"status": "done"}).json() == {
        "errors": {"status": ["must be a valid status"]}
    }
    bad = api.get(f"/syncs/{sync_id}/sync_runs/{run['id']}/sync_records", params={"status": "error"})
    assert bad.status_code == 400
    assert api.get(f"/syncs/{sync_id}/sync_runs/999").json()["errors"][0]["detail"] == "Sync Run not found"
    broken = create_sync(api, model_id=2)
    api.post("/schedule_syncs", json={"schedule_sync": {"sync_id": int(broken)}})
    (run,) = wait_until(lambda: [r for r in runs(api, broken) if r["attributes"]["status"] == "failed"])
    assert run["attributes"]["error"] is None and run["attributes"]["finished_at"]  # no reason, ever
    assert api.get(f"/syncs/{broken}").json()["data"]["attributes"]["status"] == "failed"


def test_a_running_sync_can_be_updated_and_deleted(server: AISquaredEmulator, api: httpx.Client) -> None:
    server.set_speed(rows_per_second=20)
    sync_id = create_sync(api)
    api.post("/schedule_syncs", json={"schedule_sync": {"sync_id": int(sync_id)}})
    wait_until(lambda: runs(api, sync_id))
    updated = api.put(f"/syncs/{sync_id}", json={"sync": {"sync_mode": "incremental"}})
    assert updated.status_code == 200 and updated.json()["data"]["attributes"]["sync_mode"] == "incremental"
    assert api.delete(f"/syncs/{sync_id}").status_code == 204
    gone = api.get(f"/syncs/{sync_id}/sync_runs")
    assert gone.status_code == 404 and detail(gone) == "Sync not found"
    assert server.wait_idle(30)


# ----- paging links -------------------------------------------------------------------------------
def test_paging_links_are_absolute_and_can_name_another_host(tmp_path: Path) -> None:
    base = "http://127.0.0.1:9"
    options: dict[str, Any] = {"mode": "oss", "seed_demo": True, "link_base": base, "step_seconds": 0.01}
    with AISquaredEmulator(tmp_path, **options) as server:
        api = httpx.Client(base_url=server.api_url, headers=server.headers, timeout=10)
        with api:
            sync_id = create_sync(api)
            api.post("/schedule_syncs", json={"schedule_sync": {"sync_id": int(sync_id)}})
            assert server.wait_idle(30) and wait_until(lambda: runs(api, sync_id))
            run_id = runs(api, sync_id)[0]["id"]
            path = f"/syncs/{sync_id}/sync_runs/{run_id}/sync_records"
            page = api.get(path, params={"per_page": 100, "page": 2}).json()
            records = api.get(path, params={"per_page": 1000}).json()
    assert len(records["data"]) == 250  # no maximum page size
    assert page["links"] == {
        "self": f"{base}/api/v1{path}?page=2&per_page=100",
        "first": f"{base}/api/v1{path}?page=1&per_page=100",
        "prev": f"{base}/api/v1{path}?page=1&per_page=100",
        "next": f"{base}/api/v1{path}?page=3&per_page=100",
        "last": f"{base}/api/v1{path}?page=3&per_page=100",
    }
    assert "total" not in json.dumps(page["links"]) and "meta" not in page


def test_default_mode_paging_links_follow_link_base_too(tmp_path: Path) -> None:
    with AISquaredEmulator(
        tmp_path, seed_demo=True, link_base="https://proxy.internal:8443", per_page=1
    ) as server:
        links = httpx.get(f"{server.api_url}/models", headers=server.headers).json()["links"]
    assert links["next"] == "https://proxy.internal:8443/api/v1/models?page=2&per_page=1"


# ----- configuration and command line -------------------------------------------------------------
def test_bad_mode_and_lifetime_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="default, oss"):
        AISquaredEmulator(tmp_path, mode="open")
    with pytest.raises(ValueError, match="token_lifetime"):
        AISquaredEmulator(tmp_path, mode="oss", token_lifetime=0)
    with pytest.raises(RuntimeError, match="oss mode only"):
        AISquaredEmulator(tmp_path).login()


def test_command_line_oss_mode(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "cdata_sync_emulator.aisquared",
        "--port",
        "0",
        "--data-dir",
        str(tmp_path),
    ]
    command += ["--mode", "oss", "--password", "Cli-Secret-1!", "--token-lifetime", "60", "--seed-demo"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        first = proc.stdout.readline()
        assert first.startswith("AI Squared emulator serving http://localhost:"), first
        api_url = first.split("serving ", 1)[1].strip().rstrip("/")
        with httpx.Client(base_url=api_url, timeout=30) as client:
            login = client.post("/login", json={"email": "admin@example.com", "password": "Cli-Secret-1!"})
            token = login.json()["data"]["id"]
            assert claims(token)["exp"] - claims(token)["iat"] in (60, 61)
            models = client.get("/models", headers={"Authorization": f"Bearer {token}", "Workspace-Id": "1"})
            assert [m["attributes"]["name"] for m in models.json()["data"]] == ["Customers", "Broken model"]
    finally:
        proc.terminate()
        out = proc.communicate(timeout=15)[0]
    assert proc.returncode == 0
    assert "Cli-Secret-1!" not in first + out  # a password given by the user is never printed
