"""Workspaces (v2): ``client.workspaces``."""

from __future__ import annotations

import builtins

from airflow_provider_cdata_sync.client.http import ApiRequest, Call, D, Resource, operation, resolve
from airflow_provider_cdata_sync.client.models import Workspace
from airflow_provider_cdata_sync.client.v2.common import seg


class Workspaces(Resource[D]):
    """The workspaces the token's user can access."""

    @operation
    def list(self) -> Call[builtins.list[Workspace]]:
        """List the workspaces."""
        return (yield from self._many(ApiRequest("GET", "v2/workspaces"), Workspace))

    @operation
    def get(self, workspace_id: str) -> Call[Workspace]:
        """Get one workspace.

        :param workspace_id: the workspace id.
        """
        return (yield from self._one(ApiRequest("GET", f"v2/workspaces/{seg(workspace_id)}"), Workspace))

    @operation
    def create(self, name: str) -> Call[Workspace]:
        """Create a workspace.

        :param name: its name.
        """
        return (yield from self._one(ApiRequest("POST", "v2/workspaces", json={"name": name}), Workspace))

    @operation
    def rename(self, workspace_id: str, name: str) -> Call[Workspace]:
        """Change a workspace's name.

        :param workspace_id: the workspace id.
        :param name: the new name.
        """
        request = ApiRequest("PUT", f"v2/workspaces/{seg(workspace_id)}", json={"name": name})
        return (yield from self._one(request, Workspace))

    @operation
    def delete(self, workspace_id: str) -> Call[None]:
        """Delete a workspace (the server refuses a non-empty one).

        :param workspace_id: the workspace id.
        """
        yield from self._json(ApiRequest("DELETE", f"v2/workspaces/{seg(workspace_id)}"))

    @operation
    def resolve(self, workspace: str) -> Call[Workspace]:
        """Find a workspace by id or name (exact, then case-insensitive); unknown names list the workspaces.

        :param workspace: a workspace id or name.
        """
        workspaces = yield from self.list.steps()
        return resolve(
            "workspace", workspaces, workspace, lambda w: w.id, lambda w: w.name, self.profile.errors.lookup
        )
