"""The triggerer's shared pollers: one :class:`~airflow_provider_cdata_sync.client.poller.RunPoller` per
event loop, connection, API version, interval and mode, for every CData Sync and AI Squared trigger and
watcher. The polling itself (bulk list or per-run lookups, concurrency, throttling) is in the Airflow-free
:mod:`airflow_provider_cdata_sync.client.poller`; here only the client factories are: the connection
looked up the async way, then a client on the cheap read-only transport, metered by the poller.

Triggers keep their own serialised state, so after a triggerer restart each one simply joins the new
process's poller.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from airflow_provider_cdata_sync.client.poller import (
    TICK_FRACTION,
    ClientFactory,
    RunPoller,
    TransportWrap,
    shared,
)

__all__ = [
    "TICK_FRACTION",
    "SharedPoller",
    "aisquared_poller",
    "read_only_transport",
    "shared_poller",
]


def poller_transport() -> str:
    """``CDATA_SYNC_POLLER_TRANSPORT``: ``auto`` (the default: plain GETs on the lean read path, the rest
    on aiohttp's pool when installed), ``aiohttp`` (no lean path) or ``httpx`` (httpx's own pool only)."""
    choice = os.environ.get("CDATA_SYNC_POLLER_TRANSPORT", "auto").strip().lower() or "auto"
    if choice not in ("auto", "aiohttp", "httpx"):
        raise ValueError(
            f"CDATA_SYNC_POLLER_TRANSPORT={choice!r} is not a choice: use auto, aiohttp or httpx."
        )
    return choice


def lean_reads_enabled() -> bool:
    """Whether the pollers' clients send plain GETs on the lean read path (see :func:`poller_transport`)."""
    return poller_transport() == "auto"


def read_only_transport(verify: bool | str) -> httpx.AsyncBaseTransport:
    """The transport of the pollers, which only read (GET and read-only POSTs): aiohttp's cheaper
    connection pool when ``httpx-aiohttp`` is installed (extra ``[fast]``; ``CDATA_SYNC_POLLER_TRANSPORT=
    httpx`` turns it off), else httpx's own. Never used for requests that start or change things: that
    transport reports some errors after the request was sent as connect errors, which would make a POST
    look safe to repeat."""
    if poller_transport() != "httpx":
        try:
            from httpx_aiohttp import AiohttpTransport
        except ImportError:
            pass
        else:
            return AiohttpTransport(verify=verify)  # type: ignore[no-any-return]
    return httpx.AsyncHTTPTransport(verify=verify)


def tls_verify(config: Any) -> bool | str:
    """What the pollers' transport verifies: the connection's setting on an ``https`` server; nothing on a
    plain ``http`` one, which no request of the poller's leaves (redirects are not followed, paging links stay
    on the configured host), so that the transport does not load the system's certificates for nothing (50 ms
    of CPU, a quarter of a small triggerer's poller set-up).

    :param config: the client configuration (its ``api_root`` and ``verify``).
    """
    return config.verify if str(config.api_root).lower().startswith("https:") else False  # type: ignore[no-any-return]


def cdata_sync_factory(conn_id: str, api_version: str | None) -> ClientFactory:
    """Makes the read-only async CData Sync client of a connection (looked up the async way: a sync
    lookup inside the triggerer's event loop fails there)."""

    async def make(wrap: TransportWrap) -> Any:
        from airflow_provider_cdata_sync.hooks.cdata_sync import CDataSyncHook

        hook = CDataSyncHook(cdata_sync_conn_id=conn_id)
        config = await hook.aget_config()
        return await hook.aget_client(api_version, wrap(read_only_transport(tls_verify(config))))

    return make


def aisquared_factory(conn_id: str) -> ClientFactory:
    """Makes the read-only async AI Squared client of a connection."""

    async def make(wrap: TransportWrap) -> Any:
        from airflow_provider_cdata_sync.aisquared.client import AsyncAISquaredClient
        from airflow_provider_cdata_sync.hooks.aisquared import AISquaredHook

        config = await AISquaredHook(aisquared_conn_id=conn_id).aget_config()
        return AsyncAISquaredClient(config, wrap(read_only_transport(tls_verify(config))))

    return make


class SharedPoller(RunPoller):
    """The poller of one CData Sync connection, API version and interval."""

    def __init__(
        self, conn_id: str, api_version: str | None, interval: float, *, coalesce: bool = True
    ) -> None:
        self.conn_id = conn_id
        self.api_version = api_version
        super().__init__(
            cdata_sync_factory(conn_id, api_version),
            interval,
            coalesce=coalesce,
            name=f"cdata-sync-poller-{conn_id}",
            lean_reads=lean_reads_enabled(),
        )


def shared_poller(
    conn_id: str, api_version: str | None, interval: float, *, coalesce: bool = True
) -> SharedPoller:
    """The running loop's poller for a CData Sync connection, API version and interval (created on first
    use); ``coalesce=False`` gives the one that asks at once (waits that poll on their own)."""
    key = ("cdata_sync", conn_id, api_version, float(interval), coalesce)
    poller = shared(key, lambda: SharedPoller(conn_id, api_version, interval, coalesce=coalesce))
    assert isinstance(poller, SharedPoller)
    return poller


def aisquared_poller(conn_id: str, interval: float, *, coalesce: bool = True) -> RunPoller:
    """The running loop's poller for an AI Squared connection and interval."""
    key = ("aisquared", conn_id, None, float(interval), coalesce)
    return shared(
        key,
        lambda: RunPoller(
            aisquared_factory(conn_id),
            interval,
            coalesce=coalesce,
            name=f"aisquared-poller-{conn_id}",
            lean_reads=lean_reads_enabled(),
        ),
    )
