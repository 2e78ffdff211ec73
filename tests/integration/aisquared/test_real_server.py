"""AI Squared as the open-source server answers (the emulator's ``oss`` mode, after Multiwoven's code): the
connection holds an email and a password, the bearer is a JWT from ``POST /login`` that expires (here after
a few seconds instead of 30 minutes) and is revoked by the user's next login, and the run row is created a
moment after the trigger's 200.

* A run that outlasts several tokens succeeds, blocking and deferred: the hook and the trigger log in again
  when the token is about to expire or is refused, a bounded number of times, and no log line shows the
  password or a token.
* A task killed right after triggering, before the run row exists, still cancels that run: no run is left
  active.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cdata_sync_emulator.aisquared import AISquaredEmulator, Demo, seed_demo

from airflow_provider_cdata_sync.aisquared import AISquaredClient, AISquaredConfig, Sync
from airflow_provider_cdata_sync.client import RetrySettings
from airflow_provider_cdata_sync.operators.aisquared import AISquaredRunSyncOperator
from tests.helpers import FakeTI, demo_sync_definition, make_context

pytestmark = pytest.mark.e2e

EMAIL = "airflow-runner@example.com"
PASSWORD = "Oss-Passw0rd-5b7d!"
#: Seconds a token lives (the real server: 1800). A run below lasts three to four of them.
LIFETIME = 1.5
#: Rows per second the emulator copies: the demo's 250 customers take about 4 s.
SLOW = 60.0
LOGIN = "POST /api/v1/login"
ACTIVE = {"pending", "started", "querying", "queued", "in_progress"}


@pytest.fixture(scope="module")
def oss_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AISquaredEmulator]:
    """The open-source server's behaviour: login, short-lived revocable tokens, mandatory workspace."""
    with AISquaredEmulator(
        tmp_path_factory.mktemp("aisquared-oss"),
        mode="oss",
        email=EMAIL,
        password=PASSWORD,
        token_lifetime=LIFETIME,
        step_seconds=0.02,
        trigger_delay=0.02,
    ) as server:
        yield server


@pytest.fixture
def oss(oss_server: AISquaredEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[AISquaredEmulator]:
    """``aisquared_default`` with email (login) and password, no token; every token minted is recorded
    (``minted``); counters, speed and runs reset after the test."""
    conn = {
        "conn_type": "aisquared",
        "host": oss_server.api_url,
        "login": EMAIL,
        "password": PASSWORD,
        "extra": {"workspace_id": oss_server.workspace_id, "max_retries": 2},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AISQUARED_DEFAULT", json.dumps(conn))
    account = oss_server.account
    assert account is not None
    minted: list[str] = []
    mint = account.mint

    def recording_mint() -> str:
        token = mint()
        minted.append(token)
        return token

    monkeypatch.setattr(account, "mint", recording_mint)
    oss_server.minted = minted  # type: ignore[attr-defined]
    oss_server.faults.reset_stats()
    yield oss_server
    oss_server.set_speed(rows_per_second=None, step_seconds=0.02, trigger_delay=0.02)
    for sync_id in list(oss_server.state.syncs):
        oss_server.engine.cancel(sync_id)
    assert oss_server.wait_idle(15)


def oss_config(server: AISquaredEmulator) -> AISquaredConfig:
    return AISquaredConfig(
        base_url=server.api_url,
        workspace_id=server.workspace_id,
        email=EMAIL,
        password=PASSWORD,
        retry=RetrySettings(max_retries=2, backoff_base=0.01, backoff_max=0.05),
    )


@pytest.fixture
def demo(oss: AISquaredEmulator) -> Demo:
    return seed_demo(oss)


@pytest.fixture
def make_sync(oss: AISquaredEmulator, demo: Demo) -> Callable[[], Sync]:
    """A manual full-refresh sync of the demo customers into the CRM, created through the create contract."""

    def make() -> Sync:
        with AISquaredClient(oss_config(oss)) as client:
            return client.syncs.create(demo_sync_definition(demo))

    return make


def logins(server: AISquaredEmulator) -> int:
    return int(server.stats()["calls"].get(LOGIN, 0))


def assert_no_secret(output: str, server: AISquaredEmulator) -> None:
    assert PASSWORD not in output
    minted: list[str] = server.minted  # type: ignore[attr-defined]
    assert minted, "the test logged in"
    for token in minted:
        assert token not in output
        assert token.split(".")[2] not in output  # not even the signature
    assert "eyJhbGci" not in output  # no JWT at all (its header, base64)


@pytest.mark.parametrize("dag_id", ["e2e_aisquared_blocking", "e2e_aisquared_deferred"])
def test_a_run_longer_than_the_token_lifetime_succeeds_with_bounded_logins(
    oss: AISquaredEmulator, make_sync: Callable[[], Sync], run_dag: Any, dag_id: str
) -> None:
    sync = make_sync()
    oss.set_speed(rows_per_second=SLOW)
    oss.faults.reset_stats()
    # Halfway through, someone else logs in as the same user: the token in use is revoked (401).
    revoke = threading.Timer(2.0, oss.login)
    started = time.monotonic()
    revoke.start()
    try:
        result = run_dag(dag_id, conf={"sync_id": sync.id})
    finally:
        revoke.cancel()
    elapsed = time.monotonic() - started

    assert result.states == {"run": "success"}, result.output[-3000:]
    (run,) = oss.runs(sync.id)
    assert run["status"] == "success"
    assert result.xcom("run")["run_id"] == str(run["id"])
    assert elapsed > 2.5 * LIFETIME, "the run outlasted several tokens"
    # Logged in again as tokens expired or were revoked, but not per request: a token is renewed a quarter
    # of its life before it expires, plus one login for the revoked token and one to start.
    calls = oss.stats()["calls"]
    made = logins(oss)
    assert 2 <= made <= math.ceil(elapsed / (0.75 * LIFETIME)) + 2, calls
    assert made < sum(calls.values()) / 3, calls
    assert_no_secret(result.output, oss)


def test_a_task_killed_right_after_triggering_leaves_no_active_run(
    oss: AISquaredEmulator, make_sync: Callable[[], Sync]
) -> None:
    sync = make_sync()
    # The open-source server writes the run row after the trigger's 200 (a workflow activity): a cancel in
    # that gap answers 424 "no active sync run" and the run would start anyway.
    oss.set_speed(rows_per_second=SLOW, trigger_delay=1.0)
    oss.faults.reset_stats()
    operator = AISquaredRunSyncOperator(task_id="run", sync_id=sync.id, deferrable=False, check_interval=0.1)
    failure: list[BaseException] = []

    def execute() -> None:
        try:
            operator.execute(make_context(FakeTI()))
        except BaseException as exc:  # the task's own end once its run is cancelled
            failure.append(exc)

    task = threading.Thread(target=execute, daemon=True)
    task.start()
    deadline = time.monotonic() + 10
    while not oss.stats()["calls"].get("POST /api/v1/schedule_syncs"):
        assert time.monotonic() < deadline, "the operator never triggered"
        time.sleep(0.005)
    time.sleep(0.05)  # the trigger's 200 is on its way back
    assert oss.runs(sync.id) == [], "the kill lands before the run row exists"

    operator.on_kill()  # what Airflow calls when the task is killed

    runs = oss.runs(sync.id)
    assert [r["status"] for r in runs] == ["canceled"], runs
    task.join(20)
    assert not task.is_alive()
    time.sleep(1.2)  # longer than the trigger delay: no run starts later either
    runs = oss.runs(sync.id)
    assert len(runs) == 1 and not ACTIVE & {r["status"] for r in runs}, runs
    assert failure and "cancel" in str(failure[0]).lower(), failure
