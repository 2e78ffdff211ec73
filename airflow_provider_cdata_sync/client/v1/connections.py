"""Connections (v1): ``client.connections``: the ``connections`` entity set and the testConnection,
getConnectionTables and getConnectionTableColumns actions."""

from __future__ import annotations

import builtins
from typing import Any

import httpx

from airflow_provider_cdata_sync.client.http import Call, D, find_message, operation, parse_json, resolve
from airflow_provider_cdata_sync.client.models import Column, Connection, Table, TestResult
from airflow_provider_cdata_sync.client.v1 import odata
from airflow_provider_cdata_sync.client.v1.common import V1Resource, pascal_body


class Connections(V1Resource[D]):
    """The connections (addressed by name)."""

    @operation
    def list(self, workspace: str | None = None) -> Call[builtins.list[Connection]]:
        """All connections of a workspace.

        :param workspace: the workspace id or name; the configured one by default.
        """
        return (yield from self._list("connections", Connection, workspace))

    @operation
    def get(self, connection: str, workspace: str | None = None) -> Call[Connection]:
        """One connection by name.

        :param connection: the connection name.
        :param workspace: the workspace id or name; the configured one by default.
        """
        request = self._request("GET", odata.entity_path("connections", connection), workspace)
        return (yield from self._one(request, Connection))

    @operation
    def resolve(self, connection: str, workspace: str | None = None) -> Call[Connection]:
        """Find a connection by id or name; the error lists the connections.

        :param connection: a connection id or name.
        :param workspace: the workspace id or name; the configured one by default.
        """
        items = yield from self.list.steps(workspace)
        return resolve(
            "connection", items, connection, lambda c: c.id, lambda c: c.name, self.profile.errors.lookup
        )

    @operation
    def create(
        self,
        name: str,
        provider_name: str,
        connection_string: str,
        workspace: str | None = None,
        **fields: Any,
    ) -> Call[Connection]:
        """Create a connection.

        :param name: its name.
        :param provider_name: the connector's provider name.
        :param connection_string: its connection string (never logged).
        :param workspace: the workspace id or name; the configured one by default.
        :param fields: other fields, in any case.
        """
        body = pascal_body(
            {"Name": name, "ProviderName": provider_name, "ConnectionString": connection_string, **fields}
        )
        ws = self._workspace_id(workspace)
        if ws is not None:
            body["WorkspaceId"] = ws
        return (yield from self._one(self._request("POST", "connections", workspace, json=body), Connection))

    @operation
    def update(self, connection: str, workspace: str | None = None, **fields: Any) -> Call[Any]:
        """Update a connection.

        :param connection: the connection name.
        :param workspace: the workspace id or name; the configured one by default.
        :param fields: fields to change, in any case.
        """
        path = odata.entity_path("connections", connection)
        return (yield from self._json(self._request("PUT", path, workspace, json=pascal_body(fields))))

    @operation
    def delete(self, connection: str, workspace: str | None = None) -> Call[None]:
        """Delete a connection.

        :param connection: the connection name.
        :param workspace: the workspace id or name; the configured one by default.
        """
        yield from self._json(
            self._request("DELETE", odata.entity_path("connections", connection), workspace)
        )

    @operation
    def test(self, connection: str, workspace: str | None = None) -> Call[TestResult]:
        """``testConnection``: a failed test is returned (``success=False`` with the reason), not raised.

        :param connection: the connection name.
        :param workspace: the workspace id or name; the configured one by default.
        """
        request = self._request(
            "POST",
            "testConnection",
            workspace,
            json={"ConnectionName": connection},
            idempotent=True,
            accept_statuses=frozenset({400, 422, 500}),
        )
        response: httpx.Response = yield request
        body = parse_json(request, response, self.profile) if response.content else None
        message = find_message(body) if body is not None else ""
        if response.is_error:
            return TestResult(success=False, message=message or f"HTTP {response.status_code}")
        rows = body.get("value") if isinstance(body, dict) else None
        row = rows[0] if isinstance(rows, list) and rows else (body if isinstance(body, dict) else {})
        ok = str(row.get("Status", "success")).lower() in ("success", "true", "ok")
        return TestResult(success=ok, message=row.get("Message") or message or None)

    @operation
    def tables(self, connection: str, workspace: str | None = None) -> Call[builtins.list[Table]]:
        """``getConnectionTables``.

        :param connection: the connection name.
        :param workspace: the workspace id or name; the configured one by default.
        """
        rows = yield from self._action(
            "getConnectionTables", {"ConnectionName": connection}, workspace, idempotent=True
        )
        return [Table.model_validate(row) for row in rows]

    @operation
    def columns(
        self, connection: str, table: str, workspace: str | None = None
    ) -> Call[builtins.list[Column]]:
        """``getConnectionTableColumns``.

        :param connection: the connection name.
        :param table: the table.
        :param workspace: the workspace id or name; the configured one by default.
        """
        body = {"ConnectionName": connection, "Table": table}
        rows = yield from self._action("getConnectionTableColumns", body, workspace, idempotent=True)
        return [Column.model_validate(row) for row in rows]
