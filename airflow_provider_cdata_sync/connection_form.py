"""The CData Sync connection form: one description, used by Airflow 3.2+ (provider info) and 2.x (hook)."""

from __future__ import annotations

from typing import Any

CONN_TYPE = "cdata_sync"
HOOK_NAME = "CData Sync"

#: Extra fields of the connection form: name -> (label, description, JSON schema).
EXTRA_FIELDS: dict[str, dict[str, Any]] = {
    "workspace": {
        "label": "Workspace",
        "description": "Default workspace id or name for jobs, pipelines and transformations (v2).",
        "schema": {"type": ["string", "null"], "default": "default"},
    },
    "api_version": {
        "label": "API version",
        "description": "v2 for Sync 26.x and later (ids), v1 for older servers (OData, names), "
        "auto to ask the server once.",
        "schema": {"type": ["string", "null"], "enum": ["v2", "v1", "auto"], "default": "v2"},
    },
    "auth_type": {
        "label": "Authentication",
        "description": "header: x-cdata-authtoken (default); basic: HTTP Basic with login and token.",
        "schema": {"type": ["string", "null"], "enum": ["header", "basic"], "default": "header"},
    },
    "verify_ssl": {
        "label": "Verify TLS",
        "description": "true (default), false, or the path of a CA bundle file.",
        "schema": {"type": ["string", "null"], "default": "true"},
    },
    "timeout": {
        "label": "Timeout (seconds)",
        "description": "Seconds to wait for an answer from the server.",
        "schema": {"type": ["number", "null"], "default": 60},
    },
    "max_retries": {
        "label": "Max retries",
        "description": "How often a failed request that is safe to repeat is retried.",
        "schema": {"type": ["integer", "null"], "default": 5},
    },
    "console_url": {
        "label": "Console URL",
        "description": "Base URL of the Sync admin console for links, if it differs from the host.",
        "schema": {"type": ["string", "null"]},
    },
}

HIDDEN_FIELDS = ["schema", "port", "extra"]
RELABELING = {"host": "Base URL", "login": "User (optional)", "password": "API auth token"}
PLACEHOLDERS = {
    "host": "http://sync-host:8181 (add the context path if any, e.g. http://host:8181/sync)",
    "login": "only for HTTP Basic authentication",
    "password": "the token of a Sync user with API access",
    "workspace": "default",
    "api_version": "v2",
    "verify_ssl": "true",
    "timeout": "60",
    "max_retries": "5",
    "console_url": "https://sync.example.com:8181",
}


def ui_field_behaviour() -> dict[str, Any]:
    """The behaviour dict in the shape hooks return from ``get_ui_field_behaviour``."""
    return {"hidden_fields": HIDDEN_FIELDS, "relabeling": RELABELING, "placeholders": PLACEHOLDERS}


def provider_info_connection_type(hook_class_name: str) -> dict[str, Any]:
    """The ``connection-types`` entry of provider info, with ``conn-fields`` for Airflow 3.2+ forms."""
    return {
        "connection-type": CONN_TYPE,
        "hook-class-name": hook_class_name,
        "hook-name": HOOK_NAME,
        "ui-field-behaviour": {
            "hidden-fields": HIDDEN_FIELDS,
            "relabeling": RELABELING,
            "placeholders": PLACEHOLDERS,
        },
        "conn-fields": EXTRA_FIELDS,
    }


def wtforms_widgets() -> dict[str, Any]:
    """Extra form widgets for the Flask-AppBuilder UI of Airflow 2.x (imports wtforms lazily)."""
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget  # type: ignore[import-not-found]
    from flask_babel import lazy_gettext  # type: ignore[import-not-found]
    from wtforms import IntegerField, StringField  # type: ignore[import-not-found]

    widgets: dict[str, Any] = {}
    for name, spec in EXTRA_FIELDS.items():
        field_class = IntegerField if spec["schema"]["type"][0] == "integer" else StringField
        widgets[name] = field_class(
            lazy_gettext(spec["label"]), widget=BS3TextFieldWidget(), description=spec["description"]
        )
    return widgets


# ----------------------------------------------------------------------------- AI Squared
AISQUARED_DEFAULT_BASE_URL = "https://api.squared.ai/api/v1"
AISQUARED_HOOK_CLASS = "airflow_provider_cdata_sync.hooks.aisquared.AISquaredHook"
AISQUARED_CONN_TYPE = "aisquared"
AISQUARED_HOOK_NAME = "AI Squared"

#: Extra fields of the connection form: the workspace, then TLS, timeout and retries as for CData Sync.
AISQUARED_EXTRA_FIELDS: dict[str, dict[str, Any]] = {
    "workspace_id": {
        "label": "Workspace id",
        "description": "Required: sent as the Workspace-Id header of every call.",
        "schema": {"type": ["string", "null"]},
    },
    **{name: EXTRA_FIELDS[name] for name in ("verify_ssl", "timeout", "max_retries")},
}
AISQUARED_UI_FIELD_BEHAVIOUR = {
    "hidden_fields": ["schema", "port", "extra"],
    "relabeling": {"host": "API base URL", "login": "Email (to log in)", "password": "Token or password"},
    "placeholders": {
        "host": f"{AISQUARED_DEFAULT_BASE_URL} (default; self-hosted: http://multiwoven:3000/api/v1)",
        "login": "empty with a bearer token; the user's email to log in with a password",
        "password": "bearer token, or the user's password with an email",
        "workspace_id": "e.g. 12",
        "verify_ssl": "true",
        "timeout": "60",
        "max_retries": "5",
    },
}


def aisquared_connection_type() -> dict[str, Any]:
    """The ``connection-types`` entry of provider info (``conn-fields`` for Airflow 3.2+ forms)."""
    return {
        "connection-type": AISQUARED_CONN_TYPE,
        "hook-class-name": AISQUARED_HOOK_CLASS,
        "hook-name": AISQUARED_HOOK_NAME,
        "ui-field-behaviour": {
            key.replace("_", "-"): value for key, value in AISQUARED_UI_FIELD_BEHAVIOUR.items()
        },
        "conn-fields": AISQUARED_EXTRA_FIELDS,
    }
