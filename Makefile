# Developer tasks. `make test` is the test command CI runs (see .ci/run).
PYTHON ?= python

.PHONY: install test check fmt bench

install:
	$(PYTHON) -m pip install -e '.[dev,litellm]'

test:
	$(PYTHON) -m pytest -q

check:
	$(PYTHON) -m ruff check src tests bench
	$(PYTHON) -m ruff format --check src tests bench
	$(PYTHON) -m mypy

fmt:
	$(PYTHON) -m ruff format src tests bench
	$(PYTHON) -m ruff check --fix src tests bench

bench:
	$(PYTHON) bench/judge_throughput.py
	$(PYTHON) bench/arena_results.py
	$(PYTHON) bench/generation_throughput.py
