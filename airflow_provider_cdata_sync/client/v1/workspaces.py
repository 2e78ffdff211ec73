"""Workspaces (v1): ``client.workspaces``: the ``workspaces`` entity set."""

from __future__ import annotations

import builtins

from airflow_provider_cdata_sync.client.http import ApiRequest, Call, D, operation, resolve
from airflow_provider_cdata_sync.client.models import Workspace
from airflow_provider_cdata_sync.client.v1.common import V1Resource


class Workspaces(V1Resource[D]):
    """The workspaces (v1 servers that have them; CData's own client lists ``workspaces``)."""

    @operation
    def list(self) -> Call[builtins.list[Workspace]]:
        """All workspaces."""
        return (yield from self._many(ApiRequest("GET", "workspaces"), Workspace))

    @operation
    def resolve(self, workspace: str) -> Call[Workspace]:
        """Find a workspace by id or name; the error lists the workspaces.

        :param workspace: a workspace id or name.
        """
        items = yield from self.list.steps()
        return resolve(
            "workspace", items, workspace, lambda w: w.id, lambda w: w.name, self.profile.errors.lookup
        )
