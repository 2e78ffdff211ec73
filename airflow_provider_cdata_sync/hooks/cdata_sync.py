"""CDataSyncHook: turns an Airflow connection into a CData Sync API client (sync or async)."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

import httpx
from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_cdata_sync import connection_form
from airflow_provider_cdata_sync.client import (
    AsyncCDataSyncClient,
    AsyncCDataSyncV1Client,
    CDataSyncAuthenticationError,
    CDataSyncClient,
    CDataSyncConfigError,
    CDataSyncError,
    CDataSyncUnsupportedError,
    CDataSyncV1Client,
    ClientConfig,
    RetrySettings,
    aconnect,
    connect,
)
from airflow_provider_cdata_sync.client.config import DEFAULT_PORT
from airflow_provider_cdata_sync.client.connect import detect_api_version
from airflow_provider_cdata_sync.client.control import AsyncRunControl, RunControlClient, Target
from airflow_provider_cdata_sync.client.models import Run


def _mask(secret: str | None) -> None:
    """Register the token with Airflow's secret masker so it never shows in logs."""
    if not secret:
        return
    try:
        from airflow.providers.common.compat.sdk import mask_secret

        mask_secret(secret)
    except ImportError:  # pragma: no cover - very old Airflow
        pass


def _as_bool_or_path(field: str, value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "1", "on", ""):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        return value.strip()  # a CA bundle path
    raise CDataSyncConfigError(
        f"Connection extra {field!r} must be true, false or a CA bundle path, got {value!r}."
    )


def _as_number(field: str, value: Any, *, integer: bool = False, minimum: float = 0) -> float:
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        kind = "a whole number" if integer else "a number of seconds"
        raise CDataSyncConfigError(f"Connection extra {field!r} must be {kind}, got {value!r}.") from None
    if number < minimum:
        raise CDataSyncConfigError(f"Connection extra {field!r} must be at least {minimum}, got {value!r}.")
    return number


def _extras(conn: Any) -> dict[str, Any]:
    raw = conn.extra
    if not raw:
        return {}
    try:
        extras = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except ValueError:
        raise CDataSyncConfigError(
            f"The extra of connection {conn.conn_id!r} is not valid JSON: fix it in the connection form."
        ) from None
    if not isinstance(extras, dict):
        raise CDataSyncConfigError(f"The extra of connection {conn.conn_id!r} must be a JSON object.")
    # Airflow 2 forms may store extras as extra__cdata_sync__<name>.
    prefix = f"extra__{connection_form.CONN_TYPE}__"
    return {key.removeprefix(prefix): value for key, value in extras.items() if value not in (None, "")}


def base_url_from_connection(conn: Any) -> str:
    """The base URL from host (with or without scheme), port and schema (context path)."""
    host = (conn.host or "").strip()
    if not host:
        # Airflow cannot parse the URI ``cdata_sync://...`` (no '_' in URI schemes): it leaves the host
        # empty and the rest of the URI in the schema. Say what to write instead (never echo the URI).
        uri_hint = (
            " In a connection URI write the type as cdata-sync:// (a URI scheme cannot contain '_'), "
            "e.g. cdata-sync://:TOKEN@sync-host:8181/context."
            if "//" in (conn.schema or "")
            else ""
        )
        raise CDataSyncConfigError(
            f"Connection {conn.conn_id!r} has no host: set it to the CData Sync base URL, "
            "e.g. http://sync-host:8181." + uri_hint
        )
    if "://" not in host:
        scheme = "https" if conn.port == 443 else "http"
        host = f"{scheme}://{host}"
    scheme, rest = host.split("://", 1)
    netloc, _, path = rest.partition("/")
    if conn.port and ":" not in netloc.rsplit("@", 1)[-1].rsplit("]", 1)[-1]:
        netloc = f"{netloc}:{conn.port}"
    context = "/".join(part.strip("/") for part in (path, conn.schema or "") if part and part.strip("/"))
    return f"{scheme}://{netloc}" + (f"/{context}" if context else "")


def config_from_connection(conn: Any) -> ClientConfig:
    """Build and validate the client configuration from an Airflow connection."""
    extras = _extras(conn)
    known = set(connection_form.EXTRA_FIELDS) | {"connect_timeout"}
    unknown = sorted(set(extras) - known)
    if unknown:
        raise CDataSyncConfigError(
            f"Unknown extra field(s) {', '.join(unknown)} in connection {conn.conn_id!r}. "
            f"Known extras: {', '.join(sorted(known))}."
        )
    auth_type = str(extras.get("auth_type", "basic" if conn.login else "header")).lower()
    if auth_type not in ("header", "basic"):
        raise CDataSyncConfigError(
            f"Connection extra 'auth_type' must be 'header' or 'basic', got {auth_type!r}."
        )
    api_version = str(extras.get("api_version", "v2")).lower()
    if api_version not in ("v1", "v2", "auto"):
        raise CDataSyncConfigError(
            f"Connection extra 'api_version' must be v2, v1 or auto, got {api_version!r}."
        )
    return ClientConfig(
        base_url=base_url_from_connection(conn),
        token=conn.password or "",
        user=conn.login or None,
        auth_mode=auth_type,  # type: ignore[arg-type]
        workspace=str(extras.get("workspace", "default")),
        api_version=api_version,  # type: ignore[arg-type]
        verify=_as_bool_or_path("verify_ssl", extras.get("verify_ssl", True)),
        read_timeout=_as_number("timeout", extras.get("timeout", 60), minimum=0.001),
        connect_timeout=_as_number("connect_timeout", extras.get("connect_timeout", 10), minimum=0.001),
        retry=RetrySettings(
            max_retries=int(_as_number("max_retries", extras.get("max_retries", 5), integer=True))
        ),
        console_url=extras.get("console_url"),
    )


class CDataSyncHook(BaseHook):
    """Interact with CData Sync through its REST API.

    The connection's host is the base URL (scheme, host, port — 8181 when none — and context path),
    its password the API auth token, its login the user for HTTP Basic authentication (optional).
    Extras: ``workspace``, ``api_version``, ``auth_type``, ``verify_ssl``, ``timeout``, ``max_retries``,
    ``console_url``.

    :param cdata_sync_conn_id: the Airflow connection id.
    """

    conn_name_attr = "cdata_sync_conn_id"
    default_conn_name = "cdata_sync_default"
    conn_type = connection_form.CONN_TYPE
    hook_name = connection_form.HOOK_NAME

    def __init__(self, cdata_sync_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cdata_sync_conn_id = cdata_sync_conn_id

    # ---------------------------------------------------------------- connection form
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Labels, placeholders and hidden fields of the connection form (Airflow 2.x UI)."""
        return connection_form.ui_field_behaviour()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form (Airflow 2.x UI; 3.2+ reads ``conn-fields``)."""
        return connection_form.wtforms_widgets()

    # ---------------------------------------------------------------- configuration
    @cached_property
    def config(self) -> ClientConfig:
        """The client configuration from the Airflow connection (looked up once)."""
        conn = self.get_connection(self.cdata_sync_conn_id)
        _mask(conn.password)
        return config_from_connection(conn)

    async def aget_config(self) -> ClientConfig:
        """The client configuration, looked up without blocking the event loop (for triggers)."""
        if "config" in self.__dict__:
            return self.config
        # No masking here: the sync masker can dead-lock inside an event loop; the token is never logged.
        conn = await _aget_connection(self.cdata_sync_conn_id)
        config = config_from_connection(conn)
        self.__dict__["config"] = config
        return config

    # ---------------------------------------------------------------- clients
    @cached_property
    def client(self) -> CDataSyncClient | CDataSyncV1Client:
        """The hook's synchronous client (one keep-alive connection pool for the hook's life), for the
        connection's API version; with ``auto`` the server is asked once, then remembered."""
        return connect(self.config)

    def get_conn(self) -> RunControlClient:
        """The hook's synchronous client (see :meth:`get_client`)."""
        return self.get_client()

    def get_client(self) -> RunControlClient:
        """The hook's synchronous client for the connection's API version, typed by what both versions
        offer: run control (``resolve_target``, ``start_run``, ``get_run``, ``cancel_and_watch``, ...).
        For the resources of one version use :meth:`get_v2_client` or :meth:`get_v1_client`."""
        return self.client

    def get_v2_client(self) -> CDataSyncClient:
        """The synchronous API v2 client (``client.jobs``, ``client.pipelines.steps``, ...); fails clearly
        when the connection speaks v1."""
        client = self.client
        if not isinstance(client, CDataSyncClient):
            raise CDataSyncUnsupportedError(
                f"Connection {self.cdata_sync_conn_id!r} speaks the CData Sync API v1; this needs v2 "
                "(Sync 26.x): "
                "set the connection extra api_version to v2, or use get_v1_client()."
            )
        return client

    def get_v1_client(self) -> CDataSyncV1Client:
        """The synchronous API v1 (OData) client; fails clearly when the connection speaks v2."""
        client = self.client
        if not isinstance(client, CDataSyncV1Client):
            raise CDataSyncUnsupportedError(
                f"Connection {self.cdata_sync_conn_id!r} speaks the CData Sync API v2; use "
                "get_v2_client(), or "
                "set the connection extra api_version to v1."
            )
        return client

    async def aget_client(
        self, api_version: str | None = None, transport: httpx.AsyncBaseTransport | None = None
    ) -> AsyncCDataSyncClient | AsyncCDataSyncV1Client:
        """A new asynchronous client (close it with ``aclose``); safe inside a trigger's event loop.

        :param api_version: the version already detected (e.g. carried by a trigger), skipping ``auto``.
        :param transport: another httpx transport (the poller's aiohttp pool).
        """
        return await aconnect(await self.aget_config(), api_version, transport)

    async def aget_run_control(self, api_version: str | None = None) -> AsyncRunControl:
        """A new asynchronous client typed by its run control (triggers).

        :param api_version: the version already detected, skipping ``auto``.
        """
        return await self.aget_client(api_version)

    def console_url(self, kind: str, resource_id: str, run_id: str | None = None) -> str:
        """The Sync console URL of a job, pipeline or transformation (and of one of its runs).

        :param kind: ``job``, ``pipeline`` or ``transformation``.
        :param resource_id: its id.
        :param run_id: one of its runs.
        """
        return console_url(self.config, kind, resource_id, run_id)

    # ---------------------------------------------------------------- running, with hook lineage
    def run_and_wait(
        self,
        kind: str,
        ref: str,
        *,
        tasks: list[str] | None = None,
        workspace: str | None = None,
        poll_interval: float = 5.0,
        timeout: float | None = None,
    ) -> Run:
        """Start a run of a job, transformation or pipeline, wait until it ends, and report what it read
        and wrote to Airflow's hook lineage collector (so that a ``@task`` using the hook has lineage).
        Returns the finished run (it is not judged: check ``run.state``); a timeout raises
        ``TimeoutError`` and leaves the run going.

        :param kind: ``job``, ``transformation`` or ``pipeline``.
        :param ref: its id or name.
        :param tasks: only these tasks of a job (ids or table names).
        :param workspace: workspace id or name; the connection's by default.
        :param poll_interval: seconds between status reads.
        :param timeout: longest wait in seconds (None: no limit).
        """
        import time

        client = self.get_client()
        target = client.resolve_target(kind, ref, workspace)
        task_ids = client.resolve_tasks(target, tasks) if tasks else None
        run = client.start_run(target, task_ids)
        deadline = None if timeout is None else time.monotonic() + timeout
        while not run.state.is_terminal:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"CData Sync {target.label} run {run.id} did not finish in {timeout} s.")
            time.sleep(poll_interval)
            run = client.look(target, run.id) or run
        self.report_lineage(target, run)
        return run

    def report_lineage(self, target: Target, run: Run | None) -> Any:
        """Report a run's inputs and outputs to the hook lineage collector (best effort, logged);
        returns its :class:`~airflow_provider_cdata_sync.lineage.model.RunLineage` (None on failure).

        :param target: what ran (``client.resolve_target(...)``).
        :param run: the run (None: the target's datasets, without counts).
        """
        from airflow_provider_cdata_sync.lineage import hook_lineage
        from airflow_provider_cdata_sync.lineage.cdata_sync import CDataSyncLineage

        try:
            lineage = CDataSyncLineage(self.get_client()).build(target, run)
            hook_lineage.report(self, lineage)
        except Exception as exc:
            self.log.warning("Hook lineage of %s could not be reported: %s", target.label, exc)
            return None
        return lineage

    # ---------------------------------------------------------------- test
    def test_connection(self) -> tuple[bool, str]:
        """Check the URL and the token by listing the workspace's jobs; returns ``(ok, message)``."""
        try:
            config = self.config
            quick = ClientConfig(**{**config.__dict__, "retry": RetrySettings(max_retries=0)})
            version = config.api_version if config.api_version != "auto" else detect_api_version(quick)
            with connect(quick, version) as client:
                jobs = client.jobs.list()
                return True, (
                    f"Connected to CData Sync at {config.base_url} (API {client.api_version}, "
                    f"{len(jobs)} job(s) in workspace {config.workspace!r})."
                )
        except CDataSyncAuthenticationError as exc:
            return (
                False,
                f"Authentication failed ({exc.status_code}): check the API auth token (password field).",
            )
        except CDataSyncError as exc:
            return False, str(exc)


def console_url(config: ClientConfig, kind: str, resource_id: str, run_id: str | None = None) -> str:
    """Console URL scheme: ``<console>/console/<kind>s/<id>[/history/<run>]``."""
    from urllib.parse import quote

    url = f"{config.console_base}/console/{kind}s/{quote(str(resource_id), safe='')}"
    if run_id:
        url += f"/history/{quote(str(run_id), safe='')}"
    return url


async def _aget_connection(conn_id: str) -> Any:
    """Look up a connection without blocking the loop (common-compat picks the right way per version)."""
    from airflow.providers.common.compat.connection import get_async_connection

    return await get_async_connection(conn_id)


__all__ = ["DEFAULT_PORT", "CDataSyncHook", "config_from_connection", "console_url"]
