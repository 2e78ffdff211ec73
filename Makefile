# Two commands do all the set-up on a fresh machine: `make test` and `make demo`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
AIRFLOW_VERSION ?= 3.3.2
export AIRFLOW_HOME ?= $(CURDIR)/.airflow-home

.PHONY: install test lint typecheck unit demo clean

$(VENV)/.installed: pyproject.toml emulator/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check uv
	$(UV) pip install --python $(PY) -q --compile-bytecode "apache-airflow[celery,postgres,redis]==$(AIRFLOW_VERSION)" \
		-e . -e ./emulator --group dev
	touch $@

install: $(VENV)/.installed

lint: install
	$(VENV)/bin/ruff check airflow_provider_cdata_sync emulator tests example_dags benchmarks scripts
	$(VENV)/bin/ruff format --check airflow_provider_cdata_sync emulator tests example_dags benchmarks scripts

typecheck: install
	$(VENV)/bin/mypy

unit: install
	$(PY) -m pytest -q

test: lint typecheck unit test-deployment test-af2

demo: install
	$(PY) scripts/demo.py

# The emulators' own tests: every CData Sync dialect and AI Squared mode, over plain HTTP (no provider client).
.PHONY: test-emulator
test-emulator: install
	$(PY) -m pytest -q tests/emulator

# The generated docs pages (connections, operators how-to): a unit test fails when they are stale.
.PHONY: docs
docs: install
	$(PY) scripts/build_docs.py

clean:
	rm -rf $(VENV) .airflow-home .pytest_cache .mypy_cache .ruff_cache

# Soak (not part of `make test`): 200 concurrent deferred waits in one event loop against the emulator with
# faults injected; prints runs started/finished, duplicates and lost runs (both must be 0), calls per run.
.PHONY: soak
soak: install
	$(PY) benchmarks/soak.py

# Benchmark of deferred waits (not part of `make test`): the shared poller's cases (list with and without
# status, 0 and 50 ms server latency, 2 waits in 20,000 jobs, paged lists, N up to 5,000, polling alone)
# against a fake server in its own process, next to a bare asyncio polling floor; plus the import cost.
.PHONY: bench
bench: install
	$(PY) benchmarks/trigger_bench.py
	$(PY) benchmarks/lookup_cost.py

# ---------------------------------------------------------------------------------------------------------
# Issue 6: a real Airflow 3 deployment (API server, scheduler, DAG processor, triggerer) driven through its
# REST API and, in headless Chromium, its UI; and the unit + dag.test() suites on Airflow 2.11.
# Screenshots, process and task logs of the deployment run: artifacts/deployment/.
AF2_VENV ?= .venv-af2
AF2_PY := $(AF2_VENV)/bin/python
AF2_AIRFLOW_VERSION ?= 2.11.*

.PHONY: test-deployment test-af2

test-deployment: install
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)
	@$(PY) -c "import playwright" 2>/dev/null || $(UV) pip install --python $(PY) -q --group browser
	$(PY) -m pytest -q -m "deployment or browser" tests/deployment

$(AF2_VENV)/.installed: pyproject.toml emulator/pyproject.toml
	$(UV) venv -q --allow-existing --python 3.11 $(AF2_VENV)
	$(UV) pip install --python $(AF2_PY) -q "apache-airflow==$(AF2_AIRFLOW_VERSION)" \
		"apache-airflow-providers-common-compat>=1.23" -e . -e ./emulator --group dev
	touch $@

# The unit, integration and dag.test() suites on Airflow 2.11. Deselected there: the two tests that call execute()
# from a helper thread (Airflow 2's executor safeguard refuses that; on_kill itself is the same code on both
# versions). tests/integration/faults and tests/emulator use Airflow 3 internals or no Airflow at all: they run
# on Airflow 3 only.
# The dag.test() suites (aisquared, system) run last: on Airflow 2.11 dag.test() re-configures the task
# loggers, after which the operator tests that read the task log from stdout no longer see it.
AF2_INTEGRATION = tests/integration/links tests/integration/operators tests/integration/reporting \
	tests/integration/sensors tests/integration/triggers
test-af2: $(AF2_VENV)/.installed
	$(AF2_PY) -m pytest -q tests/unit $(AF2_INTEGRATION) tests/integration/aisquared tests/system \
		--deselect tests/integration/operators/test_operators.py::test_on_kill_cancels_the_started_run \
		--deselect tests/integration/aisquared/test_real_server.py::test_a_task_killed_right_after_triggering_leaves_no_active_run

# ---------------------------------------------------------------------------------------------------------
# Issue 17: the docker-compose quick start's topology with real processes, no containers: PostgreSQL (Debian's
# server binaries, a throwaway cluster), redis-server, CeleryExecutor, API server, scheduler, DAG processor, two
# triggerers, two Celery workers. Process and task logs and the figures measured: artifacts/distributed/.
.PHONY: test-distributed

test-distributed: install
	@command -v redis-server >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null)
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null)
	@$(PY) -c "import airflow.providers.celery, airflow.providers.postgres, psycopg, redis" 2>/dev/null || \
		$(UV) pip install --python $(PY) -q "apache-airflow[celery,postgres,redis]==$(AIRFLOW_VERSION)"
	$(PY) -m pytest -q -m distributed tests/distributed
