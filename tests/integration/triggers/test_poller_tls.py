"""What the triggerer's pollers verify: the connection's TLS setting on an https server; on a plain http
server nothing, so that no certificates are loaded for a transport that never speaks TLS."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_cdata_sync.aisquared.config import AISquaredConfig
from airflow_provider_cdata_sync.client import ClientConfig
from airflow_provider_cdata_sync.triggers.poller import tls_verify


def aisquared(**kwargs: object) -> AISquaredConfig:
    return AISquaredConfig(workspace_id="7", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("make", [ClientConfig, aisquared], ids=["cdata-sync", "aisquared"])
@pytest.mark.parametrize(
    ("url", "verify", "expected"),
    [
        ("http://sync.internal:8181", True, False),
        ("HTTP://sync.internal:8181", "/etc/ssl/corp.pem", False),
        ("https://sync.example.com", True, True),
        ("https://sync.example.com", False, False),
        ("https://sync.example.com", "/etc/ssl/corp.pem", "/etc/ssl/corp.pem"),
    ],
)
def test_the_poller_transport_verifies_only_tls_servers(
    make: Any, url: str, verify: bool | str, expected: bool | str
) -> None:
    config = make(base_url=url, verify=verify, token="t")
    assert tls_verify(config) == expected
