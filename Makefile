# Two entry points, each self-contained on a fresh machine with Python 3.11:
#   make quickstart   set up .venv and run the quickstart demo
#   make test         set up .venv and run lint, format check, types and the test suite
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: quickstart test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

quickstart: $(STAMP)
	$(BIN)/mlgate quickstart mlgate-quickstart --force

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/pytest --cov --cov-report=term

bench: $(STAMP)
	$(BIN)/python benchmarks/validation.py

clean:
	rm -rf $(VENV) mlgate-quickstart .pytest_cache .mypy_cache .ruff_cache .coverage
