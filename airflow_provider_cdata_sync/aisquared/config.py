"""AI Squared client configuration: the API root, the credentials (a bearer token, or an email and password
to log in with), the workspace, timeouts and retries."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_cdata_sync.aisquared.errors import AISquaredConfigError
from airflow_provider_cdata_sync.client.http import RetrySettings

#: The hosted API. Self-hosted (open-source Multiwoven) servers answer under ``http://host:3000/api/v1``.
DEFAULT_BASE_URL = "https://api.squared.ai/api/v1"
API_PATH = "/api/v1"


@dataclass(frozen=True)
class AISquaredConfig:
    """Everything the client needs to talk to one AI Squared (Multiwoven) server.

    The open-source server has no long-lived API token: its bearer is a JWT from ``POST /login`` that
    expires after 30 minutes and is revoked by the user's next login. So the client takes either a static
    ``token``, or ``email`` and ``password``, with which it logs in (again when the token expires or is
    refused), keeping the token in memory only.

    :param base_url: the API root, e.g. ``https://api.squared.ai/api/v1`` (the default) or
        ``http://multiwoven:3000/api/v1``; ``/api/v1`` is added when the URL has no path.
    :param workspace_id: the workspace (``Workspace-Id`` header): required by every workspace call.
    :param token: a bearer token. Never placed in a URL or a message.
    :param email: the user's email, to log in with (instead of ``token``).
    :param password: the user's password (with ``email``). Never logged.
    :param verify: TLS verification: ``True``, ``False`` or a CA bundle path.
    :param connect_timeout: seconds to wait for a TCP/TLS connection.
    :param read_timeout: seconds to wait for an answer.
    :param retry: how requests that are safe to repeat are retried.
    """

    base_url: str = DEFAULT_BASE_URL
    workspace_id: str | None = None
    token: str = field(default="", repr=False)
    email: str | None = None
    password: str = field(default="", repr=False)
    verify: bool | str = True
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retry: RetrySettings = field(default_factory=RetrySettings)
    user_agent: str = "airflow-provider-cdata-sync (aisquared)"

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", normalise_api_root(self.base_url))
        if self.email is not None and not str(self.email).strip():
            object.__setattr__(self, "email", None)
        if not self.token and not (self.email and self.password):
            raise AISquaredConfigError(
                "No AI Squared credentials: set the connection's password to a bearer token, or its login to "
                "the user's email and its password to the user's password (the client then logs in itself)."
            )
        if self.email and not self.password:
            raise AISquaredConfigError(
                f"The AI Squared connection has the login {self.email!r} but no password: set the password."
            )
        workspace = "" if self.workspace_id is None else str(self.workspace_id).strip()
        if not workspace:
            raise AISquaredConfigError(
                "No AI Squared workspace: set the connection extra 'workspace_id' (every AI Squared call "
                "names "
                "its workspace in the Workspace-Id header; without it the server answers 400 'Workspace not "
                "found')."
            )
        object.__setattr__(self, "workspace_id", workspace)
        for name in ("connect_timeout", "read_timeout"):
            if getattr(self, name) <= 0:
                raise AISquaredConfigError(f"{name} must be a positive number of seconds.")

    @property
    def logs_in(self) -> bool:
        """Whether the client logs in with email and password (else it sends the static token)."""
        return bool(self.email and self.password)

    def secrets(self) -> list[str]:
        """The secrets this configuration holds (scrubbed from every message)."""
        return [self.token, self.password]

    @property
    def api_root(self) -> str:
        """Absolute URL that request paths are relative to (``.../api/v1``)."""
        return self.base_url


def normalise_api_root(url: str | None) -> str:
    """Check a base URL: https assumed without a scheme, ``/api/v1`` added when there is no path."""
    text = (url or "").strip() or DEFAULT_BASE_URL
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise AISquaredConfigError(
            f"The AI Squared base URL must start with http:// or https://, got {url!r}."
        )
    if not parts.hostname:
        raise AISquaredConfigError(f"The AI Squared base URL {url!r} has no host name.")
    if parts.query or parts.fragment:
        raise AISquaredConfigError(
            "The AI Squared base URL must not have a query or fragment (never put the token in the URL)."
        )
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise AISquaredConfigError(f"The AI Squared base URL {url!r} has an invalid port.") from exc
    netloc = parts.netloc.rsplit("@", 1)[-1]  # credentials never belong in the URL
    path = parts.path.rstrip("/") or API_PATH
    return urlunsplit((parts.scheme, netloc, path, "", ""))
