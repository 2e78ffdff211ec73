"""What the v1 (OData) resources share: PascalCase bodies, actions, and the workspace every call names.

v1 has workspaces: CData's own client appends ``?workspaceId=<id>`` to every call and puts ``WorkspaceId``
in the bodies of actions and creates. The default workspace is addressed by sending neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_cdata_sync.client.http import ApiRequest, Call, D, Resource

DEFAULT_WORKSPACES = (None, "", "default")


def pascal(key: str) -> str:
    """``source_connection`` -> ``SourceConnection`` (PascalCase body keys)."""
    return "".join(part[:1].upper() + part[1:] for part in key.split("_"))


def pascal_body(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A PascalCase body without the fields left out."""
    return {
        pascal(key) if key[:1].islower() else key: value for key, value in fields.items() if value is not None
    }


def flag(value: bool) -> str:
    """v1 actions take booleans as the strings "true"/"false"."""
    return "true" if value else "false"


class V1Resource(Resource[D]):
    """A v1 entity set or action group; every request names the workspace unless it is the default."""

    def _workspace_id(self, workspace: str | None) -> str | None:
        chosen = workspace if workspace not in DEFAULT_WORKSPACES else self.config.workspace
        if chosen in DEFAULT_WORKSPACES:
            return None
        return str(self._runner.workspace_ids.get(chosen, chosen))

    def _params(
        self, workspace: str | None, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        merged = dict(params or {})
        ws = self._workspace_id(workspace)
        if ws is not None:
            merged["workspaceId"] = ws
        return merged or None

    def _request(
        self,
        method: str,
        path: str,
        workspace: str | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        **kw: Any,
    ) -> ApiRequest:
        return ApiRequest(method, path, params=self._params(workspace, params), **kw)

    def _list(
        self, entity_set: str, model: type[Any], workspace: str | None = None, **query: Any
    ) -> Call[list[Any]]:
        options = {f"${key}": value for key, value in query.items() if value is not None}
        return (yield from self._many(self._request("GET", entity_set, workspace, params=options), model))

    def _action(
        self, name: str, body: Mapping[str, Any], workspace: str | None = None, *, idempotent: bool = False
    ) -> Call[list[dict[str, Any]]]:
        """POST an action; its answer as a list of rows, whatever the envelope (``value``, a bare array or
        one top-level object)."""
        payload = dict(body)
        ws = self._workspace_id(workspace)
        if ws is not None:
            payload["WorkspaceId"] = ws
        request = self._request("POST", name, workspace, json=payload, idempotent=idempotent)
        answer = yield from self._json(request)
        if isinstance(answer, dict) and isinstance(answer.get("value"), list):
            return [row for row in answer["value"] if isinstance(row, dict)]
        if isinstance(answer, list):
            return [row for row in answer if isinstance(row, dict)]
        return [answer] if isinstance(answer, dict) else []
