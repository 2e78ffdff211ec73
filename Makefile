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

test: lint typecheck unit

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
