"""One HTTP stack for both clients: requests described once, retried by one policy, sent by two drivers.

An API operation is a generator ("sans-IO"): it yields :class:`ApiRequest` objects and receives
``httpx.Response`` objects back, and returns its result. :func:`with_retries` turns each request into
lower-level steps (:class:`Send` and :class:`Sleep`) according to the retry policy. A synchronous
driver (``httpx.Client`` + ``time.sleep``) and an asynchronous driver (``httpx.AsyncClient`` +
``asyncio.sleep``) run the same steps, so no endpoint and no retry rule is written twice.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpx

from airflow_provider_cdata_sync.client.config import ClientConfig, RetrySettings
from airflow_provider_cdata_sync.client.errors import (
    CDataSyncAPIError,
    CDataSyncAuthenticationError,
    CDataSyncConflictError,
    CDataSyncError,
    CDataSyncMethodNotAllowedError,
    CDataSyncNotFoundError,
    CDataSyncOutcomeUnknownError,
    CDataSyncRateLimitError,
    CDataSyncResponseError,
    CDataSyncServerError,
    CDataSyncTransportError,
)

T = TypeVar("T")

#: Statuses after which a request is retried whatever its method: the server did not act on it.
REFUSED_STATUSES = frozenset({429, 503})
#: Gateway errors: the request may or may not have reached the application.
GATEWAY_STATUSES = frozenset({502, 504})


@dataclass(frozen=True)
class ApiRequest:
    """One API request, relative to the API root ``<base>/api.rsc``.

    :param idempotent: whether repeating it is harmless. Defaults to True for GET, PUT and DELETE and
        False for POST; read-only POSTs (list tables, test, download a log) set it to True.
    :param accept_statuses: non-2xx statuses the operation wants to see itself (for fallbacks) instead
        of raising.
    """

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    idempotent: bool | None = None
    accept_statuses: frozenset[int] = field(default_factory=frozenset)
    url: str | None = None  # an absolute URL (paging links) overrides path and params
    tail_bytes: int | None = None  # stream the body and keep only its last N bytes (huge logs)

    @property
    def is_idempotent(self) -> bool:
        """Whether a retry after the request may have reached the server is safe."""
        if self.idempotent is not None:
            return self.idempotent
        return self.method.upper() != "POST"


@dataclass(frozen=True)
class Send:
    """Driver step: send this request and give back the response (or the transport exception)."""

    request: httpx.Request
    tail_bytes: int | None = None


@dataclass(frozen=True)
class Sleep:
    """Driver step: wait this many seconds before the next step."""

    seconds: float


Step = Send | Sleep
#: An operation: yields requests (or a Sleep, to wait between polls) and gets responses back.
Call = Generator["ApiRequest | Sleep", httpx.Response, T]
Steps = Generator[Step, "httpx.Response | httpx.TransportError | None", T]


class RetryPolicy:
    """Decides whether and when a request is sent again. Shared by the sync and async drivers."""

    def __init__(self, settings: RetrySettings, rng: Callable[[], float] = random.random) -> None:
        self.settings = settings
        self._rng = rng

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter: attempt 0 waits up to ``backoff_base`` seconds."""
        ceiling = min(self.settings.backoff_max, self.settings.backoff_base * (2**attempt))
        return ceiling * (0.5 + 0.5 * self._rng())

    def delay_after_response(
        self, request: ApiRequest, response: httpx.Response, attempt: int
    ) -> float | None:
        """Seconds to wait before retrying after this response, or None to stop retrying."""
        if attempt >= self.settings.max_retries:
            return None
        status = response.status_code
        retryable = (
            status in REFUSED_STATUSES
            or (status in GATEWAY_STATUSES and request.is_idempotent)
            or (status == 500 and request.method.upper() == "GET")
        )
        if not retryable:
            return None
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is not None:
            return min(retry_after, self.settings.retry_after_max)
        return self.backoff(attempt)

    def delay_after_error(
        self, request: ApiRequest, error: httpx.TransportError, attempt: int
    ) -> float | None:
        """Seconds to wait before retrying after a transport error, or None to stop retrying."""
        if attempt >= self.settings.max_retries:
            return None
        if not request.is_idempotent and may_have_reached_server(error):
            return None
        return self.backoff(attempt)


def may_have_reached_server(error: httpx.TransportError) -> bool:
    """Whether the request may have been received before the error (so a POST must not be repeated)."""
    return not isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def parse_retry_after(value: str | None) -> float | None:
    """Read a ``Retry-After`` header: delta seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class HttpSettings(Protocol):
    """What the drivers need of a configuration (the CData Sync config and others, e.g. AI Squared)."""

    @property
    def token(self) -> str: ...
    @property
    def verify(self) -> bool | str: ...
    @property
    def connect_timeout(self) -> float: ...
    @property
    def read_timeout(self) -> float: ...
    @property
    def retry(self) -> RetrySettings: ...
    @property
    def user_agent(self) -> str: ...
    @property
    def api_root(self) -> str:
        """Absolute URL that request paths are relative to."""
        ...


class RequestBuilder:
    """Turns :class:`ApiRequest` objects into ``httpx.Request`` objects for one server (no auth here)."""

    def __init__(self, config: HttpSettings) -> None:
        self.config = config

    def headers(self) -> dict[str, str]:
        """Headers sent with every request."""
        return {"Accept": "application/json", "User-Agent": self.config.user_agent}

    def auth(self) -> httpx.Auth | None:
        """httpx authentication, if any."""
        return None

    def url(self, request: ApiRequest) -> str:
        """The absolute URL of a request."""
        if request.url:
            return request.url
        return f"{self.config.api_root}/{request.path.lstrip('/')}"

    def build(self, http: httpx.Client | httpx.AsyncClient, request: ApiRequest) -> httpx.Request:
        """Build the ``httpx.Request`` through the given client (its headers and auth apply)."""
        params = None if request.url else clean_params(request.params)
        return http.build_request(request.method.upper(), self.url(request), params=params, json=request.json)


class CDataRequestBuilder(RequestBuilder):
    """CData Sync authentication: ``x-cdata-authtoken`` header, or HTTP Basic ``user:token``."""

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


def clean_params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Drop None values and turn booleans into the lower-case words the server expects."""
    if not params:
        return None
    cleaned: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            cleaned[key] = "true" if value else "false"
        elif isinstance(value, list | tuple):
            cleaned[key] = ",".join(str(item) for item in value)
        else:
            cleaned[key] = str(value)
    return cleaned or None


def with_retries(
    call: Call[T],
    build: Callable[[ApiRequest], httpx.Request],
    policy: RetryPolicy,
    scrub: Callable[[str], str],
) -> Steps[T]:
    """Run an operation, turning each of its requests into send/sleep steps under the retry policy.

    Error statuses the operation did not ask to see are raised as :class:`CDataSyncAPIError`
    subclasses; transport errors that cannot be retried become :class:`CDataSyncTransportError`.
    """
    try:
        request = next(call)
        while True:
            if isinstance(request, Sleep):  # the operation wants to wait (e.g. before looking again)
                yield request
                request = call.send(None)  # type: ignore[arg-type]
                continue
            try:
                response = yield from _send_with_retries(request, build, policy, scrub)
                failed = response.is_error or response.is_redirect  # redirects are not followed: say so
                if failed and response.status_code not in request.accept_statuses:
                    raise error_from_response(request, response, scrub)
            except CDataSyncError as error:
                # Raised inside the operation, at its ``yield``: it may handle it (e.g. look up the run
                # whose start answer was lost, or fall back after a 405); if not, it propagates from here.
                request = call.throw(error)
                continue
            request = call.send(response)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    except CDataSyncError as error:  # e.g. an unparseable answer quoting a body that echoes the token
        scrub_error(error, scrub)
        raise
    finally:
        call.close()


def _send_with_retries(
    request: ApiRequest,
    build: Callable[[ApiRequest], httpx.Request],
    policy: RetryPolicy,
    scrub: Callable[[str], str],
) -> Generator[Step, httpx.Response | httpx.TransportError | None, httpx.Response]:
    attempt = 0
    while True:
        outcome = yield Send(build(request), request.tail_bytes)
        if isinstance(outcome, httpx.Response):
            delay = policy.delay_after_response(request, outcome, attempt)
            if delay is None:
                return outcome
            # Drivers hand over fully read responses; a sync close() on an async stream would raise.
            if isinstance(outcome.stream, httpx.SyncByteStream):
                outcome.close()
        elif isinstance(outcome, httpx.TransportError):
            delay = policy.delay_after_error(request, outcome, attempt)
            if delay is None:
                raise transport_error(request, outcome, attempt, scrub) from None
        else:  # pragma: no cover - a driver bug
            raise TypeError(f"driver sent {outcome!r}")
        attempt += 1
        yield Sleep(delay)


def transport_error(
    request: ApiRequest, error: httpx.TransportError, attempt: int, scrub: Callable[[str], str]
) -> CDataSyncTransportError:
    """A clear error for a request that could not get an answer."""
    method, path = request.method.upper(), display_path(request)
    detail = scrub(str(error) or type(error).__name__)
    tries = f" after {attempt + 1} attempts" if attempt else ""
    if not request.is_idempotent and may_have_reached_server(error):
        return CDataSyncOutcomeUnknownError(
            f"The answer to {method} {path} was lost ({type(error).__name__}: {detail}); it was not "
            "retried because it may already have taken effect on the server.",
            method=method,
            path=path,
        )
    hint = transport_hint(error, detail)
    return CDataSyncTransportError(
        f"Could not reach CData Sync for {method} {path}{tries}: {type(error).__name__}: {detail}. {hint}",
        method=method,
        path=path,
    )


def transport_hint(error: httpx.TransportError, detail: str) -> str:
    """A fix to suggest for a transport error."""
    lowered = detail.lower()
    if "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
        return (
            "TLS verification failed: check the server certificate, set the connection extra "
            "'verify_ssl' to a CA bundle path, or (not recommended) to false."
        )
    if (
        "name or service not known" in lowered
        or "nodename nor servname" in lowered
        or "getaddrinfo" in lowered
        or "name resolution" in lowered  # EAI_AGAIN: "Temporary failure in name resolution" (no DNS)
        or "no address associated" in lowered
    ):
        return "The host name could not be resolved: check the connection's host."
    if isinstance(error, httpx.ConnectError):
        return (
            "Check the connection's host and port (CData Sync listens on 8181 by default) and that it runs."
        )
    if isinstance(error, httpx.TimeoutException):
        return "The server did not answer in time: raise the connection extra 'timeout' if it is slow."
    return "Check the network between Airflow and CData Sync."


def display_path(request: ApiRequest) -> str:
    """The path shown in messages (relative to the API root; never a query string, which could hold data)."""
    if request.url:
        return httpx.URL(request.url).path
    return "/api.rsc/" + request.path.lstrip("/")


def server_message(response: httpx.Response) -> str:
    """The server's error message wherever it is: ``error.message``, ``message``, ``detail``, JSON:API ..."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip()
    return find_message(body) or response.text[:300].strip()


def find_message(body: Any) -> str:
    """Look for a message in the error shapes seen in the wild."""
    if isinstance(body, dict):
        error = body.get("error") or body.get("Error")
        if isinstance(error, dict):
            found = find_message(error)
            if found:
                return found
        elif isinstance(error, str) and error:
            return error
        for key in ("message", "Message", "detail", "Detail", "error_description", "title"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(filter(None, (find_message(item) for item in errors)))
    if isinstance(body, str):
        return body
    return ""


def error_from_response(
    request: ApiRequest, response: httpx.Response, scrub: Callable[[str], str]
) -> CDataSyncAPIError:
    """Map an HTTP error status to the error hierarchy, with the server's message and a hint."""
    status = response.status_code
    message = scrub(server_message(response))
    method, path = request.method.upper(), display_path(request)
    kwargs: dict[str, Any] = {"method": method, "path": path}
    if status in (401, 403):
        return CDataSyncAuthenticationError(
            status,
            message,
            hint="Check the auth token in the Airflow connection (password field): it must be the API token "
            "of a Sync user with API access",
            **kwargs,
        )
    if status == 404:
        return CDataSyncNotFoundError(status, message, **kwargs)
    if status == 405:
        return CDataSyncMethodNotAllowedError(status, message, **kwargs)
    if status == 409:
        return CDataSyncConflictError(status, message, **kwargs)
    if status == 429:
        return CDataSyncRateLimitError(status, message, hint="The server kept rate-limiting", **kwargs)
    if status >= 500:
        if not request.is_idempotent and status in GATEWAY_STATUSES:
            kwargs["hint"] = "The request was not repeated because it may already have taken effect"
        return CDataSyncServerError(status, message, **kwargs)
    if response.is_redirect:
        location = scrub(response.headers.get("Location", ""))
        kwargs["hint"] = f"The server redirects to {location!r}: set the connection's host to that base URL"
    return CDataSyncAPIError(status, message, **kwargs)


def parse_json(request: ApiRequest, response: httpx.Response) -> Any:
    """The JSON body of a response; an empty body is None; anything else raises a clear error."""
    if not response.content or response.status_code == 204:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise CDataSyncResponseError(
            "the body is not JSON",
            method=request.method.upper(),
            path=display_path(request),
            body_excerpt=response.text[:80],
        ) from exc


def scrub_error(error: BaseException, scrub: Callable[[str], str]) -> None:
    """Remove secrets from an error's message and text attributes, and drop a cause that quotes one."""
    error.args = tuple(scrub(arg) if isinstance(arg, str) else arg for arg in error.args)
    for name, value in list(vars(error).items()):
        if isinstance(value, str):
            setattr(error, name, scrub(value))
    for cause in (error.__cause__, error.__context__):
        texts = [str(cause), *(v for v in getattr(cause, "__dict__", {}).values() if isinstance(v, str))]
        if cause is not None and any(scrub(text) != text for text in texts):
            error.__cause__ = error.__context__ = None


def make_scrubber(secrets: list[str]) -> Callable[[str], str]:
    """A function that removes the given secrets from any text."""
    present = [secret for secret in secrets if secret]

    def scrub(text: str) -> str:
        for secret in present:
            text = text.replace(secret, "***")
        return text

    return scrub
