# Ledger: the two commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYTEST_WORKERS ?= 2

.PHONY: run test install install-dev test-deps check lint test-sqlite test-postgres bench

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Outside debug Ledger refuses to start without a secret key: local runs get one generated once
# under var/ (never committed), unless DJANGO_SECRET_KEY or DJANGO_SECRET_KEY_FILE is already set.
LOCAL_SECRET_KEY := var/secret-key
$(LOCAL_SECRET_KEY): | $(PY)
	mkdir -p var
	umask 077 && $(PY) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@.tmp && mv $@.tmp $@
ifeq ($(DJANGO_SECRET_KEY)$(DJANGO_SECRET_KEY_FILE),)
run check: export DJANGO_SECRET_KEY_FILE = $(CURDIR)/$(LOCAL_SECRET_KEY)
run check: $(LOCAL_SECRET_KEY)
endif

## make run: virtualenv, install, migrate, static files (hashed, compressed), demo data, an admin login, server on 127.0.0.1:8000 (SQLite)
run: install
	mkdir -p var
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py collectstatic --no-input -v 0
	$(PY) manage.py load_demo
	$(PY) manage.py checkpoint_ledgers --no-progress
	$(PY) manage.py verify_ledgers --no-progress
	$(PY) manage.py ensure_admin
	$(PY) manage.py runserver 127.0.0.1:8000

## make test: test dependencies, checks, then the whole suite on SQLite and on a throwaway PostgreSQL
test: install-dev test-deps check lint test-sqlite test-postgres

test-deps:
	scripts/install-test-deps.sh

check:
	mkdir -p var
	$(PY) manage.py check --fail-level WARNING
	DJANGO_SETTINGS_MODULE=ledgerproject.test_settings $(PY) manage.py check --fail-level WARNING
	DJANGO_SETTINGS_MODULE=ledgerproject.test_settings $(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test-sqlite:
	env -u DATABASE_URL $(VENV)/bin/pytest -n $(PYTEST_WORKERS) -q

test-postgres:
	scripts/with-postgres.sh $(VENV)/bin/pytest -n $(PYTEST_WORKERS) -q

## make bench: every target of issue #12 (appends beside MLflow and raw psycopg, reads, export, verification, Merkle;
## met/MISSED) on a throwaway PostgreSQL; MLflow is installed once under ~/.cache/ledger-bench. BENCH_ARGS passes
## options (bench/README.md), e.g. BENCH_ARGS="--skip reads --only-batches"; --full (reads at 10M) wants a server
## that keeps its data (bench/README.md, "Running it at 10M").
bench: install-dev
	scripts/with-postgres.sh $(PY) bench/targets.py $(BENCH_ARGS)
