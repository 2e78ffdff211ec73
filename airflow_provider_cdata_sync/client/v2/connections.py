"""Connections (v2): ``client.connections``: CRUD, test, tables and columns, metadata, logs."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from airflow_provider_cdata_sync.client.http import (
    ApiRequest,
    Call,
    D,
    find_message,
    operation,
    parse_json,
    parse_model,
    resolve,
    unwrap_one,
)
from airflow_provider_cdata_sync.client.models import (
    Column,
    Connection,
    LogFileInfo,
    Table,
    TestResult,
    to_snake,
)
from airflow_provider_cdata_sync.client.v2.common import WorkspaceScoped, drop_none, seg


class Connections(WorkspaceScoped[D]):
    """The connections (sources and destinations) of a workspace."""

    @operation
    def list(self, workspace: str | None = None) -> Call[builtins.list[Connection]]:
        """List the connections of a workspace.

        :param workspace: the workspace id; the configured one by default.
        """
        path = self._in_workspace(workspace, "connections")
        return (yield from self._many(ApiRequest("GET", path), Connection))

    @operation
    def get(self, connection_id: str) -> Call[Connection]:
        """Get one connection.

        :param connection_id: the connection id.
        """
        return (yield from self._one(ApiRequest("GET", f"v2/connections/{seg(connection_id)}"), Connection))

    @operation
    def resolve(self, connection: str, workspace: str | None = None) -> Call[Connection]:
        """Find a connection by id or name (exact, then case-insensitive).

        :param connection: a connection id or name.
        :param workspace: the workspace id; the configured one by default.
        """
        connections = yield from self.list.steps(workspace)
        lookup = self.profile.errors.lookup
        return resolve("connection", connections, connection, lambda c: c.id, lambda c: c.name, lookup)

    @operation
    def create(
        self,
        name: str,
        connector: str,
        properties: Mapping[str, Any] | None = None,
        *,
        settings: Mapping[str, Any] | None = None,
        connector_version: str | None = None,
        labels: Sequence[str] | None = None,
        workspace: str | None = None,
    ) -> Call[Connection]:
        """Create a connection.

        :param name: its name.
        :param connector: the connector (``SQLite``, ``PostgreSQL``, ``Snowflake``, ...).
        :param properties: the connector's connection properties.
        :param settings: ``metadata_refresh_interval``, ``logfile_verbosity``, ... (any spelling).
        :param connector_version: a connector version.
        :param labels: labels.
        :param workspace: the workspace id; the configured one by default.
        """
        body = drop_none(
            {
                "name": name,
                "connector": connector,
                "connector_version": connector_version,
                "properties": dict(properties or {}),
                "settings": {to_snake(k): v for k, v in (settings or {}).items()} or None,
                "labels": builtins.list(labels) if labels is not None else None,
            }
        )
        path = self._in_workspace(workspace, "connections")
        return (yield from self._one(ApiRequest("POST", path, json=body), Connection))

    @operation
    def update(
        self,
        connection_id: str,
        *,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        connector_version: str | None = None,
        labels: Sequence[str] | None = None,
    ) -> Call[Connection | None]:
        """Update a connection; the server merges properties and settings into the existing ones.

        Returns the connection when the server answers with it, else None.

        :param connection_id: the connection id.
        :param name: a new name.
        :param properties: properties to change.
        :param settings: settings to change.
        :param connector_version: a connector version.
        :param labels: new labels.
        """
        body = drop_none(
            {
                "name": name,
                "properties": dict(properties) if properties is not None else None,
                "settings": {to_snake(k): v for k, v in settings.items()} if settings is not None else None,
                "connector_version": connector_version,
                "labels": builtins.list(labels) if labels is not None else None,
            }
        )
        request = ApiRequest("PUT", f"v2/connections/{seg(connection_id)}", json=body)
        answer = unwrap_one((yield from self._json(request)))
        # Any spelling of the name (``Name``, ``ConnectionName``) means the answer is the connection.
        named = isinstance(answer, dict) and any(
            to_snake(str(key)) in ("name", "connection_name") and value for key, value in answer.items()
        )
        return parse_model(request, Connection, answer, self.profile) if named else None

    @operation
    def delete(self, connection_id: str) -> Call[None]:
        """Delete a connection (the server refuses while a running job uses it).

        :param connection_id: the connection id.
        """
        yield from self._json(ApiRequest("DELETE", f"v2/connections/{seg(connection_id)}"))

    @operation
    def test(self, connection_id: str) -> Call[TestResult]:
        """Test a connection. A failed test is returned (``success=False`` with the reason), not raised.

        :param connection_id: the connection id.
        """
        request = ApiRequest(
            "POST",
            f"v2/connections/{seg(connection_id)}/test",
            idempotent=True,
            accept_statuses=frozenset({400, 422, 500}),
        )
        response: httpx.Response = yield request
        body = parse_json(request, response, self.profile) if response.content else None
        message = find_message(body) if body is not None else ""
        if response.is_error:
            return TestResult(success=False, message=message or f"HTTP {response.status_code}")
        if isinstance(body, dict):
            result = TestResult.model_validate(body)
            if result.message is None:
                result.message = message or None
            return result
        return TestResult(success=True, message=message or None)

    @operation
    def tables(
        self,
        connection_id: str,
        *,
        schema: str | None = None,
        include_table_types: Sequence[str] | str | None = None,
        reset_metadata: bool | None = None,
    ) -> Call[builtins.list[Table]]:
        """List a connection's tables.

        The detailed page documents POST, the overview GET: POST is sent, GET on 405.

        :param connection_id: the connection id.
        :param schema: only this schema.
        :param include_table_types: TABLE, VIEW, SYNONYM (a list or comma-separated).
        :param reset_metadata: refresh the cached metadata first.
        """
        types = (
            include_table_types
            if isinstance(include_table_types, str | None)
            else ",".join(include_table_types)
        )
        params = {"schema": schema, "include_table_types": types, "reset_metadata": reset_metadata}
        path = f"v2/connections/{seg(connection_id)}/tables"
        request = ApiRequest("POST", path, params=params, idempotent=True)
        try:
            return (yield from self._many(request, Table))
        except self.profile.errors.method_not_allowed:
            pass
        return (yield from self._many(ApiRequest("GET", path, params=params), Table))

    @operation
    def columns(
        self, connection_id: str, table: str, *, reset_metadata: bool | None = None
    ) -> Call[builtins.list[Column]]:
        """List the columns of a table.

        :param connection_id: the connection id.
        :param table: the table (with its schema when needed, e.g. ``dbo.Customer``).
        :param reset_metadata: refresh the cached metadata first.
        """
        path = f"v2/connections/{seg(connection_id)}/tables/{seg(table)}/columns"
        request = ApiRequest("GET", path, params={"reset_metadata": reset_metadata})
        return (yield from self._many(request, Column))

    @operation
    def reset_metadata(self, connection_id: str) -> Call[Any]:
        """Reset a connection's cached metadata.

        :param connection_id: the connection id.
        """
        request = ApiRequest("POST", f"v2/connections/{seg(connection_id)}/reset-metadata", idempotent=True)
        return (yield from self._json(request))

    @operation
    def reset_credentials(self, connection_id: str) -> Call[Any]:
        """Reset the OAuth or stored credentials of a connection.

        :param connection_id: the connection id.
        """
        request = ApiRequest("POST", f"v2/connections/{seg(connection_id)}/reset-credentials")
        return (yield from self._json(request))

    @operation
    def logs(self, connection_id: str) -> Call[builtins.list[LogFileInfo]]:
        """List the log files of a connection.

        :param connection_id: the connection id.
        """
        request = ApiRequest("GET", f"v2/connections/{seg(connection_id)}/logs")
        return (yield from self._many(request, LogFileInfo))

    @operation
    def download_log(self, connection_id: str, log_name: str, *, tail_bytes: int | None = None) -> Call[str]:
        """Download a connection log file as text.

        :param connection_id: the connection id.
        :param log_name: the log file's name (see :meth:`logs`).
        :param tail_bytes: only the last bytes (bounded memory for huge logs).
        """
        path = f"v2/connections/{seg(connection_id)}/logs/{seg(log_name)}/download"
        return (yield from self._text(ApiRequest("POST", path, idempotent=True, tail_bytes=tail_bytes)))
