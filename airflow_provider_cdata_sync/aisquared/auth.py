"""How the AI Squared client authenticates: a static bearer token, or a login with email and password whose
token (a JWT: 30 minutes, revoked by the user's next login) is kept in memory and renewed when it is about
to expire or is refused. Logins are single-flight: concurrent operations of one async client wait for the
one login in progress instead of each logging in, which would revoke each other's tokens."""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import httpx

from airflow_provider_cdata_sync.aisquared.config import AISquaredConfig
from airflow_provider_cdata_sync.aisquared.errors import AISquaredAuthenticationError
from airflow_provider_cdata_sync.client.http import (
    ApiRequest,
    Call,
    RequestBuilder,
    Sleep,
    find_message,
    request_of,
    url_path,
)

#: A token this close to its expiry is renewed before use (clocks differ; requests take time); at most a
#: quarter of the token's lifetime, so that a short-lived token is used for most of its life.
RENEW_MARGIN_SECONDS = 60.0


def _claim(token: str, name: str) -> float | None:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    value = claims.get(name) if isinstance(claims, dict) else None
    return float(value) if isinstance(value, int | float) else None


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (epoch seconds), read without verifying it; None when not a JWT."""
    return _claim(token, "exp")


def renew_margin(token: str, received_at: float | None = None) -> float:
    """Seconds before its expiry that a token is renewed: :data:`RENEW_MARGIN_SECONDS`, or a quarter of
    its lifetime (``exp`` - ``iat``, else from when it was received) when that is shorter."""
    expires = jwt_expiry(token)
    if expires is None:
        return RENEW_MARGIN_SECONDS
    issued = _claim(token, "iat") or (received_at if received_at is not None else time.time())
    return max(0.0, min(RENEW_MARGIN_SECONDS, (expires - issued) / 4))


def token_from_login(body: Any) -> str | None:
    """The token of a login answer: ``{"data": {"id": jwt, "attributes": {"token": jwt}}}`` (or flatter)."""
    data = body.get("data", body) if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return None
    attributes: dict[str, Any] = data["attributes"] if isinstance(data.get("attributes"), dict) else {}
    for value in (attributes.get("token"), data.get("token"), data.get("id")):
        if isinstance(value, str) and value:
            return value
    return None


class Session:
    """One user's login on one server, shared by every client of this process: each login of a user revokes
    that user's previous token, so clients that logged in on their own (one per trigger in a triggerer)
    would keep revoking each other."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.expires_at = jwt_expiry(token) if token else None
        self.margin = renew_margin(token) if token else RENEW_MARGIN_SECONDS
        self.busy = False
        #: How many logins were made for this user in this process.
        self.logins = 0


_SESSIONS: dict[tuple[str, str], Session] = {}
_SESSIONS_LOCK = threading.Lock()


def shared_session(config: AISquaredConfig) -> Session:
    """The process's session for the configured server and user (a static token gets its own)."""
    if not config.logs_in:
        return Session(config.token or None)
    key = (config.api_root, str(config.email).lower())
    with _SESSIONS_LOCK:
        if key not in _SESSIONS:
            _SESSIONS[key] = Session()
        return _SESSIONS[key]


class AISquaredAuth(RequestBuilder):
    """``Authorization: Bearer <token>`` and ``Workspace-Id`` on every request; logs in when it must."""

    config: AISquaredConfig

    def __init__(self, config: AISquaredConfig) -> None:
        super().__init__(config)
        self.session = shared_session(config)

    # The session's state, as this client sees it.
    @property
    def _token(self) -> str | None:
        return self.session.token

    @_token.setter
    def _token(self, value: str | None) -> None:
        self.session.token = value

    @property
    def logins(self) -> int:
        """How many logins were made for this client's user in this process."""
        return self.session.logins

    def headers(self) -> dict[str, str]:
        """Headers of every request (the token is added per request: it may change)."""
        headers = super().headers()
        headers["Workspace-Id"] = str(self.config.workspace_id)
        return headers

    def build(self, http: httpx.Client | httpx.AsyncClient, request: ApiRequest) -> httpx.Request:
        """The request, with the current bearer token unless it is the login itself."""
        built = super().build(http, request)
        if not request.anonymous and self._token:
            built.headers["Authorization"] = f"Bearer {self._token}"
        return built

    def plain_headers(self) -> dict[str, str] | None:
        """Every header of a request with the current token; None while a login is due (the full path
        logs in first)."""
        if self.login_steps() is not None:
            return None
        headers = self.headers()
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def secrets(self) -> list[str]:
        """The current token (scrubbed from messages, like the configured secrets)."""
        return [self._token] if self._token else []

    # ------------------------------------------------------------------ login
    def login_steps(self) -> Call[None] | None:
        """A login when there is no usable token and the configuration allows one."""
        if not self.config.logs_in:
            return None
        if self._token and not self._expiring():
            return None
        return self._login()

    def _expiring(self) -> bool:
        expires = self.session.expires_at
        return expires is not None and expires - time.time() < self.session.margin

    def _login(self) -> Call[None]:
        session = self.session
        with _SESSIONS_LOCK:
            waiting = session.busy
            session.busy = True
        if waiting:  # another operation (or client) of this process is logging in: use its token
            give_up = time.monotonic() + self.config.read_timeout
            while session.busy and time.monotonic() < give_up:
                yield Sleep(0.05)
            return
        try:
            body = {"email": self.config.email, "password": self.config.password}
            request = ApiRequest(
                "POST",
                "login",
                json=body,
                idempotent=True,
                anonymous=True,
                accept_statuses=frozenset({401, 403, 422}),
            )
            response: httpx.Response = yield request
            if response.status_code in (401, 403, 422):
                message = _message(response)
                raise AISquaredAuthenticationError(
                    response.status_code,
                    message,
                    method="POST",
                    path=url_path(request, http_request=request_of(response)),
                    hint=f"AI Squared refused the login of {self.config.email!r}: check the connection's "
                    "login "
                    "(the user's email) and password",
                )
            token = token_from_login(response.json() if response.content else None)
            if not token:
                raise AISquaredAuthenticationError(
                    response.status_code, "the login answer holds no token", method="POST", path="/login"
                )
            session.token, session.expires_at, session.margin = token, jwt_expiry(token), renew_margin(token)
            session.logins += 1
        finally:
            session.busy = False

    def credential_rejected(self, response: httpx.Response) -> bool:
        """A 401 means the token expired or was revoked (another login of the same user): log in again,
        once. A request sent with an older token than the current one is simply sent again."""
        if response.status_code != 401 or not self.config.logs_in:
            return False
        sent_with = request_of(response)
        sent = sent_with.headers.get("Authorization", "") if sent_with is not None else ""
        if self._token and sent != f"Bearer {self._token}":
            return True
        self._token = None
        return True


def _message(response: httpx.Response) -> str:
    try:
        return find_message(response.json()) or response.reason_phrase
    except ValueError:
        return response.text[:200] or response.reason_phrase
