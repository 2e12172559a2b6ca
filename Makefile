# utility-meters: extract -> dbt build -> load. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PORT ?= 8080
METERS ?= 1000
YEARS ?= 10

.PHONY: run test lint docs shell bench reset-processed clean statement

$(INSTALLED): requirements.txt constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check \
		-r requirements.txt -c constraints.txt
	@touch $@

run: $(INSTALLED)
	@$(BIN)/python -m pipeline run

test: $(INSTALLED)
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory lint

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@mkdir -p target/lint
	DATA_DIR=target/lint $(BIN)/sqlfluff lint models macros tests/dbt

# The yearly cost statement (default: the last complete year before as_of).
statement: $(INSTALLED)
	@$(BIN)/python -m statement $(if $(YEAR),--year $(YEAR))

docs: $(INSTALLED)
	@$(BIN)/python -m pipeline docs --port $(PORT)

shell: $(INSTALLED)
	@$(BIN)/python -m pipeline shell

bench: $(INSTALLED)
	@$(BIN)/python -m bench --meters $(METERS) --years $(YEARS) --incremental

reset-processed: $(INSTALLED)
	@$(BIN)/python -m load.reset

clean:
	rm -rf target logs
