# Two commands do all the set-up on a fresh machine: `make test` and `make demo`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
AIRFLOW_VERSION ?= 3.3.2
export AIRFLOW_HOME ?= $(CURDIR)/.airflow-home

.PHONY: install test lint typecheck unit demo clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check uv
	$(UV) pip install --python $(PY) -q --compile-bytecode "apache-airflow==$(AIRFLOW_VERSION)" -e '.[test,emulator]'
	touch $@

install: $(VENV)/.installed

lint: install
	$(VENV)/bin/ruff check airflow_provider_cdata_sync tests example_dags benchmarks scripts
	$(VENV)/bin/ruff format --check airflow_provider_cdata_sync tests example_dags benchmarks scripts

typecheck: install
	$(VENV)/bin/mypy

unit: install
	$(PY) -m pytest -q

test: lint typecheck unit test-deployment test-af2

demo: install
	$(PY) scripts/demo.py

clean:
	rm -rf $(VENV) .airflow-home .pytest_cache .mypy_cache .ruff_cache

# Soak (not part of `make test`): 200 concurrent deferred waits in one event loop against the emulator with
# faults injected; prints runs started/finished, duplicates and lost runs (both must be 0), calls per run.
.PHONY: soak
soak: install
	$(PY) benchmarks/soak.py

# Benchmark of deferred waits (not part of `make test`): N = 100, 500, 1000 concurrent trigger waits
# against a fake server in its own process, next to a bare asyncio polling floor; plus the import cost.
.PHONY: bench
bench: install
	$(PY) benchmarks/trigger_bench.py

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
	@$(PY) -c "import playwright" 2>/dev/null || $(UV) pip install --python $(PY) -q "playwright>=1.44"
	$(PY) -m pytest -q -m "deployment or browser" tests/deployment

$(AF2_VENV)/.installed: pyproject.toml
	$(UV) venv -q --allow-existing --python 3.11 $(AF2_VENV)
	$(UV) pip install --python $(AF2_PY) -q "apache-airflow==$(AF2_AIRFLOW_VERSION)" \
		"apache-airflow-providers-common-compat>=1.23" -e '.[test,emulator]'
	touch $@

# The unit and dag.test() suites on Airflow 2.11. Deselected there: the test that calls execute() from a helper
# thread (Airflow 2's executor safeguard refuses that; on_kill itself is the same code on both versions).
# tests/faults and tests/emulator use Airflow 3 internals or no Airflow at all: they run on Airflow 3 only.
test-af2: $(AF2_VENV)/.installed
	$(AF2_PY) -m pytest -q tests/client tests/hooks tests/v1 tests/unit tests/e2e tests/aisquared \
		--deselect tests/unit/test_operators.py::test_on_kill_cancels_the_started_run
