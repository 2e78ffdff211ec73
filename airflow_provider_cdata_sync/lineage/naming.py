"""Dataset names for the tables a CData Sync connection (or an AI Squared connector) reads or writes,
following the OpenLineage dataset naming spec (https://openlineage.io/docs/spec/naming) where the
connector says what the system is, and the Airflow asset URI of each dataset.

No Airflow and no OpenLineage import: plain strings in, :class:`DatasetName` out.

What the connector is comes from its type (``PostgreSQL``, ``Snowflake``, ``CSV``...); where it is comes
from the connection's properties (``Server``, ``Port``, ``Database``, ``Account``, ``ProjectId``,
``URI``...), read in any case and spelling. A connection whose system is unknown, or whose properties
lack what its naming needs, gets the stable namespace ``cdata-sync://<server>/<connection>`` (the Sync
server's host and the connection's name) with the table as the name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

#: Our own URI scheme, for datasets of systems the naming spec does not cover.
SCHEME = "cdata-sync"

_KEY = re.compile(r"[\s_\-.]+")


def _norm(key: str) -> str:
    return _KEY.sub("", str(key)).lower()


def prop(properties: Mapping[str, Any], *names: str) -> str | None:
    """The first non-empty property among ``names``, matched in any case and spelling
    (``Server``, ``server``, ``SERVER``, ``Data Source`` = ``DataSource``)."""
    normalised = {_norm(k): v for k, v in properties.items()}
    for name in names:
        value = normalised.get(_norm(name))
        if value not in (None, ""):
            return str(value).strip()
    return None


def parse_connection_string(text: str) -> dict[str, str]:
    """``Server=h;Port=5432;Database=d`` as a dict (v1 answers give the connection string, not properties)."""
    out: dict[str, str] = {}
    for part in str(text or "").split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            out[key.strip()] = value.strip().strip("'\"")
    return out


@dataclass(frozen=True)
class ConnectionInfo:
    """What naming needs to know about a connection: its name, connector type and properties.

    :param name: the connection's name (fallback namespaces use it).
    :param connector: the connector type (``PostgreSQL``, ``SQLite``...).
    :param properties: the connection's properties (secrets are not needed, and may be masked).
    :param server: the host (and port) of the Sync (or AI Squared) server that owns the connection:
        local file paths are on that machine, and the fallback namespace names it.
    :param id: the connection's id (for API calls; not part of any name).
    """

    name: str
    connector: str | None
    properties: Mapping[str, Any] = field(default_factory=dict)
    server: str = "localhost"
    id: str | None = None

    @property
    def system(self) -> str:
        """The system the connector talks to (``postgres``, ``mysql``...), else ``unknown``."""
        return system_of(self.connector)


_SYSTEMS: tuple[tuple[str, str], ...] = (
    ("postgres", "postgres"),
    ("mariadb", "mysql"),
    ("mysql", "mysql"),
    ("azuresynapse", "sqlserver"),
    ("synapse", "sqlserver"),
    ("azuresql", "sqlserver"),
    ("sqlserver", "sqlserver"),
    ("mssql", "sqlserver"),
    ("snowflake", "snowflake"),
    ("bigquery", "bigquery"),
    ("redshift", "redshift"),
    ("oracle", "oracle"),
    ("databricks", "databricks"),
    ("amazons3", "s3"),
    ("s3", "s3"),
    ("googlecloudstorage", "gcs"),
    ("gcs", "gcs"),
    ("azureblob", "wasbs"),
    ("azuredatalake", "abfss"),
    ("sqlite", "sqlite"),
    ("csv", "file"),
    ("json", "file"),
    ("parquet", "file"),
    ("excel", "file"),
    ("xml", "file"),
    ("file", "file"),
)

#: Systems without schemas: a job's destination schema becomes a table-name prefix ``<schema>_``.
SCHEMALESS = frozenset({"sqlite", "file", "s3", "gcs", "wasbs", "abfss"})
#: Default schema of a table named without one.
DEFAULT_SCHEMA = {"postgres": "public", "redshift": "public", "sqlserver": "dbo", "snowflake": "PUBLIC"}
DEFAULT_PORT = {"postgres": 5432, "mysql": 3306, "sqlserver": 1433, "redshift": 5439, "oracle": 1521}
#: File extension a file-based connector writes one table to.
FILE_EXTENSION = {"csv": ".csv", "json": ".json", "parquet": ".parquet", "excel": ".xlsx", "xml": ".xml"}


def system_of(connector: str | None) -> str:
    """The system of a connector type (``"PostgreSQL"`` -> ``postgres``; unknown ones -> ``unknown``)."""
    text = _norm(connector or "")
    for needle, system in _SYSTEMS:
        if needle in text:
            return system
    return "unknown"


@dataclass(frozen=True)
class DatasetName:
    """An OpenLineage dataset identity, and the system it was named for.

    :param namespace: e.g. ``postgres://db.example.com:5432``.
    :param name: e.g. ``shop.public.orders``.
    :param system: ``postgres``, ..., or ``cdata-sync`` for the fallback namespace.
    :param parts: the naming parts (host, database, schema, table...) an asset URI is built from.
    """

    namespace: str
    name: str
    system: str
    parts: tuple[tuple[str, str], ...] = ()

    def part(self, key: str) -> str:
        """One naming part ('' when absent)."""
        return dict(self.parts).get(key, "")

    @property
    def uri(self) -> str:
        """The Airflow asset URI of this dataset (OpenLineage-compatible, see :func:`asset_uri`)."""
        return asset_uri(self)


def split_table(table: str) -> list[str]:
    """``[db].[dbo].[Orders]``, ``"public"."orders"``, ``public.orders`` -> their parts, unquoted."""
    text = table.strip()
    parts = re.findall(r"\[([^\]]+)\]|\"([^\"]+)\"|`([^`]+)`|([^.\[\]\"`]+)", text)
    return [next(p for p in groups if p).strip() for groups in parts if any(groups)]


def _host_port(info: ConnectionInfo, system: str) -> tuple[str | None, int | None]:
    props = info.properties
    host = prop(props, "Server", "Host", "Hostname", "Address", "Data Source", "DataSource")
    port_text = prop(props, "Port")
    if host and "," in host and system == "sqlserver":  # SQL Server's "host,port"
        host, _, port_text = host.partition(",")
    if host and ":" in host and not host.startswith("["):
        host, _, maybe = host.rpartition(":")
        port_text = port_text or maybe
    if host and "\\" in host:  # SQL Server named instance: the host is what names the system
        host = host.split("\\", 1)[0]
    port = int(port_text) if port_text and port_text.strip().isdigit() else DEFAULT_PORT.get(system)
    return (host.strip().lower() if host else None), port


def _server_host(server: str) -> str:
    return (urlsplit(server).netloc if "://" in server else server).strip("/") or "localhost"


def fallback(info: ConnectionInfo, table: str) -> DatasetName:
    """The stable namespace ``cdata-sync://<server>/<connection>``, the table (as given) as the name."""
    server = _server_host(info.server)
    namespace = f"{SCHEME}://{server}/{quote(info.name, safe='')}"
    return DatasetName(
        namespace, table, SCHEME, (("server", server), ("connection", info.name), ("table", table))
    )


def dataset_name(info: ConnectionInfo, table: str, *, schema: str | None = None) -> DatasetName:
    """The dataset a table of a connection is, following the naming spec for the connector's system.

    :param info: the connection.
    :param table: the table, possibly qualified (``schema.table``, ``[db].[schema].[table]``).
    :param schema: the schema to use when the table names none (a job's destination schema).
    """
    system = info.system
    try:
        named = _named(info, system, table, schema)
    except (ValueError, KeyError):
        named = None
    return named or fallback(info, ".".join(split_table(table)) or table)


def _named(info: ConnectionInfo, system: str, table: str, schema: str | None) -> DatasetName | None:
    props = info.properties
    parts = split_table(table) or [table]
    leaf = parts[-1]
    if system in SCHEMALESS and schema and len(parts) == 1:
        leaf = f"{schema}_{leaf}"
    if system in ("postgres", "redshift", "sqlserver", "snowflake", "oracle", "databricks"):
        database = prop(props, "Database", "Initial Catalog", "Catalog", "DBName", "ServiceName", "SID")
        tschema = (
            parts[-2] if len(parts) >= 2 else (schema or prop(props, "Schema") or DEFAULT_SCHEMA.get(system))
        )
        if len(parts) >= 3:
            database = parts[-3]
        if not (database and tschema):
            return None
        if system == "snowflake":
            account = _snowflake_account(info)
            if not account:
                return None
            return DatasetName(
                f"snowflake://{account}",
                f"{database}.{tschema}.{leaf}",
                system,
                (("account", account), ("database", database), ("schema", tschema), ("table", leaf)),
            )
        if system == "databricks":
            host, _ = _host_port(info, system)
            if not host:
                return None
            return DatasetName(f"databricks://{host}", f"{database}.{tschema}.{leaf}", system)
        host, port = _host_port(info, system)
        if not host:
            return None
        if system == "redshift":
            namespace = _redshift_namespace(host, port or 5439, props)
        else:
            namespace = f"{system}://{host}:{port}"
        return DatasetName(
            namespace,
            f"{database}.{tschema}.{leaf}",
            system,
            (
                ("host", host),
                ("port", str(port)),
                ("database", database),
                ("schema", tschema),
                ("table", leaf),
            ),
        )
    if system == "mysql":
        host, port = _host_port(info, system)
        database = parts[-2] if len(parts) >= 2 else (schema or prop(props, "Database"))
        if not (host and database):
            return None
        return DatasetName(
            f"mysql://{host}:{port}",
            f"{database}.{leaf}",
            system,
            (("host", host), ("port", str(port)), ("database", database), ("table", leaf)),
        )
    if system == "bigquery":
        project = prop(props, "ProjectId", "Project", "BillingProject", "DataProjectId")
        dataset = parts[-2] if len(parts) >= 2 else (schema or prop(props, "DatasetId", "Dataset"))
        if len(parts) >= 3:
            project = parts[-3]
        if not (project and dataset):
            return None
        return DatasetName(
            "bigquery",
            f"{project}.{dataset}.{leaf}",
            system,
            (("project", project), ("dataset", dataset), ("table", leaf)),
        )
    if system == "sqlite":
        location = prop(props, "Database", "Data Source", "DataSource", "File", "Path")
        if not location:
            return None
        host = _server_host(info.server)
        path = "/" + location.replace("\\", "/").lstrip("/")
        return DatasetName(
            f"sqlite://{host}{path}", leaf, system, (("host", host), ("path", path), ("table", leaf))
        )
    if system in ("file", "s3", "gcs", "wasbs", "abfss"):
        return _file_dataset(info, system, leaf)
    return None


def _snowflake_account(info: ConnectionInfo) -> str | None:
    props = info.properties
    account = prop(props, "Account", "AccountName")
    url = prop(props, "URL", "Server", "Host")
    if not account and url:
        host = urlsplit(url).netloc if "://" in url else url
        account = host.split(".snowflakecomputing.com")[0] if "snowflakecomputing" in host else None
    if not account:
        return None
    account = account.lower()
    # The spec wants <organization>-<account>; a legacy locator (xy12345.us-east-1) is kept as given.
    return account.replace("_", "-") if "." not in account else account


def _redshift_namespace(host: str, port: int, props: Mapping[str, Any]) -> str:
    labels = host.split(".")
    if host.endswith(".redshift.amazonaws.com") and len(labels) >= 6:
        return f"redshift://{labels[0]}.{labels[2]}:{port}"
    region = prop(props, "Region", "AWSRegion")
    return f"redshift://{labels[0]}.{region}:{port}" if region else f"redshift://{host}:{port}"


def _file_dataset(info: ConnectionInfo, system: str, leaf: str) -> DatasetName | None:
    props = info.properties
    location = prop(props, "URI", "Folder", "Path", "Data Source", "DataSource", "Location", "Bucket")
    if not location:
        return None
    ext = FILE_EXTENSION.get(_file_format(info.connector), "")
    file = leaf if leaf.lower().endswith(ext) or not ext else f"{leaf}{ext}"
    location = location.replace("\\", "/")
    if "://" in location:
        parsed = urlsplit(location)
        scheme = {"gcs": "gs", "s3a": "s3", "s3n": "s3"}.get(parsed.scheme.lower(), parsed.scheme.lower())
        key = "/".join(p for p in (parsed.path.strip("/"), file) if p)
        if scheme == "file":
            return DatasetName("file", "/" + key, "file", (("path", "/" + key),))
        return DatasetName(
            f"{scheme}://{parsed.netloc}", key, scheme, (("bucket", parsed.netloc), ("key", key))
        )
    if system == "s3":
        key = "/".join(p for p in (location.strip("/"), file) if p)
        bucket, _, rest = key.partition("/")
        return DatasetName(f"s3://{bucket}", rest, "s3", (("bucket", bucket), ("key", rest)))
    # A local path: a file on the Sync server's machine (OpenLineage's remote file system naming).
    host = _server_host(info.server)
    path = "/" + "/".join(p for p in (location.strip("/"), file) if p)
    return DatasetName(f"file://{host}", path, "file", (("host", host), ("path", path)))


def _file_format(connector: str | None) -> str:
    text = _norm(connector or "")
    return next((fmt for fmt in FILE_EXTENSION if fmt in text), "")


# --------------------------------------------------------------------------------------- asset URIs
def asset_uri(dataset: DatasetName) -> str:
    """The Airflow asset URI of a dataset, which Airflow's providers convert back to the same OpenLineage
    dataset: the providers' own forms (``postgres://host:port/db/schema/table``,
    ``mysql://host:port/db/table``, ``bigquery://project/dataset/table``, ``file://``, ``s3://``) where
    they define one, ``<namespace>/<name>`` otherwise, ``cdata-sync://<server>/<connection>/<table>`` for
    the fallback namespace."""
    get = dataset.part
    if dataset.system == "postgres":
        return f"postgres://{get('host')}:{get('port')}/{get('database')}/{get('schema')}/{get('table')}"
    if dataset.system == "mysql":
        return f"mysql://{get('host')}:{get('port')}/{get('database')}/{get('table')}"
    if dataset.system == "bigquery":
        return f"bigquery://{get('project')}/{get('dataset')}/{get('table')}"
    if dataset.system == SCHEME:
        return f"{dataset.namespace}/{quote(dataset.name, safe='.')}"
    if dataset.namespace == "file":
        return f"file://{dataset.name}"
    if dataset.system == "file":
        return f"{dataset.namespace}{dataset.name}"
    return f"{dataset.namespace}/{dataset.name.lstrip('/')}"


def parse_scheme_uri(uri: str) -> tuple[str, str, str]:
    """``cdata-sync://<server>/<connection>/<table>`` -> (server, connection, table); ValueError if not."""
    parsed = urlsplit(uri)
    if parsed.scheme != SCHEME or not parsed.netloc:
        raise ValueError(f"{uri!r} is not a {SCHEME}:// URI")
    connection, _, table = parsed.path.lstrip("/").partition("/")
    if not connection or not table:
        raise ValueError(
            f"A {SCHEME} URI needs a connection and a table: {SCHEME}://<server>/<connection>/<table>"
        )
    return parsed.netloc, unquote(connection), unquote(table)
