# The two commands of the README: `make demo` (set up, then run the main job on the embedded
# defaults) and `make test` (set up, then run the tests).
PYTHON ?= python3
PYTEST_ARGS ?=

.PHONY: setup demo test lint bench

setup:
	PYTHON=$(PYTHON) bash .ci/setup

demo: setup
	$(PYTHON) -m clova_etl.cli demo

test: setup
	$(PYTHON) -m pytest $(PYTEST_ARGS)

lint:
	$(PYTHON) -m ruff check clova_etl dags tests bench
	$(PYTHON) -m ruff format --check clova_etl dags tests bench
	$(PYTHON) -m mypy

bench:
	$(PYTHON) -m bench.run_all
