"""A user's conftest.py: the Airflow metadata DB that ``dag.test()`` needs (the plugin has no Airflow)."""

import pytest


@pytest.fixture(scope="session")
def airflow_db():
    from airflow.utils import db

    db.initdb()
