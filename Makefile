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

# The research pipeline end to end with the demo agents: it pauses at the approval of
# `deliver` (exit 3), alice approves, the run resumes and its final state is shown.
# A fresh database each time, so the fixed run id is new on every invocation.
RUN_DB := .baton/make-run.db
run: $(STAMP)
	$(BIN)/baton lint specs/
	rm -f $(RUN_DB) $(RUN_DB)-wal $(RUN_DB)-shm
	$(BIN)/baton run specs/research_report.yaml --db $(RUN_DB) --run-id research-demo \
		--input '{"topic": "durable multi-agent workflows", "client": "acme"}' --detach; \
		test $$? -eq 3
	$(BIN)/baton approve research-demo deliver --as alice --comment "ship it" --db $(RUN_DB)
	$(BIN)/baton resume research-demo --db $(RUN_DB)
	$(BIN)/baton show research-demo --db $(RUN_DB)

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
	$(BIN)/pip install -q -e '.[dev,bench,bench-runtime]'
	$(BIN)/python benchmarks/lint_bench.py
	$(BIN)/python benchmarks/compile_bench.py
	$(BIN)/python benchmarks/runtime_bench.py
	$(BIN)/python benchmarks/temporal_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
