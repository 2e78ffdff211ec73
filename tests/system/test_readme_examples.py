"""The README's hook and client examples run as written, against the emulator, on the API version they name.

The examples use a reader's names (``NightlyLoad``, ``Src``...); the test maps them to the seeded demo."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NAMES = {
    '"NightlyLoad"': '"DemoReplication"',
    '"NightlyPipeline"': '"DemoPipeline"',
    '"Src"': '"DemoSource"',
    '"Dwh"': '"DemoWarehouse"',
    "[Accounts]": "[customers]",
}


def readme_blocks() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Hook and client") :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def as_demo(code: str) -> str:
    for ours, demo in NAMES.items():
        code = code.replace(ours, demo)
    return code


def use_version(monkeypatch: pytest.MonkeyPatch, server: Any, api_version: str) -> None:
    conn = {"conn_type": "cdata_sync", "host": server.base_url, "password": server.token}
    conn["extra"] = {"api_version": api_version}
    monkeypatch.setenv("AIRFLOW_CONN_CDATA_SYNC_DEFAULT", json.dumps(conn))


@pytest.mark.parametrize("api_version", ["v2", "v1"])
def test_run_control_example_works_on_both_versions(
    cdata_sync_connection: Any, monkeypatch: pytest.MonkeyPatch, api_version: str, capsys: Any
) -> None:
    use_version(monkeypatch, cdata_sync_connection, api_version)
    before = len(cdata_sync_connection.runs())
    namespace: dict[str, Any] = {}
    exec(as_demo(readme_blocks()[0]), namespace)
    assert len(cdata_sync_connection.runs()) == before + 1  # one run started, and no other
    assert namespace["run"].id and namespace["target"].name == "DemoReplication"


def test_resource_examples_work_on_the_version_they_name(
    cdata_sync_connection: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    code = as_demo(readme_blocks()[1])
    v2_part, v1_part = code.split("\nv1 = ", 1)
    namespace: dict[str, Any] = {}
    use_version(monkeypatch, cdata_sync_connection, "v2")
    exec(v2_part, namespace)
    printed = capsys.readouterr().out
    assert "customers" in printed and "REPLICATE" in printed
    assert namespace["client"].jobs.resolve("Copy").name == "Copy"
    moved = namespace["client"].pipelines.steps.list(namespace["pipeline"].id)
    assert moved[0].id == namespace["steps"][-1].id

    use_version(monkeypatch, cdata_sync_connection, "v1")
    exec("v1 = " + v1_part, namespace)
    cdata_sync_connection.wait_idle(30)
