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

.PHONY: run test lint check-deploy bench chaos fuzz clean lock audit

# Dependencies come from the lock files only (README "Dependencies"): every package pinned, by
# hash, installed without resolving anything (--no-deps); then the project itself, --no-deps.
# dev-lock.txt is lock.txt (the image's) plus the dev tools, at the same versions.
LOCK := requirements/lock.txt
DEV_LOCK := requirements/dev-lock.txt

$(VENV)/.locked: $(DEV_LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r $(DEV_LOCK)
	@touch $@

# A dependency in pyproject.toml that the locks do not pin fails here, before anything runs.
$(VENV)/.installed: $(VENV)/.locked pyproject.toml $(LOCK)
	$(PY) requirements/check_lock.py
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

# Refreshes both lock files from pyproject.toml: keeps every pin that still fits and resolves
# only what changed (`make lock UPGRADE=1` moves everything to the newest allowed). Resolved
# for every platform (--universal) on Python 3.11; deterministic: run twice, same files.
UV_COMPILE = $(VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)

lock: $(VENV)/.locked
	$(UV_COMPILE) pyproject.toml -o $(LOCK)
	$(UV_COMPILE) pyproject.toml --extra dev -c $(LOCK) -o $(DEV_LOCK)
	$(PY) requirements/check_lock.py

# Known vulnerabilities in the locked dependencies (README "Dependencies"): fails on any found;
# says loudly, without failing, when no vulnerability service could be reached. dev-lock.txt
# holds every package of lock.txt at the same version, so auditing it covers both.
audit: $(VENV)/.installed
	$(PY) requirements/audit.py $(DEV_LOCK)

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
	$(PY) requirements/check_lock.py
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
# TRIAL=n replays one trial of the seed; REMOTE=plexxis or REMOTE=procore runs every trial against
# that one (they alternate by default); EMBEDDED=1 runs it on the embedded default (SQLite and
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
chaos: export CHAOS_REMOTE = $(REMOTE)
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
