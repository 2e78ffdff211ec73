"""CDataSyncHook: Airflow connection -> ClientConfig, test_connection, connection form and provider info."""

from __future__ import annotations

import importlib
import json
import os
from importlib.metadata import entry_points
from typing import Any

import airflow
import httpx
import jsonschema
import pytest

from airflow_provider_cdata_sync import connection_form
from airflow_provider_cdata_sync.client import (
    AsyncCDataSyncClient,
    CDataSyncClient,
    CDataSyncConfigError,
    ClientConfig,
)
from airflow_provider_cdata_sync.client.http import SyncRunner
from airflow_provider_cdata_sync.get_provider_info import get_provider_info
from airflow_provider_cdata_sync.hooks.cdata_sync import CDataSyncHook

ENV = "AIRFLOW_CONN_CDATA_SYNC_DEFAULT"
TOKEN = "tok-0123456789-secret"


def set_json_conn(
    monkeypatch: pytest.MonkeyPatch, conn_id: str = "cdata_sync_default", **fields: Any
) -> None:
    values: dict[str, Any] = {"conn_type": "cdata_sync", "host": "http://h:8181/sync", "password": TOKEN}
    values.update(fields)
    values = {key: value for key, value in values.items() if value is not None}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(values))


def config_of(monkeypatch: pytest.MonkeyPatch, **fields: Any) -> ClientConfig:
    set_json_conn(monkeypatch, **fields)
    return CDataSyncHook().config


# ------------------------------------------------------------------------------- JSON form
def test_json_form(monkeypatch: pytest.MonkeyPatch) -> None:
    config = config_of(
        monkeypatch,
        extra={
            "workspace": "ws1",
            "api_version": "v1",
            "verify_ssl": "false",
            "timeout": "30",
            "max_retries": 2,
            "console_url": "https://console.example.com:8181",
        },
    )
    assert config.base_url == "http://h:8181/sync"
    assert config.api_root == "http://h:8181/sync/api.rsc"
    assert config.token == TOKEN
    assert (config.auth_mode, config.user) == ("header", None)
    assert (config.workspace, config.api_version, config.verify) == ("ws1", "v1", False)
    assert (config.read_timeout, config.connect_timeout) == (30.0, 10.0)
    assert config.retry.max_retries == 2
    assert config.console_base == "https://console.example.com:8181"


def test_json_form_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    config = config_of(monkeypatch, host="sync-host")
    assert config.base_url == "http://sync-host:8181"  # scheme and port 8181 by default
    assert (config.workspace, config.api_version, config.verify, config.auth_mode) == (
        "default",
        "v2",
        True,
        "header",
    )
    assert (config.read_timeout, config.retry.max_retries) == (60.0, 5)


@pytest.mark.parametrize(
    ("fields", "base_url"),
    [
        ({"host": "http://h"}, "http://h:8181"),
        ({"host": "http://h/sync/"}, "http://h:8181/sync"),
        ({"host": "http://h:9000/sync/api.rsc"}, "http://h:9000/sync"),
        ({"host": "h", "port": 9000}, "http://h:9000"),
        ({"host": "h", "port": 443}, "https://h:443"),
        ({"host": "https://h", "port": 8443, "schema": "sync"}, "https://h:8443/sync"),
        ({"host": "http://h:9000", "port": 1234}, "http://h:9000"),  # a port in the host wins
        ({"host": "h", "schema": "/ctx/"}, "http://h:8181/ctx"),
        ({"host": "http://h/a", "schema": "b"}, "http://h:8181/a/b"),
    ],
)
def test_base_url_from_host_port_and_schema(
    monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any], base_url: str
) -> None:
    assert config_of(monkeypatch, **fields).base_url == base_url


@pytest.mark.parametrize(
    ("value", "verify"),
    [
        ("false", False),
        ("False", False),
        ("0", False),
        ("true", True),
        ("yes", True),
        (True, True),
        (False, False),
    ],
)
def test_verify_ssl_words(monkeypatch: pytest.MonkeyPatch, value: Any, verify: bool) -> None:
    assert config_of(monkeypatch, extra={"verify_ssl": value}).verify is verify


def test_verify_ssl_ca_bundle_path(monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_of(monkeypatch, extra={"verify_ssl": " /etc/ssl/ca.pem "}).verify == "/etc/ssl/ca.pem"


def test_basic_auth_when_a_login_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    config = config_of(monkeypatch, login="alice")
    assert (config.auth_mode, config.user) == ("basic", "alice")
    config = config_of(monkeypatch, login="alice", extra={"auth_type": "header"})
    assert config.auth_mode == "header"
    config = config_of(monkeypatch, extra={"auth_type": "BASIC"})
    assert (config.auth_mode, config.user) == ("basic", None)


def test_airflow2_prefixed_and_empty_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    config = config_of(
        monkeypatch,
        extra={"extra__cdata_sync__workspace": "ws9", "extra__cdata_sync__timeout": "5", "console_url": ""},
    )
    assert (config.workspace, config.read_timeout, config.console_url) == ("ws9", 5.0, None)


def test_extra_as_a_json_string(monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_of(monkeypatch, extra=json.dumps({"workspace": "w"})).workspace == "w"


# -------------------------------------------------------------------------------- URI form
def test_uri_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, f"cdata-sync://user:{TOKEN}@h:9000/sync?workspace=ws1&api_version=v2&timeout=15")
    config = CDataSyncHook().config
    assert config.base_url == "http://h:9000/sync"
    assert (config.auth_mode, config.user, config.token) == ("basic", "user", TOKEN)
    assert (config.workspace, config.api_version, config.read_timeout) == ("ws1", "v2", 15.0)


def test_uri_form_default_port_and_https(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, f"cdata-sync://:{TOKEN}@h/sync")
    config = CDataSyncHook().config
    assert config.base_url == "http://h:8181/sync"
    assert (config.auth_mode, config.user) == ("header", None)


def test_uri_with_an_underscore_scheme_gets_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow cannot parse ``cdata_sync://`` (no '_' in URI schemes): the error says what to write."""
    monkeypatch.setenv(ENV, f"cdata_sync://user:{TOKEN}@h:9000/sync?workspace=ws1&api_version=v2")
    with pytest.raises(CDataSyncConfigError) as info:
        CDataSyncHook().config  # noqa: B018
    assert "cdata-sync://" in str(info.value)
    assert TOKEN not in str(info.value)


# --------------------------------------------------------------------------- bad settings
@pytest.mark.parametrize(
    ("fields", "fragments"),
    [
        ({"extra": "not json"}, ["extra", "not valid JSON"]),
        ({"extra": "[1, 2]"}, ["extra", "JSON object"]),
        ({"extra": {"wrkspace": "x"}}, ["wrkspace", "Known extras", "workspace"]),
        ({"extra": {"timeout": "abc"}}, ["'timeout'", "number of seconds", "'abc'"]),
        ({"extra": {"timeout": 0}}, ["'timeout'", "at least"]),
        ({"extra": {"api_version": "v9"}}, ["'api_version'", "v9"]),
        ({"extra": {"max_retries": -1}}, ["'max_retries'", "-1"]),
        ({"extra": {"max_retries": "many"}}, ["'max_retries'", "whole number"]),
        ({"extra": {"auth_type": "oauth"}}, ["'auth_type'", "oauth"]),
        ({"extra": {"verify_ssl": 5}}, ["'verify_ssl'", "CA bundle"]),
        ({"extra": {"connect_timeout": "x"}}, ["'connect_timeout'"]),
        ({"password": None}, ["auth token", "password"]),
        ({"host": None}, ["no host", "http://sync-host:8181"]),
        ({"host": "ftp://h"}, ["http:// or https://"]),
    ],
)
def test_malformed_connections_name_the_field(
    monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any], fragments: list[str]
) -> None:
    set_json_conn(monkeypatch, **fields)
    with pytest.raises(CDataSyncConfigError) as info:
        CDataSyncHook().config  # noqa: B018
    for fragment in fragments:
        assert fragment in str(info.value)
    assert TOKEN not in str(info.value)


def test_every_form_field_is_an_accepted_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    extras = {
        "workspace": "w",
        "api_version": "auto",
        "auth_type": "header",
        "verify_ssl": "true",
        "timeout": 1,
        "max_retries": 0,
        "console_url": "http://c",
    }
    assert set(extras) == set(connection_form.EXTRA_FIELDS)
    config = config_of(monkeypatch, extra=extras)
    assert (config.api_version, config.retry.max_retries) == ("auto", 0)


# ------------------------------------------------------------------------ clients and links
def test_hook_clients_and_links(monkeypatch: pytest.MonkeyPatch) -> None:
    set_json_conn(monkeypatch, conn_id="my_sync", extra={"console_url": "https://ui.example.com:443"})
    hook = CDataSyncHook(cdata_sync_conn_id="my_sync")
    try:
        assert isinstance(hook.client, CDataSyncClient)
        assert hook.get_conn() is hook.client and hook.get_client() is hook.client
        assert hook.client.config == hook.config
    finally:
        hook.client.close()
    assert hook.console_url("job", "a/b c") == "https://ui.example.com:443/console/jobs/a%2Fb%20c"
    assert (
        hook.console_url("pipeline", "p", run_id="r/1")
        == "https://ui.example.com:443/console/pipelines/p/history/r%2F1"
    )


async def test_async_client_from_the_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    set_json_conn(monkeypatch, extra={"workspace": "w-async"})
    hook = CDataSyncHook()
    client = await hook.aget_client()
    try:
        assert isinstance(client, AsyncCDataSyncClient)
        assert client.config.workspace == "w-async"
        assert (await hook.aget_config()) is client.config
    finally:
        await client.aclose()


def test_the_token_is_registered_with_the_secret_masker(monkeypatch: pytest.MonkeyPatch) -> None:
    masked: list[str] = []
    sdk = importlib.import_module("airflow.providers.common.compat.sdk")
    monkeypatch.setattr(sdk, "mask_secret", masked.append, raising=False)
    set_json_conn(monkeypatch)
    CDataSyncHook().config  # noqa: B018
    assert masked == [TOKEN]


# --------------------------------------------------------------------------- test_connection
class HookServer:
    """Replies for the hook's clients (the last one repeats) and the requests they sent."""

    def __init__(self) -> None:
        self.replies: list[Any] = []
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies[0] if len(self.replies) == 1 else self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply(request)


@pytest.fixture
def fake_server(monkeypatch: pytest.MonkeyPatch) -> HookServer:
    """Give every sync client built while the test runs a MockTransport, however the hook builds it."""
    server = HookServer()
    original = SyncRunner.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **{**kwargs, "transport": httpx.MockTransport(server)})

    monkeypatch.setattr(SyncRunner, "__init__", init)
    return server


def test_test_connection_ok(monkeypatch: pytest.MonkeyPatch, fake_server: HookServer) -> None:
    set_json_conn(monkeypatch)
    listing = {"value": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}]}
    fake_server.replies.append(lambda _r: httpx.Response(200, json=listing))
    ok, message = CDataSyncHook().test_connection()
    assert ok is True, message
    assert message.startswith("Connected to CData Sync at http://h:8181/sync")
    assert TOKEN not in message
    for request in fake_server.requests:
        assert str(request.url).startswith("http://h:8181/sync/api.rsc/v2/")
        assert request.headers["x-cdata-authtoken"] == TOKEN
        assert TOKEN not in str(request.url)


@pytest.mark.parametrize("code", [401, 403])
def test_test_connection_bad_token(
    monkeypatch: pytest.MonkeyPatch, fake_server: HookServer, code: int
) -> None:
    set_json_conn(monkeypatch, login="bob")
    fake_server.replies.append(
        lambda _r: httpx.Response(code, json={"error": {"message": f"bad token {TOKEN}"}})
    )
    ok, message = CDataSyncHook().test_connection()
    assert ok is False
    assert str(code) in message and "token" in message
    assert TOKEN not in message
    assert fake_server.requests[0].headers["authorization"].startswith("Basic ")


def test_test_connection_unreachable_does_not_retry(
    monkeypatch: pytest.MonkeyPatch, fake_server: HookServer
) -> None:
    set_json_conn(monkeypatch, extra={"max_retries": 5})
    fake_server.replies.append(httpx.ConnectError("[Errno 111] Connection refused"))
    ok, message = CDataSyncHook().test_connection()
    assert ok is False
    assert "Connection refused" in message and "8181" in message
    assert len(fake_server.requests) == 1  # a connection test answers at once


def test_test_connection_wrong_context_path(monkeypatch: pytest.MonkeyPatch, fake_server: HookServer) -> None:
    set_json_conn(monkeypatch)
    fake_server.replies.append(lambda _r: httpx.Response(404, text="Not Found"))
    ok, message = CDataSyncHook().test_connection()
    assert ok is False and "404" in message


def test_test_connection_bad_configuration(monkeypatch: pytest.MonkeyPatch, fake_server: HookServer) -> None:
    set_json_conn(monkeypatch, extra={"timeout": "abc"})
    ok, message = CDataSyncHook().test_connection()
    assert ok is False and "'timeout'" in message
    assert fake_server.requests == []


# ---------------------------------------------------------------- form and provider info
def test_ui_field_behaviour() -> None:
    behaviour = CDataSyncHook.get_ui_field_behaviour()
    assert set(behaviour) == {"hidden_fields", "relabeling", "placeholders"}
    assert "extra" in behaviour["hidden_fields"]
    assert behaviour["relabeling"]["password"] == "API auth token"
    assert behaviour["relabeling"]["host"] == "Base URL"
    assert "8181" in behaviour["placeholders"]["host"]
    assert (CDataSyncHook.conn_type, CDataSyncHook.conn_name_attr, CDataSyncHook.default_conn_name) == (
        "cdata_sync",
        "cdata_sync_conn_id",
        "cdata_sync_default",
    )


def test_form_widgets_need_flask_appbuilder() -> None:
    pytest.importorskip("flask_appbuilder")
    widgets = CDataSyncHook.get_connection_form_widgets()
    assert set(widgets) == set(connection_form.EXTRA_FIELDS)


def test_provider_info() -> None:
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-cdata-sync"
    by_type = {entry["connection-type"]: entry for entry in info["connection-types"]}
    assert set(by_type) == {"cdata_sync", "aisquared"}
    conn_type = by_type["cdata_sync"]
    module_name, class_name = conn_type["hook-class-name"].rsplit(".", 1)
    assert getattr(importlib.import_module(module_name), class_name) is CDataSyncHook
    assert conn_type["hook-name"] == CDataSyncHook.hook_name
    fields = conn_type["conn-fields"]
    assert set(fields) == {
        "workspace",
        "api_version",
        "auth_type",
        "verify_ssl",
        "timeout",
        "max_retries",
        "console_url",
    }
    for spec in fields.values():
        assert spec["label"] and spec["description"] and "type" in spec["schema"]
    assert (
        conn_type["ui-field-behaviour"]["hidden-fields"]
        == CDataSyncHook.get_ui_field_behaviour()["hidden_fields"]
    )
    for hook in info["hooks"]:
        for module in hook["python-modules"]:
            importlib.import_module(module)


def test_provider_info_validates_against_airflows_schema() -> None:
    schema_path = os.path.join(os.path.dirname(airflow.__file__), "provider_info.schema.json")
    with open(schema_path) as handle:
        schema = json.load(handle)
    jsonschema.validate(get_provider_info(), schema)


def test_provider_entry_point_is_registered() -> None:
    found = [
        ep
        for ep in entry_points(group="apache_airflow_provider")
        if ep.value.startswith("airflow_provider_cdata_sync")
    ]
    assert len(found) == 1
    assert found[0].load()() == get_provider_info()
