# genq's two commands are `make run` and `make test`; both create the environment first.
# Bytecode is compiled once at install, so start-up never pays for it (the quick start
# must serve within two seconds, even where PYTHONDONTWRITEBYTECODE is set).
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck pytest bench bench-quick bench-node services clean

run: $(VENV)/.synced
	$(BIN)/genq serve

test: lint typecheck pytest

lint: $(VENV)/.synced
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.synced
	$(BIN)/mypy

pytest: $(VENV)/.synced services
	$(BIN)/pytest

# Makes sure PostgreSQL and Redis answer (starting them if they are down).
services:
	@bash .ci/services.sh

bench: $(VENV)/.synced services bench-node
	$(BIN)/python -m bench.run

bench-quick: $(VENV)/.synced services bench-node
	$(BIN)/python -m bench.run --quick

# BullMQ, the one peer that is not Python, from the npm registry (skipped without Node).
bench-node:
	@if command -v npm >/dev/null && [ ! -d bench/peers/bullmq/node_modules ]; then \
		cd bench/peers/bullmq && npm ci --no-audit --no-fund; fi

# The environment: uv (bootstrapped into .tools/ when the machine has none), then the lock.
$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --locked --compile-bytecode
	$(BIN)/python -m compileall -q src
	@touch $@

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache
