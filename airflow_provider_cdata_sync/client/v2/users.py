"""Sync users (v2): ``client.users``, and API tokens."""

from __future__ import annotations

import builtins
from typing import Any

from airflow_provider_cdata_sync.client.http import ApiRequest, Call, D, Resource, operation
from airflow_provider_cdata_sync.client.models import User
from airflow_provider_cdata_sync.client.v2.common import drop_none, seg, snake_fields


class Users(Resource[D]):
    """The users of the Sync server."""

    @operation
    def list(self) -> Call[builtins.list[User]]:
        """List the users."""
        return (yield from self._many(ApiRequest("GET", "v2/users"), User))

    @operation
    def get(self, user_id: str) -> Call[User]:
        """Get one user.

        :param user_id: the user id.
        """
        return (yield from self._one(ApiRequest("GET", f"v2/users/{seg(user_id)}"), User))

    @operation
    def create(
        self, name: str, *, password: str | None = None, role: str | None = None, **fields: Any
    ) -> Call[User]:
        """Create a user.

        :param name: the user name.
        :param password: its password (never logged).
        :param role: its role.
        :param fields: other documented fields (``email``, ``federation_id``, ...).
        """
        body = drop_none({"name": name, "password": password, "role": role, **snake_fields(fields)})
        return (yield from self._one(ApiRequest("POST", "v2/users", json=body), User))

    @operation
    def update(self, user_id: str, **fields: Any) -> Call[Any]:
        """Update a user.

        :param user_id: the user id.
        :param fields: fields to change.
        """
        return (
            yield from self._json(ApiRequest("PUT", f"v2/users/{seg(user_id)}", json=snake_fields(fields)))
        )

    @operation
    def delete(self, user_id: str) -> Call[None]:
        """Delete a user.

        :param user_id: the user id.
        """
        yield from self._json(ApiRequest("DELETE", f"v2/users/{seg(user_id)}"))

    @operation
    def generate_token(self, user: str) -> Call[str]:
        """Mint an API token for a user. The token is returned, never logged.

        :param user: the user's name or id.
        """
        body = yield from self._json(ApiRequest("POST", "v2/users/generate-token", json={"user": user}))
        if isinstance(body, dict):
            for key in ("token", "Token", "authtoken", "auth_token", "AuthToken"):
                if isinstance(body.get(key), str):
                    return str(body[key])
        if isinstance(body, str):
            return body
        raise self.profile.errors.response(
            "no token in the answer", method="POST", path="v2/users/generate-token"
        )
