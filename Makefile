# The two commands of the README: `make demo` (set up, then run the main job on the embedded
# defaults) and `make test` (set up, then run the tests).
PYTHON ?= python3
PYTEST_ARGS ?=

.PHONY: setup demo test lint constraints

setup:
	PYTHON=$(PYTHON) bash .ci/setup

demo: setup
	$(PYTHON) -m clova_etl.cli demo

# Three pytest workers (pytest-xdist) on CI's two cores: much of the suite waits on servers,
# subprocesses and sleeps (7 min here, 15 in one process). pytest-benchmark, where a machine
# has it installed, refuses to run beside xdist and is not used by these tests.
PYTEST_WORKERS ?= 3

test: setup
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) -p no:benchmark $(PYTEST_ARGS)

lint:
	$(PYTHON) -m ruff check clova_etl dags tests bench constraints
	$(PYTHON) -m ruff format --check clova_etl dags tests bench constraints
	$(PYTHON) -m mypy

# Pin every dependency of clova-etl[all extras] at the version installed here (the environment
# the tests passed in): .ci/setup and the README install with -c constraints/constraints-3.11.txt.
# After adding or bumping a dependency: pip install -e '.[...]', make test, make constraints.
constraints:
	$(PYTHON) constraints/regenerate.py

# Benchmarks take minutes each and are run one at a time: each section of bench/RESULTS.md
# starts with the exact command that produced it.
