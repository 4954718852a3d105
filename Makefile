# Every target bootstraps what it needs: a .venv with the project and its dev tools.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# The lowest versions pyproject allows of the Hub client and its HTTP stack, where an older
# release breaks collector; `make test-oldest` runs the Hub-facing tests on them.
OLDEST       := huggingface_hub==2.0.0 httpx2==2.13.0
OLDEST_VENV  := .venv-oldest
OLDEST_STAMP := $(OLDEST_VENV)/.installed-stamp
OLDEST_TESTS := tests/test_fakehub.py tests/test_doctor.py tests/test_strategies.py \
	tests/test_lineage.py tests/test_pacing.py tests/test_outcomes.py tests/test_errors.py \
	tests/test_secrets.py tests/test_backfill.py tests/test_sources.py tests/test_baddata.py \
	tests/test_backfill_hubstats.py

.PHONY: run test test-oldest lint fmt example bench reliability clean

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
	$(BIN)/python -m pytest -n auto

$(OLDEST_STAMP): pyproject.toml Makefile
	test -x $(OLDEST_VENV)/bin/python || $(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' $(OLDEST)
	touch $(OLDEST_STAMP)

test-oldest: $(OLDEST_STAMP) ## the Hub-facing tests on the oldest huggingface_hub and httpx2 allowed
	$(OLDEST_VENV)/bin/python -m pytest -n auto -p no:cacheprovider $(OLDEST_TESTS)

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
	rm -rf $(VENV) $(OLDEST_VENV) .pytest_cache .mypy_cache .ruff_cache
