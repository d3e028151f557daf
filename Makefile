# Every target builds .venv from nothing when it is missing, so each works on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.demo-installed

.PHONY: demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

# The demo needs only the demo extra (about 40 packages, not the 110 of dev + bench).
$(DEMO_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $(DEMO_STAMP)

## demo: start the demo service, load it for ~30 s, print the SLO verdicts, write ./slokit-report/
demo: $(DEMO_STAMP)
	$(BIN)/slokit demo

## test: lint, strict type check, then the whole test suite
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src/slokit

unit: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile

## bench: slokit next to wrk and Locust (needs wrk, nginx-light: see bench/README.md)
bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis slokit-report
