# TradeReady developer commands. The two set-up commands a fresh machine needs are
# `make demo` (the main job) and `make test` (the whole suite); both install first.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PKGS := packages/core/pyproject.toml packages/sdk/pyproject.toml packages/gym/pyproject.toml packages/server/pyproject.toml

.PHONY: install test demo lint typecheck imports check bench docs clean

install: $(STAMP)

# the engine is compiled (mypyc) by packages/core/setup.py: a changed engine.py means a rebuild
ENGINE := packages/core/setup.py packages/core/src/tradeready_core/engine.py

$(STAMP): $(PKGS) $(ENGINE) requirements-dev.txt scripts/install-system-deps.sh
	bash scripts/install-system-deps.sh
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned to the CPU build on this machine's disk; Stable-Baselines3 then finds it satisfied.
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e packages/core -e packages/sdk -e "packages/gym[sb3]" -e packages/server -r requirements-dev.txt
	touch $(STAMP)

test: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest

demo: install
	$(BIN)/tradeready demo $(DEMO_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

imports: install
	$(BIN)/lint-imports

check: lint imports typecheck

bench: install
	$(BIN)/python bench/env_step.py
	$(BIN)/python bench/tracking.py
	$(BIN)/python bench/remote_step.py
	$(BIN)/python bench/tracker_overhead.py
	$(BIN)/python bench/market_data.py

docs: install
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
