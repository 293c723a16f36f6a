# Developer tasks. `make test` is the test command CI runs (see .ci/run).
PYTHON ?= python

.PHONY: install test check fmt bench

# Everything the test suite uses: Debian's chromium for the browser tests, a
# CPU build of torch first (an unpinned one pulls a multi-GB CUDA build), then
# mtb with its extras (vllm aside: it needs CUDA).
install:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }
	$(PYTHON) -m pip install -q torch==2.13.0
	$(PYTHON) -m pip install -q -e '.[dev,litellm,local]'

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
