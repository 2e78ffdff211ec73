"""A user's tests run with ``--cdata-sync-dialect=pascal --aisquared-mode=oss``."""

import json
import os

import httpx


def test_the_options_choose_the_shapes(cdata_sync_connection, aisquared_connection):
    assert cdata_sync_connection.dialect.name == "pascal"
    jobs = httpx.get(
        f"{cdata_sync_connection.api_url}/v2/workspaces/default/jobs", headers=cdata_sync_connection.headers
    ).json()
    assert len(jobs["value"]) == 2 and "@odata.nextLink" in jobs  # the demo's jobs, paged by 2
    assert {"Id", "Name", "SourceConnection"} <= set(jobs["value"][0])
    assert aisquared_connection.mode == "oss" and aisquared_connection.api_url.startswith("http://localhost:")
    connection = json.loads(os.environ["AIRFLOW_CONN_AISQUARED_DEFAULT"])
    assert connection["login"] == aisquared_connection.email
    assert connection["password"] == aisquared_connection.password
    login = httpx.post(
        f"{aisquared_connection.api_url}/login",
        json={"email": connection["login"], "password": connection["password"]},
    ).json()
    headers = {"Authorization": f"Bearer {login['data']['id']}", "Workspace-Id": "1"}
    models = httpx.get(f"{aisquared_connection.api_url}/models", headers=headers).json()
    assert [m["attributes"]["name"] for m in models["data"]] == ["Customers", "Broken model"]
