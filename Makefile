# The two commands: `make run` (serve on http://127.0.0.1:8000) and `make test` (both backends).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_DATABASE_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/kpi_test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
PYTEST_ARGS ?=

.PHONY: install run worker migrate test test-sqlite test-postgres reliability lint format org bench sdk messages clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(VENV)/bin/alembic upgrade head

run: migrate
	@if [ -n "$$REDIS_URL" ]; then echo ">> REDIS_URL is set: jobs go to Redis. Start the worker too: make worker"; \
	else echo ">> No REDIS_URL: jobs run inside this process (embedded mode)."; fi
	@echo ">> API on http://$(HOST):$(PORT)  (docs: http://$(HOST):$(PORT)/docs)"
	PUBLIC_BASE_URL="$${PUBLIC_BASE_URL:-http://$(HOST):$(PORT)}" \
		$(VENV)/bin/uvicorn services.api.main:create_app --factory --host $(HOST) --port $(PORT)

worker: install
	PUBLIC_BASE_URL="$${PUBLIC_BASE_URL:-http://$(HOST):$(PORT)}" $(PY) -m services.kpi_engine

# NAME="Acme Retail" make org  -> prints the org's first admin key
org: migrate
	$(PY) -m services.api.cli create-org "$(NAME)"

test: test-sqlite test-postgres

test-sqlite: install
	TEST_BACKEND=sqlite $(PY) -m pytest $(PYTEST_ARGS)

test-postgres: install
	TEST_BACKEND=postgres TEST_DATABASE_URL='$(TEST_DATABASE_URL)' TEST_REDIS_URL='$(TEST_REDIS_URL)' \
		$(PY) -m pytest $(PYTEST_ARGS)

# The fault suite, long (docs/domains/ingest.md "Guarantee"): overlapping batches with 1 and 2 workers, Postgres and
# Redis cut for 10 s three times each, workers SIGKILLed 10 times mid-merge; on SQLite the overlap run. Prints the
# figures (batches, points, outages, kills, duplicates, lost). About 10 minutes.
reliability: install
	rm -f test-artifacts/reliability-*.txt
	TEST_BACKEND=sqlite RELIABILITY=long $(PY) -m pytest -q tests/test_ingest_faults.py tests/test_faults.py $(PYTEST_ARGS)
	TEST_BACKEND=postgres TEST_DATABASE_URL='$(TEST_DATABASE_URL)' TEST_REDIS_URL='$(TEST_REDIS_URL)' RELIABILITY=long \
		$(PY) -m pytest -q tests/test_ingest_faults.py tests/test_faults.py tests/test_worker_redis_outage.py $(PYTEST_ARGS)
	@echo ">> figures"; cat test-artifacts/reliability-*.txt

# Ingestion throughput on Postgres as ratios to a raw COPY measured in the same run (BENCH_DATABASE_URL), then
# the time from ingest 202 to webhook received with a real arq worker (BENCH_REDIS_URL), against one job hop;
# then the performance issue's table end to end over HTTP (tests/bench/e2e.py, JSON in test-artifacts/bench-e2e.json);
# then how a queued burst spreads over one and two workers per WORKER_MAX_JOBS (tests/bench/spread.py, ~3 min);
# then the scale issue's tables: reads against metric_daily size, scheduled evaluation against organisations
# (tests/bench/scale.py, JSON in test-artifacts/bench-scale.json).
sdk: install
	$(PY) -m sdk.generate

bench: install
	$(PY) -m tests.bench.ingest
	$(PY) -m tests.bench.webhook_latency
	$(PY) -m tests.bench.sqlite_merge
	$(PY) -m tests.bench.e2e
	$(PY) -m tests.bench.spread
	$(PY) -m tests.bench.scale

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The dashboard's languages: extract the marked strings (babel.cfg) into messages.pot and merge them into each
# catalogue; then translate what is new or fuzzy in vi/LC_MESSAGES/messages.po (tests/test_dashboard_i18n.py fails
# until every message has a Vietnamese translation). English needs none: the msgids are the English.
LOCALE_DIR := services/api/dashboard/locale
messages: install
	$(VENV)/bin/pybabel extract -F babel.cfg --sort-output --add-location=file --omit-header \
		-o $(LOCALE_DIR)/messages.pot .
	$(VENV)/bin/pybabel update -i $(LOCALE_DIR)/messages.pot -d $(LOCALE_DIR) -D messages --ignore-obsolete

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .mypy_cache
