# Timesync: `make run` (the demo on SQLite, nothing else needed) and `make test` (the suite on
# PostgreSQL and Redis). Both build the virtualenv on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

# The test suite's services: local standard ports unless given.
TEST_DATABASE_URL := $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/timesync)
TEST_REDIS_URL := $(or $(REDIS_URL),redis://127.0.0.1:6379/15)

.PHONY: run test lint check-deploy bench chaos fuzz clean

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

.env:
	$(PY) -m config.devenv > .env
	@echo "Wrote .env with development settings and fresh secrets (not committed)."

run: $(VENV)/.installed .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	$(PY) manage.py run_local --addrport $(HOST):$(PORT)

# Tests ignore .env and run with production-like settings (DEBUG off) and throwaway secrets.
test: export DJANGO_READ_DOT_ENV_FILE = false
test: export DATABASE_URL = $(TEST_DATABASE_URL)
test: export CELERY_BROKER_URL = $(TEST_REDIS_URL)
test: export REDIS_URL = $(TEST_REDIS_URL)
test: export DEBUG = false
test: $(VENV)/.installed
	$(PY) -m tests.services_check
	$(VENV)/bin/ruff check .
	eval "$$($(PY) -m config.devenv --test)" && $(VENV)/bin/pytest $(PYTEST_ARGS)

# Benchmarks print figures (they assert correctness, never time). Same services as the tests.
bench: export DJANGO_READ_DOT_ENV_FILE = false
bench: export DATABASE_URL = $(TEST_DATABASE_URL)
bench: export CELERY_BROKER_URL = $(TEST_REDIS_URL)
bench: export REDIS_URL = $(TEST_REDIS_URL)
bench: export DEBUG = false
bench: $(VENV)/.installed
	$(PY) -m tests.services_check
	eval "$$($(PY) -m config.devenv --test)" && $(VENV)/bin/pytest -m bench -s -q tests/bench | grep -E '^\[bench\]|passed|failed'

# Seeded fault injection on the real stack (README "Chaos"): `make chaos TRIALS=20 SEED=7`;
# TRIAL=n replays one trial of the seed; EMBEDDED=1 runs it on the embedded default (SQLite and
# the filesystem broker in a temporary folder). Its own database, so a `make test` running
# meanwhile is not disturbed; the broker is a private redis-server the harness starts.
TRIALS ?= 200
CHAOS_DATABASE_URL := $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/timesync_chaos)

chaos: export DJANGO_READ_DOT_ENV_FILE = false
chaos: export DEBUG = false
chaos: export CHAOS_TRIALS = $(TRIALS)
chaos: export CHAOS_SEED = $(SEED)
chaos: export CHAOS_TRIAL = $(TRIAL)
chaos: export CHAOS_EMBEDDED = $(EMBEDDED)
chaos: $(VENV)/.installed
	@if [ -n "$(EMBEDDED)" ]; then \
		export VAR_DIR="$$(mktemp -d)" CELERY_BROKER_URL=filesystem:// CACHE_URL=locmemcache://; \
		export DATABASE_URL="sqlite:///$$VAR_DIR/timesync.sqlite3"; \
	else \
		command -v redis-server >/dev/null || { echo "make chaos needs redis-server on PATH" \
			"(apt-get install redis-server)" >&2; exit 1; }; \
		export DATABASE_URL="$(CHAOS_DATABASE_URL)" REDIS_URL="$(TEST_REDIS_URL)"; \
		export CELERY_BROKER_URL="$(TEST_REDIS_URL)"; \
		$(PY) -m tests.services_check || exit 1; \
	fi; \
	eval "$$($(PY) -m config.devenv --test)" && \
		$(VENV)/bin/pytest -m chaos -s -qq -p no:cacheprovider tests/chaos; \
	status=$$?; [ -z "$(EMBEDDED)" ] || rm -rf "$$VAR_DIR"; exit $$status

# The API under the schema-driven fuzzer, longer than in `make test` (3 examples): examples
# per operation, role and mode (valid and invalid input); FUZZ_SEED=n changes the inputs.
FUZZ_EXAMPLES ?= 50

fuzz: export DJANGO_READ_DOT_ENV_FILE = false
fuzz: export DATABASE_URL = $(TEST_DATABASE_URL)
fuzz: export CELERY_BROKER_URL = $(TEST_REDIS_URL)
fuzz: export REDIS_URL = $(TEST_REDIS_URL)
fuzz: export DEBUG = false
fuzz: export FUZZ_EXAMPLES := $(FUZZ_EXAMPLES)
fuzz: $(VENV)/.installed
	$(PY) -m tests.services_check
	eval "$$($(PY) -m config.devenv --test)" && \
		$(VENV)/bin/pytest -q -p no:cacheprovider tests/security/test_api_fuzz.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

clean:
	rm -rf var/ .pytest_cache .ruff_cache
