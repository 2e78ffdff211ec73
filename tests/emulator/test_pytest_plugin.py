"""The pytest plugin of the emulator distribution, as a user meets it: a fresh pytest process in a project
of its own (``pytester``), with none of our conftest files, gets working emulators from the fixtures."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]

#: The files of the user's project (named so that our own test run does not collect them).
USER_FILES = Path(__file__).parent / "plugin_user"


@pytest.fixture
def user_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project directory with its own Airflow home and DAG folder, and no emulator connection set."""
    home = pytester.path / "airflow-home"
    dags = pytester.mkdir("dags")
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(dags))
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home}/airflow.db")
    monkeypatch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    monkeypatch.setenv("CDATA_SYNC_EXAMPLE_POLL_SECONDS", "0.5")
    monkeypatch.setenv("AISQUARED_EXAMPLE_POLL_SECONDS", "0.2")
    for name in ("AIRFLOW_CONN_CDATA_SYNC_DEFAULT", "AIRFLOW_CONN_AISQUARED_DEFAULT", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)
    return pytester


# A fresh process's Airflow start-up (new metadata DB, DAG parsing, the in-process execution API) and three
# DAG runs: this can take more than the suite's default 300 s when the machine is shared.
@pytest.mark.timeout(900)
def test_a_users_dag_tests_get_seeded_emulators_that_stop_after_the_session(user_project) -> None:
    for name in ("example_cdata_sync_quickstart.py", "example_aisquared_sync.py"):
        shutil.copy(REPO / "example_dags" / name, user_project.path / "dags" / name)
    shutil.copy(USER_FILES / "conftest_airflow_db.py", user_project.path / "conftest.py")
    shutil.copy(USER_FILES / "dag_tests.py", user_project.path / "test_my_dags.py")
    result = user_project.runpytest_subprocess("-p", "no:cacheprovider", timeout=840)
    result.assert_outcomes(passed=4)
    for url in (user_project.path / "served-urls.txt").read_text().split():
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, timeout=5)


def test_options_can_be_overridden_and_each_test_finds_the_emulators_clean(user_project) -> None:
    shutil.copy(USER_FILES / "conftest_options.py", user_project.path / "conftest.py")
    shutil.copy(USER_FILES / "options_tests.py", user_project.path / "test_options.py")
    result = user_project.runpytest_subprocess("-p", "no:cacheprovider", timeout=300)
    result.assert_outcomes(passed=2)


def test_command_line_options_choose_the_dialect_and_the_mode(user_project) -> None:
    shutil.copy(USER_FILES / "dialect_tests.py", user_project.path / "test_dialect.py")
    result = user_project.runpytest_subprocess(
        "-p", "no:cacheprovider", "--cdata-sync-dialect=pascal", "--aisquared-mode=oss", timeout=300
    )
    result.assert_outcomes(passed=1)
    refused = user_project.runpytest_subprocess(
        "-p", "no:cacheprovider", "--cdata-sync-dialect=soap", timeout=300
    )
    assert refused.ret != 0 and "invalid choice" in refused.stderr.str()


def test_a_parametrized_dialect_fixture_runs_every_test_on_every_dialect(user_project) -> None:
    shutil.copy(USER_FILES / "conftest_dialect_matrix.py", user_project.path / "conftest.py")
    shutil.copy(USER_FILES / "matrix_tests.py", user_project.path / "test_matrix.py")
    result = user_project.runpytest_subprocess("-p", "no:cacheprovider", "-v", timeout=300)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_each_dialect_serves_the_demo?v1-real? PASSED*"])
