"""CData Sync client configuration: where the server is, how to authenticate (and the request builder that
does it), timeouts and retries."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from airflow_provider_cdata_sync.client.errors import CDataSyncConfigError
from airflow_provider_cdata_sync.client.http import RequestBuilder, RetrySettings

DEFAULT_PORT = 8181
DEFAULT_WORKSPACE = "default"
ApiVersion = Literal["v1", "v2", "auto"]
AuthMode = Literal["header", "basic"]


@dataclass(frozen=True)
class ClientConfig:
    """Everything the client needs to talk to one CData Sync server.

    :param base_url: the server's base URL with scheme, host, optional port and optional context path,
        e.g. ``https://sync.example.com:8181/sync``. Port 8181 is assumed when none is given. The API
        root ``/api.rsc`` is added by the client (a trailing ``/api.rsc`` is accepted and removed).
    :param token: the user's API auth token. Never placed in a URL or a message.
    :param user: user name for HTTP Basic authentication (any value works for v2).
    :param auth_mode: ``header`` (``x-cdata-authtoken``, the default) or ``basic``.
    :param workspace: default workspace id or name for workspace-scoped calls.
    :param verify: TLS verification: ``True``, ``False`` or a CA bundle path.
    :param connect_timeout: seconds to wait for a TCP/TLS connection.
    :param read_timeout: seconds to wait for an answer.
    :param console_url: base URL of the admin console for links (defaults to ``base_url``).
    """

    base_url: str
    token: str = field(repr=False)
    user: str | None = None
    auth_mode: AuthMode = "header"
    workspace: str = DEFAULT_WORKSPACE
    api_version: ApiVersion = "v2"
    verify: bool | str = True
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retry: RetrySettings = field(default_factory=RetrySettings)
    console_url: str | None = None
    user_agent: str = "airflow-provider-cdata-sync"

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", normalise_base_url(self.base_url))
        if not self.token:
            raise CDataSyncConfigError(
                "No CData Sync auth token: set the connection's password to a user's API token "
                "(Settings > Users in the Sync console, with API access)."
            )
        if self.auth_mode not in ("header", "basic"):
            raise CDataSyncConfigError(f"auth_mode must be 'header' or 'basic', got {self.auth_mode!r}.")
        if self.api_version not in ("v1", "v2", "auto"):
            raise CDataSyncConfigError(
                f"api_version must be 'v1', 'v2' or 'auto', got {self.api_version!r}. "
                "Use v2 for Sync 26.x and later, v1 for older servers, auto to ask the server."
            )
        for name in ("connect_timeout", "read_timeout"):
            if getattr(self, name) <= 0:
                raise CDataSyncConfigError(f"{name} must be a positive number of seconds.")

    def secrets(self) -> list[str]:
        """The secrets this configuration holds (scrubbed from every message)."""
        return [self.token]

    @property
    def api_root(self) -> str:
        """The API root URL, ``<base>/api.rsc``."""
        return f"{self.base_url}/api.rsc"

    @property
    def console_base(self) -> str:
        """Base URL of the Sync admin console, for links."""
        # Taken as given: a console behind a proxy on 443 must not get the API's default port 8181.
        return self.console_url.strip().rstrip("/") if self.console_url else self.base_url


def normalise_base_url(url: str) -> str:
    """Check and normalise a base URL: scheme required, port 8181 by default, no trailing slash or api.rsc."""
    text = (url or "").strip()
    if not text:
        raise CDataSyncConfigError(
            "No CData Sync base URL: set the connection's host to e.g. http://sync-host:8181 "
            "(with the context path if Sync runs under one, e.g. http://sync-host:8181/sync)."
        )
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise CDataSyncConfigError(
            f"The CData Sync base URL must start with http:// or https://, got {url!r}."
        )
    if not parts.hostname:
        raise CDataSyncConfigError(f"The CData Sync base URL {url!r} has no host name.")
    if parts.query or parts.fragment:
        raise CDataSyncConfigError(
            "The CData Sync base URL must not have a query or fragment (never put the token in the URL)."
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise CDataSyncConfigError(f"The CData Sync base URL {url!r} has an invalid port.") from exc
    netloc = parts.netloc.rsplit("@", 1)[-1]  # credentials never belong in the URL
    if port is None:
        netloc = f"{netloc}:{DEFAULT_PORT}"
    path = parts.path.rstrip("/")
    for suffix in ("/api.rsc/v2", "/api.rsc"):
        if path.lower().endswith(suffix):
            path = path[: -len(suffix)]
    return urlunsplit((parts.scheme, netloc, path, "", ""))


class CDataRequestBuilder(RequestBuilder):
    """CData Sync authentication: ``x-cdata-authtoken`` header, or HTTP Basic ``user:token``; never the
    ``@authtoken`` query parameter (URLs end up in logs)."""

    config: ClientConfig

    def headers(self) -> dict[str, str]:
        """Headers with the token (never in a URL)."""
        headers = super().headers()
        if self.config.auth_mode == "header":
            headers["x-cdata-authtoken"] = self.config.token
        return headers

    def auth(self) -> httpx.Auth | None:
        """HTTP Basic ``user:token`` when asked for."""
        if self.config.auth_mode == "basic":
            return httpx.BasicAuth(self.config.user or "airflow", self.config.token)
        return None

    def plain_headers(self) -> dict[str, str] | None:
        """Every header of a request, the credential included (either mode is a plain header)."""
        headers = self.headers()
        if self.config.auth_mode == "basic":
            pair = f"{self.config.user or 'airflow'}:{self.config.token}".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(pair).decode('ascii')}"
        return headers
