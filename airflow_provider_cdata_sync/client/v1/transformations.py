"""Transformations (v1): ``client.transformations``."""

from __future__ import annotations

import builtins
from typing import Any

from airflow_provider_cdata_sync.client.http import Call, D, operation, resolve
from airflow_provider_cdata_sync.client.models import Transformation
from airflow_provider_cdata_sync.client.v1 import odata
from airflow_provider_cdata_sync.client.v1.common import V1Resource, pascal_body


class Transformations(V1Resource[D]):
    """The transformations (addressed by name)."""

    @operation
    def list(self, workspace: str | None = None) -> Call[builtins.list[Transformation]]:
        """All transformations of a workspace.

        :param workspace: the workspace id or name; the configured one by default.
        """
        return (yield from self._list("transformations", Transformation, workspace))

    @operation
    def get(self, transformation: str, workspace: str | None = None) -> Call[Transformation]:
        """One transformation by name.

        :param transformation: the transformation name.
        :param workspace: the workspace id or name; the configured one by default.
        """
        request = self._request("GET", odata.entity_path("transformations", transformation), workspace)
        return (yield from self._one(request, Transformation))

    @operation
    def resolve(self, transformation: str, workspace: str | None = None) -> Call[Transformation]:
        """Find a transformation by id or name; the error lists the transformations.

        :param transformation: a transformation id or name.
        :param workspace: the workspace id or name; the configured one by default.
        """
        items = yield from self.list.steps(workspace)
        lookup = self.profile.errors.lookup
        return resolve("transformation", items, transformation, lambda t: t.id, lambda t: t.name, lookup)

    @operation
    def create(self, name: str, workspace: str | None = None, **fields: Any) -> Call[Transformation]:
        """Create a transformation.

        :param name: its name.
        :param workspace: the workspace id or name; the configured one by default.
        :param fields: other fields, in any case.
        """
        body = pascal_body({"TransformationName": name, **fields})
        ws = self._workspace_id(workspace)
        if ws is not None:
            body["WorkspaceId"] = ws
        return (
            yield from self._one(
                self._request("POST", "transformations", workspace, json=body), Transformation
            )
        )

    @operation
    def update(self, transformation: str, workspace: str | None = None, **fields: Any) -> Call[Any]:
        """Update a transformation.

        :param transformation: the transformation name.
        :param workspace: the workspace id or name; the configured one by default.
        :param fields: fields to change, in any case.
        """
        path = odata.entity_path("transformations", transformation)
        return (yield from self._json(self._request("PUT", path, workspace, json=pascal_body(fields))))

    @operation
    def delete(self, transformation: str, workspace: str | None = None) -> Call[None]:
        """Delete a transformation.

        :param transformation: the transformation name.
        :param workspace: the workspace id or name; the configured one by default.
        """
        yield from self._json(
            self._request("DELETE", odata.entity_path("transformations", transformation), workspace)
        )
