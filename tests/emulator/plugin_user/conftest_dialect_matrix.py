"""A user's conftest.py: every test that uses the CData Sync emulator runs once per dialect."""

import pytest


@pytest.fixture(scope="session", params=["default", "pascal", "v1-real"])
def cdata_sync_dialect(request):
    return request.param
