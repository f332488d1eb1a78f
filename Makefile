# The two README commands: `make run` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := baton compiler runtime generated

.PHONY: run test lint typecheck generate check-generated bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/baton lint specs/
	$(BIN)/baton graph specs/research_report.yaml --format mermaid

lint: $(STAMP)
	$(BIN)/ruff check $(PACKAGES) tests benchmarks
	$(BIN)/ruff format --check $(PACKAGES) tests benchmarks
	$(BIN)/mypy --strict $(PACKAGES)

check-generated: $(STAMP)
	$(BIN)/baton compile specs/ -o generated/ --check

test: lint check-generated
	$(BIN)/pytest -n 2

generate: $(STAMP)
	$(BIN)/baton compile specs/ -o generated/

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/python benchmarks/lint_bench.py
	$(BIN)/python benchmarks/compile_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
