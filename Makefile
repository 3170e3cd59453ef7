# Two entry points for a newcomer: `make demo` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck unit install install-dev clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade --quiet pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[demo]'

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

demo: install
	$(BIN)/mlresponder demo

lint: install-dev
	$(BIN)/ruff check bot runbooks diagnostics postmortems tests benchmarks scripts

typecheck: install-dev
	$(BIN)/mypy

# the fast tier (under two minutes): no real servers or processes; `make test` runs everything
unit: install-dev
	$(BIN)/pytest -q -ra -m "not slow"

test: install-dev
	$(BIN)/ruff check bot runbooks diagnostics postmortems tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/pytest -q -ra

bench: install-dev
	$(BIN)/python benchmarks/intake.py
	$(BIN)/python benchmarks/diagnose_scale.py
	$(BIN)/python -m benchmarks.scenarios.score
	$(BIN)/python benchmarks/monitor.py --rows 1000000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache mlresponder.db
