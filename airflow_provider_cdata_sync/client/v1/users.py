"""Users (v1): ``client.users``: the ``users`` entity set and ``createUsers``."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_cdata_sync.client.http import Call, D, operation
from airflow_provider_cdata_sync.client.models import User
from airflow_provider_cdata_sync.client.v1 import odata
from airflow_provider_cdata_sync.client.v1.common import V1Resource, pascal_body


class Users(V1Resource[D]):
    """The users of the Sync server (addressed by name)."""

    @operation
    def list(self) -> Call[builtins.list[User]]:
        """All users."""
        return (yield from self._list("users", User))

    @operation
    def get(self, user: str) -> Call[User]:
        """One user by name.

        :param user: the user name.
        """
        return (yield from self._one(self._request("GET", odata.entity_path("users", user)), User))

    @operation
    def create(self, user: str, password: str, roles: str | None = None, **fields: Any) -> Call[User]:
        """Create a user.

        :param user: the user name.
        :param password: its password (never logged).
        :param roles: its roles.
        :param fields: other fields, in any case.
        """
        body = pascal_body({"User": user, "Password": password, "Roles": roles, **fields})
        return (yield from self._one(self._request("POST", "users", json=body), User))

    @operation
    def update(self, user: str, **fields: Any) -> Call[Any]:
        """Update a user.

        :param user: the user name.
        :param fields: fields to change, in any case.
        """
        return (
            yield from self._json(
                self._request("PUT", odata.entity_path("users", user), json=pascal_body(fields))
            )
        )

    @operation
    def delete(self, user: str) -> Call[None]:
        """Delete a user.

        :param user: the user name.
        """
        yield from self._json(self._request("DELETE", odata.entity_path("users", user)))

    @operation
    def create_many(self, users: Sequence[Mapping[str, Any]]) -> Call[builtins.list[User]]:
        """Create several users at once (``createUsers``).

        :param users: one mapping per user (``User``, ``Password``, ``Roles``, ...).
        """
        rows = yield from self._action("createUsers", {"Users": [pascal_body(dict(user)) for user in users]})
        return [User.model_validate(row) for row in rows]
