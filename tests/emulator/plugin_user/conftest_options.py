"""A user's conftest.py that changes the emulators' options."""

import pytest


@pytest.fixture(scope="session")
def cdata_sync_emulator_options():
    return {"token": "my-cdata-token", "seed_demo": False, "scheduler": False}


@pytest.fixture(scope="session")
def aisquared_emulator_options():
    return {"token": "my-aisquared-token", "workspace_id": "42"}
