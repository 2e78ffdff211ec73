"""The generated documentation pages match the code (connection form, docstrings, example DAGs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_generated_docs_are_current() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "build_docs.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_every_public_class_is_documented_with_its_parameters() -> None:
    text = (REPO / "docs" / "operators.md").read_text()
    for name in ("CDataSyncRunJobOperator", "CDataSyncRunWatcher", "AISquaredRunSyncOperator"):
        assert f"## `{name}`" in text
    assert "| `retry_from_failure` |" in text and "| `trigger_queue` |" in text
