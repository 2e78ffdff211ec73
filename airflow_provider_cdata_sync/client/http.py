"""One HTTP stack for every client: requests described once, retried by one policy, sent by two drivers.

An API operation is a generator method ("sans-IO") decorated with :class:`operation`: it yields
:class:`ApiRequest` objects (or a :class:`Sleep`), receives ``httpx.Response`` objects back and returns its
result. :func:`with_retries` turns each request into lower-level steps (:class:`Send`, :class:`Sleep`)
according to the retry policy. The synchronous driver (``httpx.Client`` + ``time.sleep``) and the
asynchronous one (``httpx.AsyncClient`` + ``asyncio.sleep``) run the same steps, so no endpoint, retry rule
or paging loop is written twice. On a synchronous client ``client.jobs.list()`` returns the jobs; on an
asynchronous one it is a coroutine function (``await client.jobs.list()``); inside another operation
``yield from self.jobs.list.steps()`` composes it. Which service is talked to (CData Sync, AI Squared) only
changes the request builder (addressing, authentication) and the :class:`ServiceProfile` (wording, errors).
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import inspect
import random
import re
import time
from collections import deque
from collections.abc import Callable, Coroutine, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ValidationError

from airflow_provider_cdata_sync.client.errors import (
    APIError,
    ConfigError,
    LookupFailedError,
    ServiceError,
    ServiceProfile,
    TransportError,
)
from airflow_provider_cdata_sync.client.lean import AnswerMeter, LeanFailure, LeanReader

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")
P = ParamSpec("P")

#: Statuses after which a request is retried whatever its method: the server did not act on it.
REFUSED_STATUSES = frozenset({429, 503})
#: Gateway errors: the request may or may not have reached the application.
GATEWAY_STATUSES = frozenset({502, 504})
#: Header the drivers add to a response whose body was cut to its tail (huge logs).
TRUNCATED_HEADER = "x-cdata-provider-truncated-bytes"


# ============================================================================================ requests
@dataclass(frozen=True)
class ApiRequest:
    """One API request, relative to the client's API root.

    :param idempotent: whether repeating it is harmless. Defaults to True for GET, PUT and DELETE and
        False for POST; read-only POSTs (list tables, test, download a log) set it to True.
    :param accept_statuses: non-2xx statuses the operation wants to see itself (for fallbacks) instead
        of raising.
    :param url: an absolute URL (a paging link already rebased on the configured server) that replaces
        path and params.
    :param tail_bytes: stream the body and keep only its last N bytes (huge logs, bounded memory).
    :param headers: extra headers for this request.
    :param anonymous: send it without credentials (a login request).
    """

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    idempotent: bool | None = None
    accept_statuses: frozenset[int] = field(default_factory=frozenset)
    url: str | None = None
    tail_bytes: int | None = None
    headers: Mapping[str, str] | None = None
    anonymous: bool = False  # sent without credentials, and never triggers a login (the login itself)

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
    """Step: wait this many seconds (an operation may yield one, e.g. before looking again)."""

    seconds: float


@dataclass(frozen=True)
class LeanRead:
    """Driver step (async clients with a lean reader only): send this request on the lean read path and give
    back its answer, whatever its status (the retry policy and the error messages judge it as any other),
    or None to have it sent the full httpx way (the reader declined it, or got no answer)."""

    request: ApiRequest


Step = Send | Sleep | LeanRead
#: An operation: yields requests (or a Sleep) and gets responses back.
Call = Generator["ApiRequest | Sleep", httpx.Response, T]
Steps = Generator[Step, "httpx.Response | httpx.TransportError | None", T]


class HttpSettings(Protocol):
    """What the drivers need of a configuration (each service's config satisfies it)."""

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

    def secrets(self) -> list[str]:
        """Every secret the configuration holds, to scrub from messages."""
        ...


class RequestBuilder:
    """Turns :class:`ApiRequest` objects into ``httpx.Request`` objects for one server (no auth here).

    A builder is also told about every answer (:meth:`observe`), so that one that logs in (AI Squared)
    can tell when its token expired; :meth:`prepare` runs before each send and may log in first.
    """

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
        return http.build_request(
            request.method.upper(),
            self.url(request),
            params=params,
            json=request.json,
            headers=dict(request.headers) if request.headers else None,
        )

    def plain_headers(self) -> dict[str, str] | None:
        """Every header of a request whose credential is a plain header and needs no login now (for the
        lean read path), or None when the request needs the full path (an httpx auth flow)."""
        return self.headers() if self.auth() is None else None

    def login_steps(self) -> Call[None] | None:
        """Steps that obtain a credential before a request, or None when none is needed now."""
        return None

    def credential_rejected(self, response: httpx.Response) -> bool:
        """Whether this answer means the credential expired and a fresh login may help (once)."""
        return False


def clean_params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Drop None values and turn booleans into the lower-case words servers expect."""
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


# ============================================================================================ retries
@dataclass(frozen=True)
class RetrySettings:
    """How often and how patiently to retry requests that may safely be retried."""

    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 120.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be 0 or more, got {self.max_retries}.")


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


@dataclass
class Exchange:
    """What the retrying driver needs to send one operation's requests."""

    build: Callable[[ApiRequest], httpx.Request]
    builder: RequestBuilder
    policy: RetryPolicy
    scrub: Callable[[str], str]
    profile: ServiceProfile
    lean_reads: bool = False  # offer each request to the driver's lean read path first


def with_retries(call: Call[T], exchange: Exchange) -> Steps[T]:
    """Run an operation, turning each of its requests into send/sleep steps under the retry policy.

    Error statuses the operation did not ask to see are raised as the service's :class:`APIError`
    subclasses; transport errors that cannot be retried become its :class:`TransportError` subclass.
    The error is thrown into the operation at its ``yield``, so an operation may handle it (look up the
    run whose start answer was lost, fall back after a 405); if it does not, it propagates from here.
    """
    try:
        request = next(call)
        while True:
            if isinstance(request, Sleep):
                yield request
                request = call.send(None)  # type: ignore[arg-type]
                continue
            try:
                response = yield from _authenticated_send(request, exchange)
                failed = response.is_error or response.is_redirect  # redirects are not followed: say so
                if failed and response.status_code not in request.accept_statuses:
                    raise error_from_response(request, response, exchange)
            except ServiceError as error:
                request = call.throw(error)
                continue
            request = call.send(response)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    except ServiceError as error:  # e.g. an unparseable answer quoting a body that echoes a secret
        scrub_error(error, exchange.scrub)
        raise
    finally:
        call.close()


def _authenticated_send(request: ApiRequest, exchange: Exchange) -> Generator[Step, Any, httpx.Response]:
    """Send with retries; a builder that logs in does so first, and once more if the answer says that
    its credential expired (never in a loop)."""
    if request.anonymous:
        return (yield from _send_with_retries(request, exchange))
    yield from _login_if_needed(exchange)
    response = yield from _send_with_retries(request, exchange)
    if exchange.builder.credential_rejected(response):
        yield from _login_if_needed(exchange)
        response = yield from _send_with_retries(request, exchange)
    return response


def _login_if_needed(exchange: Exchange) -> Generator[Step, Any, None]:
    login = exchange.builder.login_steps()
    if login is not None:
        yield from with_retries(login, exchange)


def _send_with_retries(request: ApiRequest, exchange: Exchange) -> Generator[Step, Any, httpx.Response]:
    attempt = 0
    while True:
        outcome = (yield LeanRead(request)) if exchange.lean_reads else None
        if outcome is None:  # no lean reader, or it declined: the full httpx way
            outcome = yield Send(exchange.build(request), request.tail_bytes)
        if isinstance(outcome, httpx.Response):
            delay = exchange.policy.delay_after_response(request, outcome, attempt)
            if delay is None:
                return outcome
            # Drivers hand over fully read responses; a sync close() on an async stream would raise.
            if isinstance(outcome.stream, httpx.SyncByteStream):
                outcome.close()
        elif isinstance(outcome, httpx.TransportError):
            delay = exchange.policy.delay_after_error(request, outcome, attempt)
            if delay is None:
                raise transport_error(request, outcome, attempt, exchange) from None
        else:  # pragma: no cover - a driver bug
            raise TypeError(f"driver sent {outcome!r}")
        attempt += 1
        yield Sleep(delay)


# ============================================================================================ errors
def request_of(response: httpx.Response) -> httpx.Request | None:
    """The request a response answers (None for a response built without one)."""
    try:
        return response.request
    except RuntimeError:
        return None


def url_path(request: ApiRequest, exchange: Exchange | None = None, http_request: Any = None) -> str:
    """The path shown in messages: the request URL's path, never its query string (it could hold data)."""
    if http_request is not None:
        return str(http_request.url.path)
    if request.url:
        return httpx.URL(request.url).path
    root = urlsplit(exchange.builder.config.api_root).path if exchange else ""
    return f"{root}/{request.path.lstrip('/')}"


def transport_error(
    request: ApiRequest, error: httpx.TransportError, attempt: int, exchange: Exchange
) -> TransportError:
    """A clear error for a request that could not get an answer."""
    errors, service = exchange.profile.errors, exchange.profile.name
    method = request.method.upper()
    path = url_path(request, exchange, getattr(error, "_request", None))
    detail = exchange.scrub(str(error) or type(error).__name__)
    tries = f" after {attempt + 1} attempts" if attempt else ""
    if not request.is_idempotent and may_have_reached_server(error):
        return errors.outcome_unknown(
            f"The answer to {method} {path} was lost ({type(error).__name__}: {detail}); it was not "
            "retried because it may already have taken effect on the server.",
            method=method,
            path=path,
        )
    hint = transport_hint(error, detail, exchange.profile)
    return errors.transport(
        f"Could not reach {service} for {method} {path}{tries}: {type(error).__name__}: {detail}. {hint}",
        method=method,
        path=path,
    )


def transport_hint(error: httpx.TransportError, detail: str, profile: ServiceProfile) -> str:
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
        return profile.unreachable_hint
    if isinstance(error, httpx.TimeoutException):
        return "The server did not answer in time: raise the connection extra 'timeout' if it is slow."
    return f"Check the network between Airflow and {profile.name}."


def server_message(response: httpx.Response) -> str:
    """The server's error message wherever it is: ``error.message``, ``message``, ``detail``, JSON:API ..."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip()
    return find_message(body) or response.text[:300].strip()


def find_message(body: Any) -> str:
    """Look for a message in the error shapes seen in the wild (including a reason kept in ``source``)."""
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
                source = body.get("source")
                if isinstance(source, dict) and source:  # JSON:API keeps the reason here
                    return f"{value} ({', '.join(f'{k}: {v}' for k, v in source.items())})"
                return value
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(filter(None, (find_message(item) for item in errors)))
        if isinstance(errors, dict) and errors:  # {"errors": {"sync": {"schedule_type": ["is missing"]}}}
            return "; ".join(_field_errors(errors))
    if isinstance(body, str):
        return body
    return ""


def _field_errors(errors: Mapping[str, Any], prefix: str = "") -> Iterable[str]:
    for key, value in errors.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _field_errors(value, f"{name}.")
        elif isinstance(value, list):
            yield f"{name} {', '.join(str(item) for item in value)}"
        else:
            yield f"{name}: {value}"


def error_from_response(request: ApiRequest, response: httpx.Response, exchange: Exchange) -> APIError:
    """Map an HTTP error status to the service's error hierarchy, with the server's message and a hint."""
    status = response.status_code
    profile, scrub = exchange.profile, exchange.scrub
    message = scrub(server_message(response))
    method = request.method.upper()
    path = url_path(request, exchange, request_of(response))
    cls = profile.errors.for_status(status)
    hint = ""
    if status in (401, 403):
        empty = not response.content.strip()
        hint = (
            profile.empty_forbidden_hint if status == 403 and empty and profile.empty_forbidden_hint else ""
        )
        hint = hint or profile.auth_hint
    elif status == 429:
        hint = "The server kept rate-limiting"
    elif status in GATEWAY_STATUSES and not request.is_idempotent:
        hint = "The request was not repeated because it may already have taken effect"
    elif response.is_redirect:
        location = scrub(response.headers.get("Location", ""))
        hint = f"The server redirects to {location!r}: set the connection's host to that base URL"
    return cls(status, message, method=method, path=path, hint=hint)


def parse_json(request: ApiRequest, response: httpx.Response, profile: ServiceProfile) -> Any:
    """The JSON body of a response; an empty body is None; anything else raises a clear error."""
    if not response.content or response.status_code == 204:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise profile.errors.response(
            "the body is not JSON",
            method=request.method.upper(),
            path=url_path(request, http_request=request_of(response)),
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


def make_scrubber(secrets: Callable[[], list[str]]) -> Callable[[str], str]:
    """A function that removes the current secrets (they may change: a fresh login) from any text."""

    def scrub(text: str) -> str:
        for secret in secrets():
            if secret:
                text = text.replace(secret, "***")
        return text

    return scrub


# ============================================================================================ drivers
class TailBuffer:
    """Keeps the last ``limit`` bytes of a stream, and counts what it dropped (bounded memory)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        """Append a chunk, dropping the oldest bytes beyond the limit."""
        self.chunks.append(chunk)
        self.size += len(chunk)
        while self.size > self.limit and self.chunks:
            excess = self.size - self.limit
            head = self.chunks[0]
            if len(head) <= excess:
                self.chunks.popleft()
                self.size -= len(head)
                self.dropped += len(head)
            else:
                self.chunks[0] = head[excess:]
                self.size -= excess
                self.dropped += excess

    def response(self, streamed: httpx.Response) -> httpx.Response:
        """A complete response holding only the kept tail (and a header saying how much was cut)."""
        headers = [
            (k, v)
            for k, v in streamed.headers.items()
            if k.lower() not in ("content-length", "content-encoding")
        ]
        headers.append((TRUNCATED_HEADER, str(self.dropped)))
        return httpx.Response(
            streamed.status_code, headers=headers, content=b"".join(self.chunks), request=streamed.request
        )


class Api:
    """What every operation may use as ``self``: the configuration, the profile, and the helpers to read
    JSON, one resource and paged lists. Clients and their resource groups are both ``Api`` objects."""

    config: Any
    profile: ServiceProfile
    _runner: Any

    def _attach(self) -> None:
        """Clients create their resource groups here."""

    def _json(self, request: ApiRequest) -> Call[Any]:
        response = yield request
        return parse_json(request, response, self.profile)

    def _text(self, request: ApiRequest) -> Call[str]:
        response: httpx.Response = yield request
        return response.text

    def _one(self, request: ApiRequest, model: type[M]) -> Call[M]:
        body = yield from self._json(request)
        return parse_model(request, model, unwrap_one(body), self.profile, path=self._shown_path(request))

    def _page(self, request: ApiRequest) -> Call[Page]:
        """One page of a list answer: its items (unwrapped), the request for the next page (always on the
        configured server), and the size of the answer."""
        response: httpx.Response = yield request
        body = parse_json(request, response, self.profile)
        try:
            items, link = extract_items(body)
        except TypeError as exc:
            raise self.profile.errors.response(
                str(exc),
                method=request.method,
                path=url_path(request, http_request=request_of(response)),
                body_excerpt=str(body)[:80],
            ) from exc
        following = None
        if link and items:
            following = ApiRequest("GET", request.path, url=page_url(self.config.api_root, link))
        return Page([unwrap_one(item) for item in items], following, len(response.content))

    def _collect(self, request: ApiRequest, *, limit: int | None = None) -> Call[list[Any]]:
        """Every item of a list endpoint (as plain values), following paging links on the configured
        server only, guarded against loops; at most ``limit`` items when given."""
        items: list[Any] = []
        first = page_url(self.config.api_root, request.url or request.path)
        seen: set[str] = set() if request.params else {first}  # a link back to page 1 is a loop
        current: ApiRequest | None = request
        for _ in range(MAX_PAGES):
            if current is None:
                break
            page = yield from self._page(current)
            items.extend(page.items)
            if limit is not None and len(items) >= limit:
                return items[:limit]
            current = page.following
            if current is not None and current.url in seen:
                break
            if current is not None:
                seen.add(str(current.url))
        return items

    def _many(self, request: ApiRequest, model: type[M], *, limit: int | None = None) -> Call[list[M]]:
        """Every item of a list endpoint as models (see :meth:`_collect`)."""
        items = yield from self._collect(request, limit=limit)
        path = self._shown_path(request)
        return [
            parse_model(request, model, item, self.profile, path=path)
            for item in items
            if isinstance(item, dict)
        ]

    def _shown_path(self, request: ApiRequest) -> str:
        """The full URL path of a request on the configured server, as error messages show it."""
        if request.url:
            return url_path(request)
        return f"{urlsplit(self.config.api_root).path.rstrip('/')}/{request.path.lstrip('/')}"


@dataclass
class Page:
    """One page of a list: items, the request for the next page (None on the last), answer size."""

    items: list[Any]
    following: ApiRequest | None
    size: int


class Sync:
    """Marker: operations of this object run synchronously."""


class Async:
    """Marker: operations of this object return coroutines."""


D = TypeVar("D", Sync, Async)


class Resource(Api, Generic[D]):
    """A group of operations on one kind of resource (``client.jobs``), bound to its client."""

    def __init__(self, owner: Api) -> None:
        self._runner = owner._runner
        self.config = owner.config
        self.profile = owner.profile


class _Driver(Api):
    """What both drivers share: configuration, request building, retry policy, secret scrubbing."""

    #: How requests are addressed and authenticated (each service has its own builder).
    builder_class: type[RequestBuilder] = RequestBuilder
    #: The lean read path (async clients of the pollers, see :meth:`AsyncRunner.use_lean_reads`).
    _lean: LeanReader | None = None
    #: The exchange of the last HTTP client used, with that client (see :meth:`_exchange_for`).
    _exchange: tuple[httpx.Client | httpx.AsyncClient, Exchange] | None = None

    def _setup(self, config: HttpSettings, profile: ServiceProfile) -> None:
        self.config = config
        self.profile = profile
        self._runner = self
        self._builder = self.builder_class(config)
        self._policy = RetryPolicy(config.retry)
        self.scrub = make_scrubber(self._secrets)
        self._attach()

    def _secrets(self) -> list[str]:
        return [*self.config.secrets(), *getattr(self._builder, "secrets", list)()]

    def _client_kwargs(self) -> dict[str, Any]:
        return {
            "headers": self._builder.headers(),
            "auth": self._builder.auth(),
            "verify": self.config.verify,
            "timeout": httpx.Timeout(self.config.read_timeout, connect=self.config.connect_timeout),
            "follow_redirects": False,
        }

    def _steps(self, call: Call[T], http: httpx.Client | httpx.AsyncClient) -> Steps[T]:
        return with_retries(call, self._exchange_for(http))

    def _exchange_for(self, http: httpx.Client | httpx.AsyncClient) -> Exchange:
        """What every operation on this HTTP client shares (made again only when the lean path changes:
        a poller's client makes thousands of calls a tick)."""
        lean_reads = self._lean is not None
        cached = self._exchange
        if cached is not None and cached[0] is http:
            exchange = cached[1]
            if exchange.lean_reads == lean_reads and exchange.policy is self._policy:
                return exchange
        exchange = Exchange(
            build=functools.partial(self._builder.build, http),
            builder=self._builder,
            policy=self._policy,
            scrub=self.scrub,
            profile=self.profile,
            lean_reads=lean_reads,
        )
        self._exchange = (http, exchange)
        return exchange


class SyncRunner(_Driver):
    """Runs operations with a keep-alive ``httpx.Client``."""

    def __init__(
        self,
        config: HttpSettings,
        transport: httpx.BaseTransport | None = None,
        *,
        profile: ServiceProfile | None = None,
    ) -> None:
        self._setup(config, profile or self.default_profile)
        self._http = httpx.Client(transport=transport, **self._client_kwargs())

    default_profile: ServiceProfile

    def run(self, call: Call[T]) -> T:
        """Drive an operation to its result."""
        steps = self._steps(call, self._http)
        try:
            step: Step = next(steps)
            while True:
                step = steps.send(self._do(step))
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    def _do(self, step: Step) -> httpx.Response | httpx.TransportError | None:
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            return None
        if isinstance(step, LeanRead):  # pragma: no cover - only async clients have a lean reader
            return None
        try:
            if step.tail_bytes is None:
                return self._http.send(step.request)
            response = self._http.send(step.request, stream=True)
            try:
                buffer = TailBuffer(step.tail_bytes)
                for chunk in response.iter_bytes():
                    buffer.add(chunk)
                return buffer.response(response)
            finally:
                response.close()
        except httpx.TransportError as error:
            error._request = step.request  # type: ignore[attr-defined]  # for the message's path
            return error

    def close(self) -> None:
        """Close the keep-alive connections."""
        self._http.close()

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _AlreadyRead(httpx.AsyncByteStream):
    """The stream of a response built from a body read in full (nothing left to read or close)."""

    async def __aiter__(self) -> Any:
        yield b""


_ALREADY_READ = _AlreadyRead()


def read_response(
    status: int, headers: list[tuple[str, str]], body: bytes, request: httpx.Request | None
) -> httpx.Response:
    """An ``httpx.Response`` for an answer read in full by the lean reader.

    ``httpx.Response(content=...)`` runs the body through httpx's stream and decoder machinery, a fifth of
    the CPU of a whole lean lookup; a body sent without a content encoding needs none of it, and is set as
    httpx's own ``read()`` sets it. An encoded body (gzip, deflate) takes httpx's way, which decodes it.

    :param status: the HTTP status.
    :param headers: the headers as received.
    :param body: the body as received.
    :param request: the request it answers (None: none is needed, as for a success).
    """
    for name, value in headers:
        if name.lower() == "content-encoding" and value.strip().lower() not in ("", "identity"):
            return httpx.Response(status, headers=headers, content=body, request=request)
    response = httpx.Response(status, headers=headers, stream=_ALREADY_READ, request=request)
    response._content = body  # what Response.read() sets: .content, .text and .json() read it
    response.is_stream_consumed = response.is_closed = True
    return response


class AsyncRunner(_Driver):
    """Runs operations with a keep-alive ``httpx.AsyncClient``; never blocks the event loop."""

    default_profile: ServiceProfile

    def __init__(
        self,
        config: HttpSettings,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        profile: ServiceProfile | None = None,
    ) -> None:
        self._setup(config, profile or self.default_profile)
        self._http = httpx.AsyncClient(transport=transport, **self._client_kwargs())

    async def arun(self, call: Call[T]) -> T:
        """Drive an operation to its result."""
        steps = self._steps(call, self._http)
        try:
            step: Step = next(steps)
            while True:
                step = steps.send(await self._do(step))
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    @property
    def lean_reader(self) -> LeanReader | None:
        """The lean read path in use (its ``requests`` and ``failures`` counters), None when there is none."""
        return self._lean

    def use_lean_reads(self, meter: AnswerMeter | None = None) -> bool:
        """Send plain reads (a GET with no body, whose credential is a header and needs no login now) over
        a :class:`~airflow_provider_cdata_sync.client.lean.LeanReader` first: a fraction of httpx's CPU per
        request, for clients that ask the same small questions all day (the triggerer's pollers). Every lean
        answer, errors included, is judged and retried by the same retry policy; anything the reader
        declines or gets no answer for takes the full httpx path. Returns False (and changes nothing) when
        the environment proxies the host.

        :param meter: told about every lean answer; its pause (429/503) holds lean requests back.
        """
        config = self.config
        self._lean = LeanReader.unless_proxied(
            config.api_root,
            verify=config.verify,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            meter=meter,
        )
        return self._lean is not None

    async def _lean_read(self, request: ApiRequest) -> httpx.Response | None:
        """The lean path's answer to a request, or None for the full path to take it."""
        lean = self._lean
        if (
            lean is None
            or request.method != "GET"
            or request.json is not None
            or request.tail_bytes is not None
            or request.anonymous
            or not lean.ready()
        ):
            return None
        builder = self._builder
        headers = builder.plain_headers()
        target = lean.target(builder.url(request), None if request.url else clean_params(request.params))
        if headers is None or target is None:
            return None
        if request.headers:
            headers.update(request.headers)
        try:
            answer = await lean.get(target, headers)
        except LeanFailure:
            return None
        status = answer.status
        # Error answers say which request they answer (their message's path; the credential it carried,
        # which tells an expired token from a replaced one); a success needs none, and skips its cost.
        sent = None if 200 <= status < 300 else httpx.Request("GET", lean.url(target), headers=headers)
        return read_response(status, answer.headers, answer.body, sent)

    async def _do(self, step: Step) -> httpx.Response | httpx.TransportError | None:
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
            return None
        if isinstance(step, LeanRead):
            return await self._lean_read(step.request)
        try:
            if step.tail_bytes is None:
                return await self._http.send(step.request)
            response = await self._http.send(step.request, stream=True)
            try:
                buffer = TailBuffer(step.tail_bytes)
                async for chunk in response.aiter_bytes():
                    buffer.add(chunk)
                return buffer.response(response)
            finally:
                await response.aclose()
        except httpx.TransportError as error:
            error._request = step.request  # type: ignore[attr-defined]  # for the message's path
            return error

    async def aclose(self) -> None:
        """Close the keep-alive connections."""
        if self._lean is not None:
            await self._lean.aclose()
        await self._http.aclose()

    async def __aenter__(self: T) -> T:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


# ============================================================================================ operations
T_co = TypeVar("T_co", covariant=True)


class SyncOperation(Protocol[P, T_co]):
    """An operation on a synchronous client: calling it returns the result."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T_co: ...
    def steps(self, *args: P.args, **kwargs: P.kwargs) -> Call[T_co]:
        """The operation's request generator, for ``yield from`` inside another operation."""
        ...


class AsyncOperation(Protocol[P, T_co]):
    """An operation on an asynchronous client: calling it returns a coroutine."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, T_co]: ...
    def steps(self, *args: P.args, **kwargs: P.kwargs) -> Call[T_co]:
        """The operation's request generator, for ``yield from`` inside another operation."""
        ...


_CALL_ANNOTATION = re.compile(r"^\s*Call\[(.*)\]\s*$", re.DOTALL)


def _readable(annotation: Any) -> Any:
    """``builtins.list[Job]`` (spelled so inside classes that define ``list``) reads ``list[Job]``."""
    return annotation.replace("builtins.", "") if isinstance(annotation, str) else annotation


class operation(Generic[P, T]):
    """Declare an API operation once; it is served by the sync and the async client alike.

    Accessed on an object it gives a real function: a plain one on a synchronous client, a coroutine
    function on an asynchronous one, with the operation's own parameters, return type and docstring (so
    ``help()``, ``inspect.signature`` and IDEs show the truth), and ``.steps(...)`` for composition.
    """

    def __init__(self, fn: Callable[Concatenate[Any, P], Call[T]]) -> None:
        self._fn = fn
        self._name = fn.__name__
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__
        self.__qualname__ = fn.__qualname__
        self.__wrapped__ = fn
        self._signature: inspect.Signature | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def signature(self) -> inspect.Signature:
        """The operation's signature as callers see it: without ``self``, returning the result."""
        if self._signature is None:
            full = inspect.signature(self._fn)
            params = [
                param.replace(annotation=_readable(param.annotation))
                for param in list(full.parameters.values())[1:]
            ]
            annotation = full.return_annotation
            if isinstance(annotation, str):
                match = _CALL_ANNOTATION.match(annotation)
                annotation = match.group(1) if match else annotation
            self._signature = full.replace(parameters=params, return_annotation=_readable(annotation))
        return self._signature

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> operation[P, T]: ...
    @overload
    def __get__(self, obj: SyncRunner | Resource[Sync], owner: type | None = None) -> SyncOperation[P, T]: ...
    @overload
    def __get__(
        self, obj: AsyncRunner | Resource[Async], owner: type | None = None
    ) -> AsyncOperation[P, T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> SyncOperation[P, T]: ...

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        bound = self._bind(obj)
        obj.__dict__[self._name] = bound  # later lookups find the instance attribute directly
        return bound

    def _bind(self, obj: Any) -> Callable[..., Any]:
        fn, runner = self._fn, getattr(obj, "_runner", None)
        method: Any
        if isinstance(runner, AsyncRunner):

            async def method(*args: Any, **kwargs: Any) -> Any:
                return await runner.arun(fn(obj, *args, **kwargs))

        elif isinstance(runner, SyncRunner):

            def method(*args: Any, **kwargs: Any) -> Any:
                return runner.run(fn(obj, *args, **kwargs))

        else:

            def method(*args: Any, **kwargs: Any) -> Any:
                raise TypeError(f"{self._name} needs a client to run on; use .steps() to compose it")

        method.__name__ = self.__name__
        method.__qualname__ = self.__qualname__
        method.__doc__ = self.__doc__
        method.__module__ = fn.__module__
        method.__signature__ = self.signature()
        method.steps = functools.partial(fn, obj)
        return method  # type: ignore[no-any-return]


# ============================================================================================ parsing
LIST_KEYS = ("value", "items", "data", "results", "records")
NEXT_KEYS = ("@odata.nextLink", "odata.nextLink", "nextLink", "next_link", "next", "next_page", "nextPage")
MAX_PAGES = 10_000


def extract_items(body: Any) -> tuple[list[Any], str | None]:
    """The items of a list answer and the link to the next page, whatever the envelope.

    Accepted: a bare array; ``{"value"|"items"|"data"|"results": [...]}``; an object whose only list is
    the collection. Next-page links: ``@odata.nextLink``, ``next``, ``links.next``, ``paging.next``.
    """
    if body is None:
        return [], None
    if isinstance(body, list):
        return body, None
    if not isinstance(body, dict):
        raise TypeError(f"expected a list or an object, got {type(body).__name__}")
    items: list[Any] | None = None
    for key in LIST_KEYS:
        if isinstance(body.get(key), list):
            items = body[key]
            break
    if items is None:
        lists = [value for value in body.values() if isinstance(value, list)]
        if len(lists) != 1:
            raise TypeError("expected an object holding one list")
        items = lists[0]
    return items, next_link(body)


def next_link(body: Mapping[str, Any]) -> str | None:
    """The next page's link in any of the envelopes seen."""
    for key in NEXT_KEYS:
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    for container in ("links", "paging", "pagination"):
        nested = body.get(container)
        if isinstance(nested, dict):
            value = nested.get("next")
            if isinstance(value, str) and value:
                return value
    return None


def page_url(api_root: str, link: str) -> str:
    """The absolute URL of a paging link (relative or absolute), always on the configured server.

    Servers build paging links from the URL they think they were called on; behind a proxy that can be
    an internal host, or ``http`` instead of ``https``. Following that host would send the credential
    where the user never configured it: only the path and query of a link are kept.
    """
    url = urlsplit(urljoin(api_root + "/", link))
    root = urlsplit(api_root)
    return urlunsplit((root.scheme, root.netloc, url.path, url.query, ""))


def unwrap_one(body: Any) -> Any:
    """A single resource, unwrapped from ``{"value": {...}}``, ``{"data": {...}}`` or JSON:API shapes."""
    if isinstance(body, dict):
        if not any(key in body for key in _ENVELOPE_KEYS):  # the common case, list entries: no envelope
            return _from_json_api(body)
        meaningful = {k: v for k, v in body.items() if not str(k).startswith("@")}
        for key in _ENVELOPE_KEYS:
            inner = meaningful.get(key)
            if len(meaningful) == 1 and isinstance(inner, dict):
                body = inner
                break
            if len(meaningful) == 1 and isinstance(inner, list) and len(inner) == 1:
                body = inner[0]
                break
        return _from_json_api(body)
    return body


_ENVELOPE_KEYS = ("value", "data", "item", "result")


def _from_json_api(body: Any) -> Any:
    if isinstance(body, dict) and isinstance(body.get("attributes"), dict):  # JSON:API
        return {"id": body.get("id"), **body["attributes"]}
    return body


def parse_model(
    request: ApiRequest, model: type[M], data: Any, profile: ServiceProfile, *, path: str | None = None
) -> M:
    """Validate one resource, turning a shape mismatch into the service's clear response error (``path``:
    the path to show, by default the request's path below the API root)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise profile.errors.response(
            f"the {model.__name__} in the answer is not as expected ({where}: {first.get('msg')})",
            method=request.method.upper(),
            path=path or url_path(request),
            body_excerpt=str(data)[:80],
        ) from exc


def resolve(
    kind: str,
    items: Iterable[R],
    wanted: str,
    get_id: Callable[[R], str | None],
    get_name: Callable[[R], str | None],
    lookup_error: type[LookupFailedError] = LookupFailedError,
) -> R:
    """Find a resource by id, then exact name, then case-insensitive name; else list what exists."""
    pool = list(items)
    wanted_text = str(wanted).strip()
    for item in pool:
        if get_id(item) is not None and str(get_id(item)) == wanted_text:
            return item
    exact = [item for item in pool if get_name(item) == wanted_text]
    if len(exact) == 1:
        return exact[0]
    folded = [item for item in pool if (get_name(item) or "").casefold() == wanted_text.casefold()]
    if len(exact) > 1 or len(folded) > 1:
        clash = exact or folded
        raise lookup_error(
            kind, wanted_text, [], ambiguous=[f"{get_name(item)!r} (id {get_id(item)})" for item in clash]
        )
    if folded:
        return folded[0]
    names = [get_name(item) or str(get_id(item)) for item in pool]
    raise lookup_error(kind, wanted_text, names)


__all__ = [
    "APIError",
    "Api",
    "ApiRequest",
    "Async",
    "AsyncOperation",
    "AsyncRunner",
    "Call",
    "Page",
    "RequestBuilder",
    "Resource",
    "RetryPolicy",
    "RetrySettings",
    "Sleep",
    "Sync",
    "SyncOperation",
    "SyncRunner",
    "operation",
]
