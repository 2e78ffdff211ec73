"""A user's tests of their DAGs (here: our two example DAGs, copied into the user's DAG folder)."""

import os
from pathlib import Path

import httpx
from airflow.dag_processing.dagbag import DagBag
from cdata_sync_emulator.testing import count_rows


def get_dag(dag_id):
    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


def test_the_emulators_serve_their_demo(cdata_sync_emulator, aisquared_emulator):
    jobs = httpx.get(
        f"{cdata_sync_emulator.api_url}/v2/workspaces/default/jobs", headers=cdata_sync_emulator.headers
    ).json()["value"]
    assert {job["name"] for job in jobs} >= {"DemoReplication", "DemoBrokenReplication"}
    models = httpx.get(f"{aisquared_emulator.api_url}/models", headers=aisquared_emulator.headers).json()
    assert [model["attributes"]["name"] for model in models["data"]] == ["Customers", "Broken model"]
    Path("served-urls.txt").write_text(f"{cdata_sync_emulator.api_url}\n{aisquared_emulator.api_url}\n")


def test_cdata_sync_dag(airflow_db, cdata_sync_connection):
    dag_run = get_dag("example_cdata_sync_quickstart").test()
    assert dag_run.state == "success"
    warehouse = cdata_sync_connection.data_dir / "demo" / "warehouse.db"
    assert count_rows(warehouse, "customers") == 2000
    assert count_rows(warehouse, "customer_revenue") == 2000


def test_aisquared_dag(airflow_db, aisquared_connection):
    dag_run = get_dag("example_aisquared_sync").test()
    assert dag_run.state == "success"
    assert count_rows(aisquared_connection.data_dir / "aisquared-demo" / "crm.db", "crm_contacts") == 240


def execute_calls(server):
    calls = server.stats()["calls"]
    return sum(n for call, n in calls.items() if call.startswith("POST") and call.endswith("/execute"))


def test_a_busy_server_is_retried(airflow_db, cdata_sync_connection):
    before = execute_calls(cdata_sync_connection)
    cdata_sync_connection.inject_fault(r"/api\.rsc/v2/jobs/.*/execute", "status", status=503, count=2)
    assert get_dag("example_cdata_sync_quickstart").test().state == "success"
    assert execute_calls(cdata_sync_connection) - before == 2 + 2  # job: 2 refused + 1; transformation: 1
