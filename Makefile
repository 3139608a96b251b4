# The two commands a newcomer types: `make run` and `make test`. Both set themselves up.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# Any Python >= 3.11 on the PATH will do.
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
	&& { echo $$p; break; }; done)
STAMP := $(VENV)/.installed
PARSER_TESTS = $(wildcard tests/test_parser*.py tests/test_safety*.py tests/test_understanding*.py \
	tests/test_normalize*.py \
	tests/test_native*.py)

.PHONY: run test test-sqlite test-postgres test-source lint typecheck bench native system-deps \
	makemigrations clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "need Python >= 3.11 on the PATH"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The reply parser compiled with mypyc (build/native/; skipped with a note when there is no C
# compiler, a no-op when up to date). See scripts/build_native.py.
native: $(STAMP)
	$(PY) scripts/build_native.py

run: $(STAMP) native
	$(VENV)/bin/survey-bot demo --fresh

system-deps:
	@bash scripts/ensure-system-deps

test: $(STAMP) system-deps native
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory typecheck
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres
	$(MAKE) --no-print-directory test-source

test-sqlite: $(STAMP) native
	SURVEYBOT_TEST_DB=sqlite $(PY) -m pytest -q

test-postgres: $(STAMP) system-deps native
	SURVEYBOT_TEST_DB=postgres $(PY) -m pytest -q

# The suites above run the compiled parser; its tests run once more on the source.
test-source: $(STAMP)
	SURVEYBOT_NATIVE=0 SURVEYBOT_TEST_DB=sqlite $(PY) -m pytest -q $(PARSER_TESTS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy bot surveys handlers models

bench: $(STAMP) system-deps native
	$(PY) bench/parser.py
	$(PY) bench/webhook.py
	$(PY) bench/dispatch.py
	$(PY) bench/tallies.py

# After changing models/: write the next versioned migration.
makemigrations: $(STAMP)
	$(VENV)/bin/tortoise -c bot.db.MIGRATION_CONFIG makemigrations

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache .mypy_cache *.egg-info
