"""AI Squared errors: the CData Sync client's hierarchy, worded for AI Squared.

Each class also subclasses its CData Sync counterpart, so the shared machinery (retries, secret
scrubbing, the triggers' transient-error rules) treats them alike. The shared transport raises CData
Sync errors; :func:`translated` re-raises them as these, with AI Squared's paths and hints.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

from airflow_provider_cdata_sync.client.errors import (
    CDataSyncAPIError,
    CDataSyncAuthenticationError,
    CDataSyncConfigError,
    CDataSyncConflictError,
    CDataSyncError,
    CDataSyncLookupError,
    CDataSyncMethodNotAllowedError,
    CDataSyncNotFoundError,
    CDataSyncOutcomeUnknownError,
    CDataSyncRateLimitError,
    CDataSyncResponseError,
    CDataSyncServerError,
    CDataSyncTransportError,
)

T = TypeVar("T")

AUTH_HINT = (
    "Check the bearer token (the connection's password) and, for self-hosted servers, the workspace id "
    "(connection extra 'workspace_id')"
)


class AISquaredError(CDataSyncError):
    """Base class of every error raised by the AI Squared client."""


class AISquaredConfigError(AISquaredError, CDataSyncConfigError):
    """The client or connection configuration is invalid."""


class AISquaredTransportError(AISquaredError, CDataSyncTransportError):
    """The server could not be reached (after the allowed retries)."""


class AISquaredOutcomeUnknownError(AISquaredTransportError, CDataSyncOutcomeUnknownError):
    """A request that starts something may have reached the server, but its answer was lost."""


class AISquaredResponseError(AISquaredError, CDataSyncResponseError):
    """The server's answer could not be understood."""


class AISquaredLookupError(AISquaredError, CDataSyncLookupError):
    """A sync, run or record was not found where it should be."""


class AISquaredAPIError(AISquaredError, CDataSyncAPIError):
    """The server answered with an HTTP error (``{"errors": [{"status","title","detail"}]}``)."""

    def __init__(
        self, status_code: int, server_message: str, *, method: str = "", path: str = "", hint: str = ""
    ) -> None:
        super().__init__(status_code, server_message, method=method, path=path, hint=hint)
        text = f"AI Squared API error {status_code} on {method} {path}: {server_message or '(no message)'}"
        self.args = (text.rstrip(".") + f". {hint}" if hint else text,)


class AISquaredNotFoundError(AISquaredAPIError, CDataSyncNotFoundError):
    """404: the sync, run or record does not exist (in this workspace)."""


class AISquaredConflictError(AISquaredAPIError, CDataSyncConflictError):
    """409: the resource is busy."""


class AISquaredAuthenticationError(AISquaredAPIError, CDataSyncAuthenticationError):
    """401 or 403: the token is missing or wrong, or the workspace is not the token's."""


class AISquaredRateLimitError(AISquaredAPIError, CDataSyncRateLimitError):
    """429 after the allowed retries."""


class AISquaredServerError(AISquaredAPIError, CDataSyncServerError):
    """5xx after the allowed retries."""


class AISquaredMethodNotAllowedError(AISquaredAPIError, CDataSyncMethodNotAllowedError):
    """405: the server does not offer that method there."""


class AISquaredSyncNotRunnableError(AISquaredAPIError):
    """424 (Failed Dependency): the sync cannot run now: disabled, not manual, or a run is active."""


_API_CLASSES: dict[type[CDataSyncAPIError], type[AISquaredAPIError]] = {
    CDataSyncNotFoundError: AISquaredNotFoundError,
    CDataSyncConflictError: AISquaredConflictError,
    CDataSyncAuthenticationError: AISquaredAuthenticationError,
    CDataSyncRateLimitError: AISquaredRateLimitError,
    CDataSyncServerError: AISquaredServerError,
    CDataSyncMethodNotAllowedError: AISquaredMethodNotAllowedError,
}
_OTHER_CLASSES: list[tuple[type[CDataSyncError], type[AISquaredError]]] = [
    (CDataSyncOutcomeUnknownError, AISquaredOutcomeUnknownError),
    (CDataSyncTransportError, AISquaredTransportError),
    (CDataSyncResponseError, AISquaredResponseError),
    (CDataSyncConfigError, AISquaredConfigError),
]


def _reword(text: str, api_path: str) -> str:
    return (
        text.replace("/api.rsc/", api_path.rstrip("/") + "/")
        .replace(" (CData Sync listens on 8181 by default)", "")
        .replace("CData Sync", "AI Squared")
    )


def translate(error: CDataSyncError, api_path: str) -> CDataSyncError:
    """The AI Squared form of an error raised by the shared transport (others are returned as they are)."""
    if isinstance(error, AISquaredError):
        return error
    path = _reword(getattr(error, "path", "") or "", api_path)
    if isinstance(error, CDataSyncAPIError):
        cls = next((v for k, v in _API_CLASSES.items() if isinstance(error, k)), AISquaredAPIError)
        if error.status_code == 424:
            cls = AISquaredSyncNotRunnableError
        hint = AUTH_HINT if cls is AISquaredAuthenticationError else error.hint
        return cls(error.status_code, error.server_message, method=error.method, path=path, hint=hint)
    for source, target in _OTHER_CLASSES:
        if isinstance(error, source):
            new: Any = target.__new__(target)
            new.__dict__.update(vars(error))
            new.args = tuple(_reword(arg, api_path) if isinstance(arg, str) else arg for arg in error.args)
            if hasattr(new, "path"):
                new.path = path
            return new  # type: ignore[no-any-return]
    return error


def translated(steps: Generator[Any, Any, T], api_path: str) -> Generator[Any, Any, T]:
    """Drive ``steps`` unchanged, re-raising the shared transport's errors in their AI Squared form."""
    try:
        return (yield from steps)
    except AISquaredError:
        raise
    except CDataSyncError as error:
        raise translate(error, api_path) from None


class AISquaredRunNotFoundError(AISquaredError):
    """The run a manual trigger started did not show up in the sync's runs."""
