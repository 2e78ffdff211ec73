"""The client's error hierarchy.

Every error raised by the client is a :class:`CDataSyncError`. Messages name the problem and, where
there is one, the fix. No message ever contains the auth token: the client never puts the token in
a URL, and server messages are scrubbed before they are shown.
"""

from __future__ import annotations

from collections.abc import Iterable


class CDataSyncError(Exception):
    """Base class of every error raised by the CData Sync client."""


class CDataSyncConfigError(CDataSyncError, ValueError):
    """The client or connection configuration is invalid (names the field and the fix)."""


class CDataSyncTransportError(CDataSyncError):
    """The server could not be reached or the connection broke (after the allowed retries)."""

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(message)
        self.method = method
        self.path = path


class CDataSyncOutcomeUnknownError(CDataSyncTransportError):
    """A request that starts or changes something may have reached the server, but its answer was lost.

    It was deliberately not retried, because a retry could start a job twice. Callers that need the
    outcome look it up (for a job run: the job's status and history).
    """


class CDataSyncAPIError(CDataSyncError):
    """The server answered with an HTTP error.

    :ivar status_code: the HTTP status.
    :ivar server_message: the message the server gave, if any.
    :ivar method: the HTTP method of the request.
    :ivar path: the request path (never with the token: the token is never put in a URL).
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
        text = f"CData Sync API error {status_code} on {method} {path}: {server_message or '(no message)'}"
        if hint:
            text += f". {hint}"
        super().__init__(text)


class CDataSyncNotFoundError(CDataSyncAPIError):
    """The server answered 404: the resource does not exist."""


class CDataSyncConflictError(CDataSyncAPIError):
    """The server answered 409: for example the job is running and cannot be changed or started."""


class CDataSyncAuthenticationError(CDataSyncAPIError):
    """The server answered 401 or 403: the token is missing, wrong or lacks API access."""


class CDataSyncRateLimitError(CDataSyncAPIError):
    """The server kept answering 429 after the allowed retries."""


class CDataSyncServerError(CDataSyncAPIError):
    """The server kept answering 5xx after the allowed retries."""


class CDataSyncMethodNotAllowedError(CDataSyncAPIError):
    """The server answered 405: this server does not offer that method on that path."""


class CDataSyncResponseError(CDataSyncError):
    """The server's answer could not be understood (not JSON, or not the expected shape)."""

    def __init__(self, message: str, *, method: str = "", path: str = "", body_excerpt: str = "") -> None:
        self.method = method
        self.path = path
        self.body_excerpt = body_excerpt
        text = f"Unparseable answer from CData Sync to {method} {path}: {message}"
        if body_excerpt:
            text += f" (body starts with: {body_excerpt!r})"
        super().__init__(text)


class CDataSyncUnsupportedError(CDataSyncError):
    """The operation does not exist in the API version the server speaks."""


class CDataSyncLookupError(CDataSyncError, LookupError):
    """A job, pipeline, transformation, connection, task or workspace given by name or id was not found,
    or a name matched several resources. The message lists what exists."""

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


def describe_known(kind: str, known: list[str], limit: int = 50) -> str:
    """Say which names exist, bounded so a huge workspace does not flood the message."""
    if not known:
        return f"There are no {kind}s here."
    shown = ", ".join(repr(name) for name in known[:limit])
    more = f" and {len(known) - limit} more" if len(known) > limit else ""
    return f"Known {kind}s: {shown}{more}."
