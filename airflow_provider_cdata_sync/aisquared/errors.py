"""AI Squared errors: the same neutral classes as CData Sync's
(:mod:`airflow_provider_cdata_sync.client.errors`), in a family of their own, and the profile that words
the shared transport's messages for AI Squared."""

from __future__ import annotations

from airflow_provider_cdata_sync.client.errors import (
    APIError,
    AuthenticationError,
    ConfigError,
    ConflictError,
    ErrorFamily,
    LookupFailedError,
    MethodNotAllowedError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseError,
    RunNotFoundError,
    ServerError,
    ServiceError,
    ServiceProfile,
    TransportError,
    UnsupportedError,
)


class AISquaredError(ServiceError):
    """Base class of every error raised by the AI Squared client."""

    service = "AI Squared"


class AISquaredConfigError(AISquaredError, ConfigError):
    """The client or connection configuration is invalid (names the field and the fix)."""


class AISquaredTransportError(AISquaredError, TransportError):
    """AI Squared could not be reached (after the allowed retries)."""


class AISquaredOutcomeUnknownError(AISquaredTransportError, OutcomeUnknownError):
    """A request that starts something may have reached AI Squared, but its answer was lost."""


class AISquaredAPIError(AISquaredError, APIError):
    """AI Squared answered with an HTTP error (``{"errors": [{"status","title","detail"}]}``)."""


class AISquaredNotFoundError(AISquaredAPIError, NotFoundError):
    """404: the sync, run or record does not exist (in this workspace)."""


class AISquaredConflictError(AISquaredAPIError, ConflictError):
    """409: the resource is busy."""


class AISquaredAuthenticationError(AISquaredAPIError, AuthenticationError):
    """401 or 403: the token (or the login) was refused, or the host name is not allowed."""


class AISquaredRateLimitError(AISquaredAPIError, RateLimitError):
    """429 after the allowed retries."""


class AISquaredServerError(AISquaredAPIError, ServerError):
    """5xx after the allowed retries."""


class AISquaredMethodNotAllowedError(AISquaredAPIError, MethodNotAllowedError):
    """405: the server does not offer that method there."""


class AISquaredSyncNotRunnableError(AISquaredAPIError):
    """424 (Failed Dependency): the sync cannot run (or be cancelled) now. The server's message says why:
    "Sync is disabled", "Sync Schedule type should be manual", "Sync cannot be scheduled due to active
    sync run", or on cancel "Sync cannot be cancelled due to no active sync run"."""


class AISquaredResponseError(AISquaredError, ResponseError):
    """AI Squared's answer could not be understood."""


class AISquaredUnsupportedError(AISquaredError, UnsupportedError):
    """AI Squared offers no such operation."""


class AISquaredLookupError(AISquaredError, LookupFailedError):
    """A sync given by id was not found; the message lists what exists."""


class AISquaredRunNotFoundError(AISquaredError, RunNotFoundError):
    """The run a manual trigger started did not show up in the sync's runs."""


AISQUARED_ERRORS = ErrorFamily(
    config=AISquaredConfigError,
    transport=AISquaredTransportError,
    outcome_unknown=AISquaredOutcomeUnknownError,
    api=AISquaredAPIError,
    not_found=AISquaredNotFoundError,
    conflict=AISquaredConflictError,
    authentication=AISquaredAuthenticationError,
    rate_limit=AISquaredRateLimitError,
    server=AISquaredServerError,
    method_not_allowed=AISquaredMethodNotAllowedError,
    response=AISquaredResponseError,
    unsupported=AISquaredUnsupportedError,
    lookup=AISquaredLookupError,
    run_not_found=AISquaredRunNotFoundError,
    by_status={424: AISquaredSyncNotRunnableError},
)

AISQUARED = ServiceProfile(
    name="AI Squared",
    errors=AISQUARED_ERRORS,
    auth_hint="Check the credentials of the Airflow connection: a bearer token in the password field, or "
    "the user's email as login and password as password; and the workspace id (extra 'workspace_id')",
    unreachable_hint="Check the connection's host (the API base URL, e.g. http://multiwoven:3000/api/v1) and "
    "that the server runs.",
    empty_forbidden_hint="The server refused the host name, not the credentials (an empty 403 comes from its "
    "host authorization): use the host name it allows (localhost, *.squared.ai) or have its ALLOWED_HOST "
    "setting include the connection's host",
)

__all__ = [
    "AISQUARED",
    "AISQUARED_ERRORS",
    "AISquaredAPIError",
    "AISquaredAuthenticationError",
    "AISquaredConfigError",
    "AISquaredConflictError",
    "AISquaredError",
    "AISquaredLookupError",
    "AISquaredMethodNotAllowedError",
    "AISquaredNotFoundError",
    "AISquaredOutcomeUnknownError",
    "AISquaredRateLimitError",
    "AISquaredResponseError",
    "AISquaredRunNotFoundError",
    "AISquaredServerError",
    "AISquaredSyncNotRunnableError",
    "AISquaredTransportError",
    "AISquaredUnsupportedError",
]
