"""The clients' error hierarchy, and the profile that words errors for each service.

Every error raised by a client of this provider is a :class:`ServiceError`. Each service has its own family
(``CDataSync...Error`` here, ``AISquared...Error`` in :mod:`airflow_provider_cdata_sync.aisquared.errors`)
whose classes also derive from the neutral classes below, so code that serves both services (retries, the
wait loop, the triggers) catches ``TransportError`` or ``NotFoundError`` and users catch their service's
classes. Messages name the problem and, where there is one, the fix. No message ever contains a secret: the
clients never put one in a URL, and server messages are scrubbed before they are shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar


class ServiceError(Exception):
    """Base class of every error raised by this provider's clients."""

    service: ClassVar[str] = "the server"


class ConfigError(ServiceError, ValueError):
    """The client or connection configuration is invalid (names the field and the fix)."""


class TransportError(ServiceError):
    """The server could not be reached or the connection broke (after the allowed retries).

    :ivar method: the HTTP method of the request.
    :ivar path: the URL path of the request (never its query string).
    """

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(message)
        self.method = method
        self.path = path


class OutcomeUnknownError(TransportError):
    """A request that starts or changes something may have reached the server, but its answer was lost.

    It was deliberately not retried, because a retry could start a run twice. Callers that need the
    outcome look it up (for a run: the target's status and history).
    """


class APIError(ServiceError):
    """The server answered with an HTTP error.

    :ivar status_code: the HTTP status.
    :ivar server_message: the message the server gave, if any.
    :ivar method: the HTTP method of the request.
    :ivar path: the URL path of the request (never with a secret: none is ever put in a URL).
    :ivar hint: what to do about it, when known.
    """

    def __init__(
        self,
        status_code: int,
        server_message: str,
        *,
        method: str = "",
        path: str = "",
        hint: str = "",
    ) -> None:
        self.status_code = status_code
        self.server_message = server_message
        self.method = method
        self.path = path
        self.hint = hint
        text = (
            f"{self.service} API error {status_code} on {method} {path}: {server_message or '(no message)'}"
        )
        if hint:
            text = text.rstrip(".") + f". {hint}"
        super().__init__(text)


class NotFoundError(APIError):
    """404: the resource does not exist."""


class ConflictError(APIError):
    """409: the resource is busy (for example a running job cannot be started again)."""


class AuthenticationError(APIError):
    """401 or 403: the credentials are missing, wrong or lack access."""


class RateLimitError(APIError):
    """429 after the allowed retries."""


class ServerError(APIError):
    """5xx after the allowed retries."""


class MethodNotAllowedError(APIError):
    """405: the server does not offer that method on that path."""


class ResponseError(ServiceError):
    """The server's answer could not be understood (not JSON, or not the expected shape)."""

    def __init__(self, message: str, *, method: str = "", path: str = "", body_excerpt: str = "") -> None:
        self.method = method
        self.path = path
        self.body_excerpt = body_excerpt
        text = f"Unparseable answer from {self.service} to {method} {path}: {message}"
        if body_excerpt:
            text += f" (body starts with: {body_excerpt!r})"
        super().__init__(text)


class UnsupportedError(ServiceError):
    """The operation does not exist in the API (version) the server speaks."""


class LookupFailedError(ServiceError, LookupError):
    """A resource given by name or id was not found, or a name matched several resources. The message
    lists what exists.

    :ivar kind: what was looked for (``job``, ``workspace``, ...).
    :ivar wanted: the name or id given.
    :ivar known: the names that exist (sorted).
    :ivar ambiguous: the matches, when the name was ambiguous.
    """

    def __init__(
        self, kind: str, wanted: str, known: Iterable[str], *, ambiguous: Iterable[str] = ()
    ) -> None:
        self.kind = kind
        self.wanted = wanted
        self.known = sorted(set(known), key=str.lower)
        self.ambiguous = list(ambiguous)
        if self.ambiguous:
            message = (
                f"The {kind} name {wanted!r} is ambiguous: it matches {', '.join(self.ambiguous)}. "
                f"Give the exact name (case matters) or the id."
            )
        else:
            message = f"No {kind} with id or name {wanted!r}. {describe_known(kind, self.known)}"
        super().__init__(message)


class RunNotFoundError(ServiceError):
    """A run that should exist could not be found (for example after a lost answer to a start)."""


def describe_known(kind: str, known: list[str], limit: int = 50) -> str:
    """Say which names exist, bounded so a huge workspace does not flood the message."""
    if not known:
        return f"There are no {kind}s here."
    shown = ", ".join(repr(name) for name in known[:limit])
    more = f" and {len(known) - limit} more" if len(known) > limit else ""
    return f"Known {kind}s: {shown}{more}."


@dataclass(frozen=True)
class ErrorFamily:
    """The error classes one service raises, one per neutral class."""

    config: type[ConfigError]
    transport: type[TransportError]
    outcome_unknown: type[OutcomeUnknownError]
    api: type[APIError]
    not_found: type[NotFoundError]
    conflict: type[ConflictError]
    authentication: type[AuthenticationError]
    rate_limit: type[RateLimitError]
    server: type[ServerError]
    method_not_allowed: type[MethodNotAllowedError]
    response: type[ResponseError]
    unsupported: type[UnsupportedError]
    lookup: type[LookupFailedError]
    run_not_found: type[RunNotFoundError]
    #: Service-specific statuses (AI Squared's 424 "the sync cannot run now").
    by_status: Mapping[int, type[APIError]] = field(default_factory=dict)

    def for_status(self, status: int) -> type[APIError]:
        """The class of an HTTP error status."""
        if status in self.by_status:
            return self.by_status[status]
        if status in (401, 403):
            return self.authentication
        by_status: dict[int, type[APIError]] = {
            404: self.not_found,
            405: self.method_not_allowed,
            409: self.conflict,
            429: self.rate_limit,
        }
        if status in by_status:
            return by_status[status]
        return self.server if status >= 500 else self.api


@dataclass(frozen=True)
class ServiceProfile:
    """How one service is named and worded, and which errors it raises: handed to the shared transport,
    wait loop and reporting, so that nothing is reworded after the fact.

    :param name: the service's name in messages (``CData Sync``).
    :param errors: its error classes.
    :param auth_hint: what to check after a 401/403.
    :param unreachable_hint: what to check when the server cannot be reached.
    :param empty_forbidden_hint: what a 403 with an empty body means, when the service gives those for
        something other than a bad credential.
    """

    name: str
    errors: ErrorFamily
    auth_hint: str
    unreachable_hint: str
    empty_forbidden_hint: str | None = None


# ------------------------------------------------------------------------------------------ CData Sync
class CDataSyncError(ServiceError):
    """Base class of every error raised by the CData Sync client."""

    service = "CData Sync"


class CDataSyncConfigError(CDataSyncError, ConfigError):
    """The CData Sync client or connection configuration is invalid (names the field and the fix)."""


class CDataSyncTransportError(CDataSyncError, TransportError):
    """CData Sync could not be reached or the connection broke (after the allowed retries)."""


class CDataSyncOutcomeUnknownError(CDataSyncTransportError, OutcomeUnknownError):
    """A request that starts or changes something may have reached CData Sync, but its answer was lost;
    it was not retried, because a retry could start a job twice."""


class CDataSyncAPIError(CDataSyncError, APIError):
    """CData Sync answered with an HTTP error."""


class CDataSyncNotFoundError(CDataSyncAPIError, NotFoundError):
    """CData Sync answered 404: the resource does not exist."""


class CDataSyncConflictError(CDataSyncAPIError, ConflictError):
    """CData Sync answered 409: for example the job is running and cannot be changed or started."""


class CDataSyncAuthenticationError(CDataSyncAPIError, AuthenticationError):
    """CData Sync answered 401 or 403: the token is missing, wrong or lacks API access."""


class CDataSyncRateLimitError(CDataSyncAPIError, RateLimitError):
    """CData Sync kept answering 429 after the allowed retries."""


class CDataSyncServerError(CDataSyncAPIError, ServerError):
    """CData Sync kept answering 5xx after the allowed retries."""


class CDataSyncMethodNotAllowedError(CDataSyncAPIError, MethodNotAllowedError):
    """CData Sync answered 405: this server does not offer that method on that path."""


class CDataSyncResponseError(CDataSyncError, ResponseError):
    """CData Sync's answer could not be understood (not JSON, or not the expected shape)."""


class CDataSyncUnsupportedError(CDataSyncError, UnsupportedError):
    """The operation does not exist in the API version the CData Sync server speaks."""


class CDataSyncLookupError(CDataSyncError, LookupFailedError):
    """A job, pipeline, transformation, connection, task or workspace given by name or id was not found,
    or a name matched several resources. The message lists what exists."""


class CDataSyncRunNotFoundError(CDataSyncError, RunNotFoundError):
    """A run that should exist could not be found (for example after a lost answer to execute)."""


CDATA_SYNC_ERRORS = ErrorFamily(
    config=CDataSyncConfigError,
    transport=CDataSyncTransportError,
    outcome_unknown=CDataSyncOutcomeUnknownError,
    api=CDataSyncAPIError,
    not_found=CDataSyncNotFoundError,
    conflict=CDataSyncConflictError,
    authentication=CDataSyncAuthenticationError,
    rate_limit=CDataSyncRateLimitError,
    server=CDataSyncServerError,
    method_not_allowed=CDataSyncMethodNotAllowedError,
    response=CDataSyncResponseError,
    unsupported=CDataSyncUnsupportedError,
    lookup=CDataSyncLookupError,
    run_not_found=CDataSyncRunNotFoundError,
)

CDATA_SYNC = ServiceProfile(
    name="CData Sync",
    errors=CDATA_SYNC_ERRORS,
    auth_hint="Check the auth token in the Airflow connection (password field): it must be the API token "
    "of a Sync user with API access",
    unreachable_hint="Check the connection's host and port (CData Sync listens on 8181 by default) and that "
    "it runs.",
)
