"""Bad input, each with a clear message: unknown names (listing what exists), a wrong token, a wrong base
URL (refused, unknown host, TLS failure), a non-JSON answer, unknown status words, malformed extras."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException
from cdata_sync_emulator import CDataSyncEmulator

from airflow_provider_cdata_sync.client import CDataSyncError
from airflow_provider_cdata_sync.operators.cdata_sync import (
    CDataSyncRunJobOperator,
    CDataSyncRunPipelineOperator,
    CDataSyncRunTransformationOperator,
)
from tests.helpers import make_context, start_run, use_connection
from tests.integration.faults.conftest import CONN_ENV, JOB, OTHER_JOB, TOKEN, V2_RUN, Jobs


def run(operator: Any) -> BaseException:
    """Execute and return what it raised (it must raise)."""
    with pytest.raises(Exception) as info:  # each test checks the type and message
        operator.execute(make_context())
    assert TOKEN not in str(info.value)
    return info.value


def job_op(**kwargs: Any) -> CDataSyncRunJobOperator:
    kwargs.setdefault("job", JOB)
    return CDataSyncRunJobOperator(task_id="run", check_interval=0.1, deferrable=False, **kwargs)


# ---------------------------------------------------------------------------------------------- names
def test_unknown_job_lists_the_jobs(server: CDataSyncEmulator, jobs: Jobs) -> None:
    error = run(job_op(job="NoSuchJob"))
    assert isinstance(error, AirflowFailException)  # no Airflow retry can fix a wrong name
    assert "No job with id or name 'NoSuchJob'" in str(error)
    assert f"'{JOB}'" in str(error) and f"'{OTHER_JOB}'" in str(error) and "'DemoReplication'" in str(error)
    assert server.stats()["calls"].get("POST /api.rsc/v2/jobs/execute") is None


def test_unknown_pipeline_lists_the_pipelines(server: CDataSyncEmulator) -> None:
    error = run(CDataSyncRunPipelineOperator(task_id="run", pipeline="NoSuchPipeline", deferrable=False))
    assert isinstance(error, AirflowFailException)
    assert "No pipeline with id or name 'NoSuchPipeline'" in str(error) and "'DemoPipeline'" in str(error)


def test_unknown_transformation_lists_the_transformations(server: CDataSyncEmulator) -> None:
    operator = CDataSyncRunTransformationOperator(task_id="run", transformation="NoSuchT", deferrable=False)
    error = run(operator)
    assert isinstance(error, AirflowFailException)
    assert "No transformation with id or name 'NoSuchT'" in str(error)
    assert "'DemoCustomerRevenue'" in str(error)


def test_unknown_task_lists_the_tasks(server: CDataSyncEmulator, jobs: Jobs) -> None:
    before = len(server.runs(jobs.main.job_id))
    error = run(job_op(tasks=["accounts", "no_such_table"]))
    assert isinstance(error, AirflowFailException)
    assert "'no_such_table'" in str(error) and "'contacts'" in str(error)
    assert len(server.runs(jobs.main.job_id)) == before  # nothing started


def test_workspace_given_by_name_is_found(server: CDataSyncEmulator, jobs: Jobs) -> None:
    from airflow_provider_cdata_sync.client import CDataSyncClient, ClientConfig

    with CDataSyncClient(ClientConfig(base_url=server.base_url, token=TOKEN)) as client:
        names = {workspace.name for workspace in client.workspaces.list() if workspace.id == "default"}
        target = client.resolve_target("job", JOB, names.pop())
    assert target.id == jobs.main.job_id and target.workspace == "default"


def test_unknown_workspace_lists_the_workspaces(server: CDataSyncEmulator) -> None:
    error = run(job_op(workspace="NoSuchWorkspace"))
    assert isinstance(error, AirflowFailException)
    assert "No workspace with id or name 'NoSuchWorkspace'" in str(error) and "'Default'" in str(error)


# ---------------------------------------------------------------------------------------------- token
def test_wrong_token_says_to_check_the_token(
    server: CDataSyncEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "wrong-token-0b3a5d"
    use_connection(monkeypatch, server, token=wrong, max_retries=2)
    error = run(job_op())
    assert "401" in str(error)
    assert "Check the auth token in the Airflow connection" in str(error)
    assert wrong not in str(error)


# ---------------------------------------------------------------------------------------------- base URL
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_refused_connection_says_to_check_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, None, TOKEN, host=f"http://127.0.0.1:{_free_port()}", max_retries=0)
    error = run(job_op())
    assert isinstance(error, CDataSyncError)
    assert "Could not reach CData Sync" in str(error) and "ConnectError" in str(error)
    assert "Check the connection's host and port" in str(error)


def test_unknown_host_says_the_name_does_not_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, None, TOKEN, host="http://cdata-sync.invalid:8181", max_retries=0)
    error = run(job_op())
    assert "could not be resolved: check the connection's host" in str(error)


@pytest.fixture(scope="module")
def self_signed_https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A tiny HTTPS server on loopback with a certificate made now, trusted by nobody."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")

    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    httpd.handle_error = lambda *args: None  # type: ignore[method-assign]  # failed handshakes are expected
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_tls_verification_failure_says_what_to_fix(
    monkeypatch: pytest.MonkeyPatch, self_signed_https: str
) -> None:
    use_connection(monkeypatch, None, TOKEN, host=self_signed_https, max_retries=0)
    error = run(job_op())
    assert "CERTIFICATE_VERIFY_FAILED" in str(error) or "certificate verify failed" in str(error)
    assert "TLS verification failed" in str(error) and "verify_ssl" in str(error)


# ---------------------------------------------------------------------------------------------- answers
def test_non_json_answer_is_named_as_such(server: CDataSyncEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, server, max_retries=0)
    server.inject_fault(r"/jobs$", "malformed", method="GET", body="<html>Proxy error: upstream down</html>")
    error = run(job_op())
    assert "Unparseable answer from CData Sync to GET /api.rsc/v2/workspaces/default/jobs" in str(error)
    assert "not JSON" in str(error) and "Proxy error" in str(error)


def test_unknown_status_word_is_never_success(
    server: CDataSyncEmulator, jobs: Jobs, capfd: pytest.CaptureFixture[str]
) -> None:
    """The run really succeeded, but the server only ever says a word nobody knows: keep polling, warn,
    then fail after a limit; never report success."""
    run_id = start_run(server, jobs.main.job_id)["id"]
    server.wait_run(run_id)
    body = {"id": run_id, "status": "Frobnicating", "records_affected": 40}
    server.inject_fault(V2_RUN, "status", method="GET", status=200, body=body, count=100)

    error = run(job_op())  # reattaches? no: the job is idle, so it starts a run and polls it

    assert isinstance(error, AirflowException)
    assert "unknown status 'Frobnicating'" in str(error) and "not treated as success" in str(error)
    output = capfd.readouterr().out
    warnings = [line for line in output.splitlines() if "warning" in line.lower() and "Frobnicating" in line]
    assert warnings, "each unknown status is warned about"
    polls = 100 - server.faults()[0]["remaining"]
    assert 3 <= polls <= 20  # kept polling, then gave up


# ---------------------------------------------------------------------------------------------- extras
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('["a", "list"]', "must be a JSON object"),
        ({"api_version": "v9"}, "'api_version' must be v2, v1 or auto"),
        ({"auth_type": "bearer"}, "'auth_type' must be 'header' or 'basic'"),
        ({"timeout": "soon"}, "'timeout' must be a number of seconds"),
        ({"timeout": -1}, "'timeout' must be at least"),
        ({"max_retries": "many"}, "'max_retries' must be a whole number"),
        ({"verify_ssl": 3}, "'verify_ssl' must be true, false or a CA bundle path"),
        ({"workspce": "x"}, "Unknown extra field(s) workspce"),
    ],
)
def test_malformed_connection_extras_fail_clearly(
    server: CDataSyncEmulator, monkeypatch: pytest.MonkeyPatch, extra: Any, message: str
) -> None:
    conn = {"conn_type": "cdata_sync", "host": server.base_url, "password": TOKEN, "extra": extra}
    monkeypatch.setenv(CONN_ENV, json.dumps(conn))
    error = run(job_op())
    assert isinstance(error, AirflowFailException)
    assert message in str(error)
    assert server.stats()["total"] == 0  # nothing was sent with a half-understood configuration
