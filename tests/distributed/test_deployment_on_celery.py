"""The real-deployment assertions of tests/deployment (runs succeed, task logs hold the remote log, extra
links, a failing job fails with the remote error, mark-failed and execution_timeout cancel the remote run),
run unchanged on CeleryExecutor, PostgreSQL, Redis, two triggerers and two Celery workers: the test
functions are imported, and this directory's ``airflow`` fixture is the distributed deployment."""

from __future__ import annotations

import re

import pytest

from tests.deployment.test_deployment_api import (  # noqa: F401 (collected by pytest from here)
    emulator_reset,
    test_components_are_separate_processes_and_healthy,
    test_deferred_pipeline_goes_through_the_triggerer,
    test_dynamic_mapping_defers_each_mapped_task,
    test_execution_timeout_of_a_deferred_task_cancels_the_remote_run,
    test_failing_job_fails_the_run_with_the_remote_error,
    test_marking_a_deferred_task_failed_cancels_the_remote_run,
    test_quickstart_runs_with_remote_log_and_console_links,
)
from tests.distributed.harness import DistributedDeployment

pytestmark = pytest.mark.distributed


def test_the_topology_is_celery_postgresql_redis(airflow: DistributedDeployment) -> None:
    config = airflow.api("GET", "/api/v2/config", headers={"Accept": "application/json"}).json()
    options = {
        (section["name"], option["key"]): option["value"]
        for section in config["sections"]
        for option in section["options"]
    }
    assert options[("core", "executor")] == "CeleryExecutor"
    assert (
        options[("database", "sql_alchemy_conn")].startswith("postgresql")
        or "< hidden >" in (options[("database", "sql_alchemy_conn")])
    )
    assert airflow.sql("SELECT version()")[0][0].startswith("PostgreSQL")
    # Both triggerers and both workers are alive and registered.
    alive = airflow.sql(
        "SELECT id FROM job WHERE job_type = 'TriggererJob' AND state = 'running' "
        "AND latest_heartbeat > now() - interval '30 seconds'"
    )
    assert set(airflow.triggerer_jobs.values()) <= {row[0] for row in alive}
    assert len(set(airflow.triggerer_jobs.values())) == 2
    for worker in ("worker-1", "worker-2"):
        assert re.search(rf"{worker}@\S+ ready\.", airflow.process_log(worker))
    # The broker is the Redis server the harness started.
    import redis

    assert redis.Redis(host="127.0.0.1", port=airflow.redis.port).ping()
