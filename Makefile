# Everything a developer runs, with the project's own virtualenv (.venv).
# `make run` and `make test` are the two commands of the README.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test pytest lint typecheck format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Start the service on the embedded default: migrations, Redis, worker and API.
run: $(STAMP)
	$(BIN)/pimsync run

## The whole check CI runs: lint, types, then the test suite (SQLite, and PostgreSQL/Redis when they answer).
test: lint typecheck pytest

## One pytest process per core: each has its own databases, queue and tenants (tests/conftest.py), and much of
## the suite waits on worker processes and servers, so this roughly halves the wall time even on two cores. The
## slowest tests are listed at the end, to keep the suite well inside its ten minutes.
pytest: $(STAMP)
	$(BIN)/pytest -n auto --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Benchmarks print their figures; they do not pass or fail.
bench: $(STAMP)
	$(BIN)/python bench/mapping_bench.py
	$(BIN)/python bench/import_bench.py
	$(BIN)/python bench/sync_bench.py
	$(BIN)/python bench/conflict_bench.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
