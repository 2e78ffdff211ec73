"""AI Squared client configuration: the API root, the bearer token, the workspace, timeouts and retries."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_cdata_sync.aisquared.errors import AISquaredConfigError
from airflow_provider_cdata_sync.client.config import RetrySettings

#: The hosted API. Self-hosted (open-source Multiwoven) servers answer under ``http://host:3000/api/v1``.
DEFAULT_BASE_URL = "https://api.squared.ai/api/v1"
API_PATH = "/api/v1"


@dataclass(frozen=True)
class AISquaredConfig:
    """Everything the client needs to talk to one AI Squared (Multiwoven) server.

    Satisfies :class:`~airflow_provider_cdata_sync.client.transport.HttpSettings`, so the CData Sync
    drivers, retry policy and secret scrubbing serve it unchanged.

    :param base_url: the API root, e.g. ``https://api.squared.ai/api/v1`` (the default) or
        ``http://multiwoven:3000/api/v1``; ``/api/v1`` is added when the URL has no path.
    :param token: the bearer token. Never placed in a URL or a message.
    :param workspace_id: sent as the ``Workspace-Id`` header when set (self-hosted servers want it).
    """

    base_url: str = DEFAULT_BASE_URL
    token: str = field(default="", repr=False)
    workspace_id: str | None = None
    verify: bool | str = True
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retry: RetrySettings = field(default_factory=RetrySettings)
    user_agent: str = "airflow-provider-cdata-sync (aisquared)"

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", normalise_api_root(self.base_url))
        if not self.token:
            raise AISquaredConfigError(
                "No AI Squared API token: set the connection's password to a bearer token "
                "(AI Squared: Settings > API keys; self-hosted Multiwoven: the user's API token)."
            )
        if self.workspace_id is not None and not str(self.workspace_id).strip():
            object.__setattr__(self, "workspace_id", None)
        for name in ("connect_timeout", "read_timeout"):
            if getattr(self, name) <= 0:
                raise AISquaredConfigError(f"{name} must be a positive number of seconds.")

    @property
    def api_root(self) -> str:
        """Absolute URL that request paths are relative to (``.../api/v1``)."""
        return self.base_url

    @property
    def api_path(self) -> str:
        """The path part of the API root, for messages (``/api/v1``)."""
        return urlsplit(self.base_url).path or "/"


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
