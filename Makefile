# Quick start: `make run` (conformance suite against the embedded reference server) and `make test`.
# Both set up what they need first (system packages with apt, Python packages in .venv).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup test run lint type unit bench clean

setup:
	@scripts/setup.sh

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q -n auto --dist loadfile

run: setup
	$(VENV)/bin/trunkcheck run

lint: setup
	$(VENV)/bin/ruff check .

type: setup
	$(VENV)/bin/mypy

bench: setup
	$(PY) benchmarks/sip_codec.py

clean:
	rm -rf captures/*/ .pytest_cache .mypy_cache .ruff_cache
