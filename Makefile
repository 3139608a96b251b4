# The two commands a newcomer types: `make run` and `make test`. Both set themselves up.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# Any Python >= 3.11 on the PATH will do.
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
	&& { echo $$p; break; }; done)
STAMP := $(VENV)/.installed

.PHONY: run test test-sqlite test-postgres lint typecheck bench system-deps makemigrations clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "need Python >= 3.11 on the PATH"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/survey-bot demo --fresh

system-deps:
	@bash scripts/ensure-system-deps

test: $(STAMP) system-deps
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite: $(STAMP)
	SURVEYBOT_TEST_DB=sqlite $(PY) -m pytest -q

test-postgres: $(STAMP) system-deps
	SURVEYBOT_TEST_DB=postgres $(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy bot surveys handlers models

bench: $(STAMP) system-deps
	$(PY) bench/parser.py
	$(PY) bench/webhook.py
	$(PY) bench/dispatch.py
	$(PY) bench/tallies.py

# After changing models/: write the next versioned migration.
makemigrations: $(STAMP)
	$(VENV)/bin/tortoise -c bot.db.MIGRATION_CONFIG makemigrations

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info
