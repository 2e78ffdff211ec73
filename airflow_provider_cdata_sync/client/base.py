"""Generic request helpers shared by every operation: JSON, one resource, lists with paging, lookup."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from pydantic import ValidationError

from airflow_provider_cdata_sync.client.config import ClientConfig
from airflow_provider_cdata_sync.client.errors import CDataSyncLookupError, CDataSyncResponseError
from airflow_provider_cdata_sync.client.models import SyncModel
from airflow_provider_cdata_sync.client.transport import ApiRequest, Call, display_path, parse_json

M = TypeVar("M", bound=SyncModel)
R = TypeVar("R")

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

    A server behind a proxy may name itself by an internal host in its links; following that host would
    fail, and would send the auth token to a host the user never configured.
    """
    url = urlsplit(urljoin(api_root + "/", link))
    root = urlsplit(api_root)
    return urlunsplit((root.scheme, root.netloc, url.path, url.query, ""))


def unwrap_one(body: Any) -> Any:
    """A single resource, unwrapped from ``{"value": {...}}``, ``{"data": {...}}`` or JSON:API shapes."""
    if isinstance(body, dict):
        meaningful = {k: v for k, v in body.items() if not str(k).startswith("@")}
        for key in ("value", "data", "item", "result"):
            inner = meaningful.get(key)
            if len(meaningful) == 1 and isinstance(inner, dict):
                body = inner
                break
            if len(meaningful) == 1 and isinstance(inner, list) and len(inner) == 1:
                body = inner[0]
                break
        if isinstance(body.get("attributes"), dict):  # JSON:API
            return {"id": body.get("id"), **body["attributes"]}
    return body


def parse_model(request: ApiRequest, model: type[M], data: Any) -> M:
    """Validate one resource, turning a shape mismatch into a clear :class:`CDataSyncResponseError`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise CDataSyncResponseError(
            f"the {model.__name__} in the answer is not as expected ({where}: {first.get('msg')})",
            method=request.method.upper(),
            path=display_path(request),
            body_excerpt=str(data)[:80],
        ) from exc


class ApiBase:
    """Helpers available to every operation (as ``self``)."""

    config: ClientConfig

    def _workspace(self, workspace: str | None) -> str:
        return workspace or self.config.workspace

    def _json(self, request: ApiRequest) -> Call[Any]:
        response = yield request
        return parse_json(request, response)

    def _text(self, request: ApiRequest) -> Call[str]:
        response: httpx.Response = yield request
        return response.text

    def _one(self, request: ApiRequest, model: type[M]) -> Call[M]:
        body = yield from self._json(request)
        return parse_model(request, model, unwrap_one(body))

    def _raw_items(self, request: ApiRequest) -> Call[list[dict[str, Any]]]:
        """All items of a list endpoint as plain dicts (no models), following paging."""
        items: list[dict[str, Any]] = []
        current = request
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            body = yield from self._json(current)
            try:
                page, link = extract_items(body)
            except TypeError as exc:
                raise CDataSyncResponseError(
                    str(exc), method=current.method, path=display_path(current), body_excerpt=""
                ) from exc
            items.extend(unwrap_one(item) for item in page if isinstance(item, dict))
            if not link or not page:
                break
            absolute = urljoin(self.config.api_root + "/", link)
            if absolute in seen:
                break
            seen.add(absolute)
            current = ApiRequest("GET", current.path, url=absolute)
        return items

    def _many(self, request: ApiRequest, model: type[M]) -> Call[list[M]]:
        """All items of a list endpoint, following paging links (guarded against loops)."""
        results: list[M] = []
        # The first page counts as seen, so a link back to it does not fetch (and return) it twice.
        first = urljoin(self.config.api_root + "/", request.url or request.path)
        seen: set[str] = set() if request.params else {first}
        current = request
        for _ in range(MAX_PAGES):
            body = yield from self._json(current)
            try:
                items, link = extract_items(body)
            except TypeError as exc:
                raise CDataSyncResponseError(
                    str(exc), method=current.method, path=display_path(current), body_excerpt=str(body)[:80]
                ) from exc
            results.extend(parse_model(current, model, unwrap_one(item)) for item in items)
            if not link or not items:
                return results
            absolute = page_url(self.config.api_root, link)
            if absolute in seen:
                return results
            seen.add(absolute)
            current = ApiRequest("GET", current.path, url=absolute)
        return results


def resolve(
    kind: str,
    items: Iterable[R],
    wanted: str,
    get_id: Callable[[R], str | None],
    get_name: Callable[[R], str | None],
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
        raise CDataSyncLookupError(
            kind, wanted_text, [], ambiguous=[f"{get_name(item)!r} (id {get_id(item)})" for item in clash]
        )
    if folded:
        return folded[0]
    names = [get_name(item) or str(get_id(item)) for item in pool]
    raise CDataSyncLookupError(kind, wanted_text, names)
