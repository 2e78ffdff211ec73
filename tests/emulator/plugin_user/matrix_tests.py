"""A user's test, run once per dialect by the conftest's parametrized ``cdata_sync_dialect``."""

import httpx


def test_each_dialect_serves_the_demo(cdata_sync_emulator, cdata_sync_dialect):
    assert cdata_sync_emulator.dialect.name == cdata_sync_dialect
    jobs = httpx.get(f"{cdata_sync_emulator.api_url}/jobs", headers=cdata_sync_emulator.headers).json()
    ids = [job["JobId"] for job in jobs["value"]]
    assert len(ids) == 3
    assert all(isinstance(i, int) for i in ids) == (cdata_sync_dialect == "v1-real")
