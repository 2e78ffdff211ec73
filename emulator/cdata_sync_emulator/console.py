"""Minimal HTML console pages (no auth) so that Airflow extra links resolve."""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from .common import base_url, core_of
from .dialects import V1_HISTORY_BASE, V1Ids
from .engine import KINDS
from .util import ApiError

router = APIRouter(prefix="/console")

_STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:4px 8px}.Success{color:green}.Failed{color:#b00}"
)


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)} - CData Sync emulator</title>"
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def _runs_table(request: Request, kind: str, ident: str, runs: list[dict[str, Any]]) -> str:
    rows = []
    plural = f"{kind}s"
    for run in reversed(runs[-50:]):
        link = f"{base_url(request)}/console/{plural}/{ident}/history/{run['id']}"
        cells = [
            f"<a href='{link}'>{html.escape(str(run['id']))}</a>",
            f"<span class='{html.escape(str(run['status']))}'>{html.escape(str(run['status']))}</span>",
            html.escape(str(run.get("start_time") or "")),
            html.escape(str(run.get("end_time") or "")),
            html.escape(str(run.get("records_affected") or 0)),
            html.escape(str(run.get("trigger") or "")),
            html.escape(str(run.get("error") or "")),
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    titles = ("Run", "Status", "Start", "End", "Records", "Trigger", "Error")
    head = "<tr>" + "".join(f"<th>{t}</th>" for t in titles) + "</tr>"
    return f"<h2>Recent runs</h2><table>{head}{''.join(rows)}</table>"


def _own_ids(request: Request, ident: str, history_id: str | None = None) -> tuple[str, str | None]:
    """The stored ids behind a link: a client of the ``v1-real`` dialect links with the 17-digit v1 job
    and history numbers it was given; the console's own links use the stored ids (both work)."""
    core = core_of(request)
    if not core.dialect.v1_numeric_ids:
        return ident, history_id
    ident = V1Ids(core.dialect, core.store).target_ref(ident)
    if history_id is not None and history_id.isdigit() and int(history_id) > V1_HISTORY_BASE:
        history_id = str(int(history_id) - V1_HISTORY_BASE)
    return ident, history_id


def _target_page(request: Request, kind: str, ident: str) -> HTMLResponse:
    service = core_of(request).service
    ident, _ = _own_ids(request, ident)
    try:
        doc = service.render(kind, service.target(kind, ident))
    except ApiError as exc:
        return HTMLResponse(f"<h1>Not found</h1><p>{html.escape(exc.message)}</p>", status_code=404)
    info = (
        f"<p>{KINDS[kind][3]} <b>{html.escape(doc['name'])}</b> (id {html.escape(ident)}) - "
        f"status <b>{html.escape(doc['status'])}</b></p>"
    )
    return _page(doc["name"], info + _runs_table(request, kind, ident, service.history(kind, ident)))


def _run_page(request: Request, kind: str, ident: str, history_id: str) -> HTMLResponse:
    service = core_of(request).service
    ident, own_history_id = _own_ids(request, ident, history_id)
    history_id = own_history_id or history_id
    try:
        run = service.history_item(kind, ident, history_id)
    except ApiError as exc:
        return HTMLResponse(f"<h1>Not found</h1><p>{html.escape(exc.message)}</p>", status_code=404)
    entries = run.get("tasks") or run.get("steps") or []
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(e.get(k) if e.get(k) is not None else ''))}</td>"
            for k in ("table", "query", "name", "status", "records_affected", "error")
        )
        + "</tr>"
        for e in entries
    )
    name = run.get(KINDS[kind][2]) or ident
    body = (
        f"<p>Run {html.escape(history_id)} of <a href='{base_url(request)}/console/{kind}s/{ident}'>"
        f"{html.escape(str(name))}</a>: "
        f"<b class='{html.escape(run['status'])}'>{html.escape(run['status'])}</b>, "
        f"{run.get('records_affected') or 0} records, log {html.escape(str(run.get('log_file')))}</p>"
        f"<p>{html.escape(str(run.get('error') or ''))}</p>"
        "<table><tr><th>Table</th><th>Query</th><th>Step</th><th>Status</th><th>Records</th><th>Error</th></tr>"
        f"{rows}</table>"
    )
    return _page(f"{name} run {history_id}", body)


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> HTMLResponse:
    """Lists jobs, transformations and pipelines."""
    core = core_of(request)
    parts = []
    for kind in KINDS:
        items = "".join(
            f"<li><a href='{base_url(request)}/console/{kind}s/{d['id']}'>{html.escape(d['name'])}</a></li>"
            for d in core.store.list(kind)
        )
        parts.append(f"<h2>{KINDS[kind][3]}s</h2><ul>{items}</ul>")
    return _page("CData Sync emulator", "".join(parts))


@router.get("/{plural}/{ident}", response_class=HTMLResponse)
async def target(request: Request, plural: str, ident: str) -> HTMLResponse:
    """A job, transformation or pipeline with its recent runs."""
    kind = plural.rstrip("s")
    if kind not in KINDS:
        return HTMLResponse("<h1>Not found</h1>", status_code=404)
    return _target_page(request, kind, ident)


@router.get("/{plural}/{ident}/history/{history_id}", response_class=HTMLResponse)
async def run(request: Request, plural: str, ident: str, history_id: str) -> HTMLResponse:
    """One run with its tasks or steps."""
    kind = plural.rstrip("s")
    if kind not in KINDS:
        return HTMLResponse("<h1>Not found</h1>", status_code=404)
    return _run_page(request, kind, ident, history_id)
