"""AISquaredHook: an ``aisquared`` Airflow connection -> an AI Squared API client (sync or async).

Reuses the CData Sync hook's pieces: extras parsing, number/TLS validation, secret masking, and the
non-blocking connection lookup of common-compat for triggers.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_cdata_sync.aisquared.client import AISquaredClient, AsyncAISquaredClient
from airflow_provider_cdata_sync.aisquared.config import DEFAULT_BASE_URL, AISquaredConfig
from airflow_provider_cdata_sync.aisquared.errors import (
    AISquaredAuthenticationError,
    AISquaredConfigError,
)
from airflow_provider_cdata_sync.client import RetrySettings, ServiceError
from airflow_provider_cdata_sync.connection_form import AISQUARED_CONN_TYPE as CONN_TYPE
from airflow_provider_cdata_sync.connection_form import AISQUARED_EXTRA_FIELDS as EXTRA_FIELDS
from airflow_provider_cdata_sync.connection_form import AISQUARED_HOOK_NAME as HOOK_NAME
from airflow_provider_cdata_sync.connection_form import AISQUARED_UI_FIELD_BEHAVIOUR as UI_FIELD_BEHAVIOUR
from airflow_provider_cdata_sync.hooks.cdata_sync import (
    _aget_connection,
    _as_bool_or_path,
    _as_number,
    _extras,
    _mask,
    base_url_from_connection,
)


def config_from_connection(conn: Any) -> AISquaredConfig:
    """Build and validate the client configuration from an Airflow connection.

    The host is the API base URL (the hosted API when empty); ``/api/v1`` is added to a bare host.
    """
    extras = {key.removeprefix(f"extra__{CONN_TYPE}__"): value for key, value in _extras(conn).items()}
    known = set(EXTRA_FIELDS) | {"connect_timeout"}
    unknown = sorted(set(extras) - known)
    if unknown:
        raise AISquaredConfigError(
            f"Unknown extra field(s) {', '.join(unknown)} in connection {conn.conn_id!r}. "
            f"Known extras: {', '.join(sorted(known))}."
        )
    host = (conn.host or "").strip()
    base_url = base_url_from_connection(conn) if host else DEFAULT_BASE_URL
    if host and "://" not in host and conn.port != 443 and not host.startswith(("localhost", "127.")):
        base_url = base_url.replace("http://", "https://", 1)  # bare hosts are https, except local ones
    workspace = extras.get("workspace_id")
    login = (conn.login or "").strip() or None
    return AISquaredConfig(
        base_url=base_url,
        # With a login (the user's email) the password is the user's password; without, a bearer token.
        token="" if login else conn.password or "",
        email=login,
        password=conn.password or "" if login else "",
        workspace_id=str(workspace) if workspace not in (None, "") else None,
        verify=_as_bool_or_path("verify_ssl", extras.get("verify_ssl", True)),
        read_timeout=_as_number("timeout", extras.get("timeout", 60), minimum=0.001),
        connect_timeout=_as_number("connect_timeout", extras.get("connect_timeout", 10), minimum=0.001),
        retry=RetrySettings(
            max_retries=int(_as_number("max_retries", extras.get("max_retries", 5), integer=True))
        ),
    )


class AISquaredHook(BaseHook):
    """Interact with AI Squared (Multiwoven) syncs through the REST API.

    The connection's host is the API base URL (default: the hosted ``https://api.squared.ai/api/v1``;
    self-hosted servers: ``http://host:3000/api/v1``). Credentials: a bearer token as the password (login
    empty), or the user's email as login and password as password: the client then logs in, keeps the token
    in memory only and logs in again when it expires (30 minutes on the open-source server) or is refused.
    Extras: ``workspace_id`` (required; sent as ``Workspace-Id``), ``verify_ssl``, ``timeout``,
    ``max_retries``.

    :param aisquared_conn_id: the Airflow connection id.
    """

    conn_name_attr = "aisquared_conn_id"
    default_conn_name = "aisquared_default"
    conn_type = CONN_TYPE
    hook_name = HOOK_NAME

    def __init__(self, aisquared_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.aisquared_conn_id = aisquared_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Labels, placeholders and hidden fields of the connection form."""
        return UI_FIELD_BEHAVIOUR

    @cached_property
    def config(self) -> AISquaredConfig:
        """The client configuration from the Airflow connection (looked up once)."""
        conn = self.get_connection(self.aisquared_conn_id)
        _mask(conn.password)  # a token or a password: never logged either way
        return config_from_connection(conn)

    async def aget_config(self) -> AISquaredConfig:
        """The configuration, looked up without blocking the event loop (for triggers)."""
        if "config" not in self.__dict__:
            self.__dict__["config"] = config_from_connection(await _aget_connection(self.aisquared_conn_id))
        return self.config

    @cached_property
    def client(self) -> AISquaredClient:
        """The hook's synchronous client (one keep-alive connection pool for the hook's life)."""
        return AISquaredClient(self.config)

    def get_conn(self) -> AISquaredClient:
        """The hook's synchronous client."""
        return self.client

    def get_client(self) -> AISquaredClient:
        """The hook's synchronous client."""
        return self.client

    async def aget_client(self) -> AsyncAISquaredClient:
        """A new asynchronous client (close it with ``aclose``); safe inside a trigger's event loop."""
        return AsyncAISquaredClient(await self.aget_config())

    def test_connection(self) -> tuple[bool, str]:
        """Check the URL, token and workspace by listing syncs once (no retries)."""
        try:
            config = self.config
            quick = AISquaredConfig(**{**config.__dict__, "retry": RetrySettings(max_retries=0)})
            with AISquaredClient(quick) as client:
                client.test_access()
            workspace = f", workspace {config.workspace_id}" if config.workspace_id else ""
            return True, f"Connected to AI Squared at {config.base_url}{workspace}."
        except AISquaredAuthenticationError as exc:
            return False, f"Authentication failed ({exc.status_code}): {exc.server_message}. {exc.hint}."
        except ServiceError as exc:
            return False, str(exc)
