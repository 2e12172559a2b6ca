# utility-meters: extract -> dbt build -> load. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PORT ?= 8080
METERS ?= 1000
YEARS ?= 10

.PHONY: run test lint docs shell bench reset-processed clean dashboards

$(INSTALLED): requirements.txt constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check \
		-r requirements.txt -c constraints.txt
	@touch $@

run: $(INSTALLED)
	@$(BIN)/python -m pipeline run $(if $(FULL_TESTS),--full-tests)

test: $(INSTALLED)
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory lint

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@mkdir -p target/lint
	DATA_DIR=target/lint $(BIN)/sqlfluff lint models macros tests/dbt

docs: $(INSTALLED)
	@$(BIN)/python -m pipeline docs --port $(PORT)

shell: $(INSTALLED)
	@$(BIN)/python -m pipeline shell

bench: $(INSTALLED)
	@$(BIN)/python -m bench --meters $(METERS) --years $(YEARS) --incremental

dashboards: $(INSTALLED)
	@$(BIN)/python -m grafana.generate

reset-processed: $(INSTALLED)
	@$(BIN)/python -m load.reset

clean:
	rm -rf target logs
