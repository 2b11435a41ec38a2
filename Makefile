# Two commands on a fresh machine: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PY := .venv/bin/python
PORT ?= 8000

.PHONY: setup setup-test run demo test fuzz lint typecheck migrate package lint-infra deploy bench bench-search-latency coldstart clean

setup:
	@bash scripts/bootstrap.sh

setup-test:
	@bash scripts/bootstrap.sh --registry --alertmanager --tools

run: setup
	@$(PY) -m devserver --port $(PORT)

# The whole flow on this machine, step by step (devtools/demo.py); needs the registry, like the tests.
demo:
	@bash scripts/bootstrap.sh --registry
	@$(PY) -m devtools.demo

test: setup-test
	@$(PY) -m ruff check .
	@$(PY) -m mypy
	@$(PY) -m pytest -q

lint: setup
	@$(PY) -m ruff check .

# Static types of chalicelib, app.py, watcher, bench and devtools (configuration in pyproject.toml [tool.mypy]).
typecheck: setup
	@$(PY) -m mypy

migrate: setup
	@$(PY) -m chalicelib.cli migrate

package: setup
	@bash scripts/package.sh

# cfn-lint, checkov (its own pinned environment, .venv-tools/) and the wildcard-policy check.
lint-infra: package
	@bash scripts/lint-infra.sh

deploy: package
	@bash scripts/deploy.sh

coldstart: setup
	@$(PY) bench/coldstart.py

# The quick benchmarks (a few minutes in all; guards.py loads 100,000 past executions); bench-search-latency loads 100,000 versions (~3 min more).
# Search data: bench/data/search (the scripts' defaults).
bench: setup-test coldstart
	@$(PY) bench/search_quality.py
	@$(PY) bench/confidence_fit.py
	@$(PY) bench/registration.py --latency 50 --throughput 60
	@$(PY) bench/load.py --spawn --clients 32 --requests 2000
	@$(PY) bench/alerts.py --alerts 10000 --per-notification 100 --senders 16
	@$(PY) bench/guards.py --executions 100000 --requests 2000
	@$(PY) bench/runner.py --executions 200 --rate 10 --idle-runners 10 --idle-seconds 60

bench-search-latency: setup
	@$(PY) bench/search_latency.py --versions 100000

clean:
	rm -rf .venv .venv-tools build .pytest_cache .ruff_cache .mypy_cache

# The published contract fuzzed for 10 minutes (schemathesis against `make run`'s server; `make test` runs a
# one-minute version): tests/contract/fuzz.py, exceptions with their reasons in tests/contract/hooks.py.
fuzz: setup-test
	@$(PY) -m tests.contract.fuzz --minutes $(or $(MINUTES),10)
