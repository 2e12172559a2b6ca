# utility-meters: extract -> dbt build -> load. See README.md; `make help`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# The image installs only what runs (REQUIREMENTS=requirements.txt); a
# workstation also gets the test and lint tools.
REQUIREMENTS ?= requirements.txt requirements-dev.txt
PORT ?= 8080
METERS ?= 1000
YEARS ?= 10

.PHONY: help run test lint docs dbt shell bench reset-processed clean dashboards statement

help: ## this list
	@echo "utility-meters: meter readings (InfluxDB) and Tibber -> dbt -> InfluxDB"
	@echo
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "}; {printf "  make %-16s %s\n", $$1, $$2}'
	@echo
	@$(PYTHON) -m pipeline --help | sed -n '/^settings/,$$p'
	@echo
	@echo "Without INFLUX_URL, make run runs the demo; README.md says how to switch."

$(INSTALLED): $(REQUIREMENTS) constraints.txt
	@echo "Installing the environment into $(VENV): about a minute, once."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check \
		$(addprefix -r ,$(REQUIREMENTS)) -c constraints.txt
	@touch $@
	@echo "Environment ready."

run: $(INSTALLED) ## the whole job: extract -> dbt build -> load (demo without INFLUX_URL; FULL_TESTS=1: data tests on every row)
	@$(BIN)/python -m pipeline run $(if $(FULL_TESTS),--full-tests)

test: $(INSTALLED) ## every test: pytest (starts its own InfluxDB), dbt, lint
	@# Two processes, a test file at a time each (its fixtures built once):
	@# a dbt build keeps one core busy, so two halve the time on two cores.
	$(BIN)/python -m pytest -n 2 --dist loadfile
	$(MAKE) --no-print-directory lint

lint: $(INSTALLED) ## ruff and sqlfluff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@mkdir -p target/lint
	DATA_DIR=target/lint $(BIN)/sqlfluff lint models macros tests/dbt

statement: $(INSTALLED) ## the yearly cost statements (YEAR=, default: the last complete year)
	@$(BIN)/python -m statement $(if $(YEAR),--year $(YEAR))

docs: $(INSTALLED) ## the dbt docs site on http://localhost:8080 (PORT=, DOCS_HOST=)
	@$(BIN)/python -m pipeline docs --port $(PORT)

dbt: $(INSTALLED) ## dbt with the settings a run gives it, every row in scope (ARGS='build -s my_model+')
	@$(BIN)/python -m pipeline dbt $(ARGS)

shell: $(INSTALLED) ## DuckDB shell on a read-only snapshot of the warehouse
	@$(BIN)/python -m pipeline shell

bench: $(INSTALLED) ## the scale benchmark (METERS=1000 YEARS=10)
	@$(BIN)/python -m bench --meters $(METERS) --years $(YEARS) --incremental

dashboards: $(INSTALLED) ## regenerate the Grafana dashboards in grafana/dashboards
	@$(BIN)/python -m grafana.generate

reset-processed: $(INSTALLED) ## delete the published measurements (asks first)
	@$(BIN)/python -m load.reset

clean: ## remove target/ and logs/ (never DATA_DIR)
	rm -rf target logs
