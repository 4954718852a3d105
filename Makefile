# Every target bootstraps what it needs: a .venv with the project and its dev tools.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint fmt example bench reliability clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP) ## check the Hub, import qwen's history, snapshot it into ./warehouse.duckdb, print the trend and two claims
	$(BIN)/collector doctor
	$(BIN)/collector backfill --family qwen
	$(BIN)/collector snapshot --family qwen
	$(BIN)/collector report --family qwen --every month
	$(BIN)/collector verify "600M+ downloads" --family qwen --as-of 2025-12-31
	$(BIN)/collector verify "700M+ downloads" --family qwen --as-of 2026-01-31

test: $(STAMP) ## run the whole test suite
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check collector tests bench
	$(BIN)/ruff format --check collector tests bench
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format collector tests bench
	$(BIN)/ruff check --fix collector tests bench

example: $(STAMP) ## rebuild warehouse.duckdb.example (simulated data)
	$(BIN)/python -m collector.store.example warehouse.duckdb.example

bench: $(STAMP) ## collector at Hub scale vs a naive baseline, into bench/results.md (~3 min)
	$(BIN)/python -m bench

reliability: $(STAMP) ## fault matrix, large family under a small quota, kill -9 x20, storage faults (minutes)
	$(BIN)/python -m bench.reliability

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
