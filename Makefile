# Self-documenting: `make help` lists the targets with their ## comments.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORPUS ?= corpus
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.DEFAULT_GOAL := help
.PHONY: help run test test-fast lint eval bench bench-scale install clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: any other spec pulls a multi-GB CUDA build (see ENVIRONMENT.md)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the package with its dev tools

run: $(STAMP) ## index corpus/ if missing or stale, then serve the app on http://127.0.0.1:7860
	$(BIN)/assistant serve --corpus $(CORPUS)

test: $(STAMP) ## run the whole test suite (unit, integration, browser); not the live-LLM tests
	$(BIN)/python -m pytest -m "not live" -q

test-fast: $(STAMP) ## unit tests only (no model, no browser)
	$(BIN)/python -m pytest tests/unit -m "not slow and not browser and not live" -q

lint: $(STAMP) ## ruff + mypy
	$(BIN)/ruff check assistant evals tests benchmarks
	$(BIN)/ruff format --check assistant evals tests benchmarks
	$(BIN)/mypy

eval: $(STAMP) ## score the chain on the in-house gold set (report in eval-runs/gold)
	$(BIN)/assistant eval --gold evals/gold/hlh-gold.jsonl --out eval-runs/gold

BENCH_DIR ?= .bench
export ASSISTANT_BENCH_DIR := $(abspath $(BENCH_DIR))

bench: $(STAMP) ## ingest, ask (built-in corpus), scale, server-mode and 20-session benchmarks (run `make bench-scale` once first)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/ask.py
	$(BIN)/python benchmarks/ask_scale.py --sizes 1000 10000 100000
	$(BIN)/python benchmarks/server.py --size 10000
	$(BIN)/python benchmarks/concurrency.py --size 10000 --sessions 20

bench-scale: $(STAMP) ## embed the real-text cache (resumable, ~1-2 h on 2 cores) and build the scale libraries
	nice -n 10 $(BIN)/python benchmarks/realtext.py --minutes 120
	nice -n 10 $(BIN)/python benchmarks/scale.py --sizes 1000 10000 100000

clean: ## remove the data directory and caches (keeps .venv)
	rm -rf .assistant .pytest_cache .mypy_cache .ruff_cache test-artifacts
