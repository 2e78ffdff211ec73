"""Pieces shared by the HTTP routers: the emulator core object, auth, bodies and paging."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request

from .dialects import DEFAULT, Dialect
from .engine import Engine
from .faults import FaultRegistry
from .service import Service
from .store import Store
from .util import ApiError, as_int


@dataclass
class Core:
    """Everything a request handler needs: state, engine, service, faults and options."""

    data_dir: Path
    token: str
    store: Store
    engine: Engine
    service: Service
    faults: FaultRegistry
    context_path: str = ""
    allow_url_token: bool = False
    v1_page_size: int = 100
    dialect: Dialect = DEFAULT
    #: scheme://host:port that absolute paging links name instead of the one the request came to (None:
    #: the request's own), like a server behind a proxy that believes it is called on another address.
    link_base: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def core_of(request: Request) -> Core:
    """The :class:`Core` attached to the app."""
    core: Core = request.app.state.core
    return core


def request_token(request: Request, allow_url_token: bool) -> str | None:
    """The token from ``x-cdata-authtoken``, HTTP Basic (any user) or, if allowed, ``@authtoken``."""
    token = request.headers.get("x-cdata-authtoken")
    if token:
        return token
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(auth[6:].strip()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        return decoded.split(":", 1)[1] if ":" in decoded else None
    if allow_url_token:
        return request.query_params.get("@authtoken")
    return None


def require_auth(request: Request) -> None:
    """FastAPI dependency: 401 unless a valid token is sent."""
    core = core_of(request)
    token = request_token(request, core.allow_url_token)
    if not core.service.token_valid(token):
        message = "Missing auth token." if not token else "The auth token is not valid."
        message += " Send the header x-cdata-authtoken or HTTP Basic credentials user:token."
        raise ApiError(401, "Unauthorized", message, {"WWW-Authenticate": 'Basic realm="CData Sync"'})


async def read_body(request: Request, required: bool = False) -> dict[str, Any]:
    """The JSON object body ({} when empty); 400 when it is not a JSON object."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise ApiError(400, "BadRequest", "A JSON request body is required.")
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, "BadRequest", f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "The request body must be a JSON object.")
    return body


def paged(request: Request, items: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"value": [...]}``; one page of it with ``@odata.nextLink`` when ``page_size`` is given or the
    dialect pages every list."""
    core = core_of(request)
    size_text = request.query_params.get("page_size") or core.dialect.v2_page_size
    if not size_text:
        return {"value": items}
    size = as_int(size_text, "page_size", minimum=1)
    page = as_int(request.query_params.get("page") or 1, "page", minimum=1)
    start = (page - 1) * size
    out: dict[str, Any] = {"value": items[start : start + size]}
    if start + size < len(items):
        out["@odata.nextLink"] = absolute_link(request, core.link_base, page=page + 1, page_size=size)
    return out


def absolute_link(request: Request, link_base: str | None, **params: Any) -> str:
    """The request's URL with ``params`` changed, on ``link_base`` (scheme://host:port) when one is set."""
    url = request.url.include_query_params(**params)
    if not link_base:
        return str(url)
    query = f"?{url.query}" if url.query else ""
    return f"{link_base.rstrip('/')}{url.path}{query}"


def base_url(request: Request) -> str:
    """``scheme://host[:port]<context path>`` as seen by the client."""
    root = request.scope.get("root_path", "")
    return f"{request.url.scheme}://{request.url.netloc}{root}"
