# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-sqlite test-postgresql postgresql faketime lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy aqb_workflow/domain aqb_workflow/store

# The whole suite runs twice: on SQLite, and on a throw-away PostgreSQL 15 cluster that the
# tests start (initdb + pg_ctl as the unprivileged postgres account) and remove.
test: $(STAMP) lint test-sqlite test-postgresql

test-sqlite: $(STAMP) faketime
	$(BIN)/pytest

test-postgresql: $(STAMP) postgresql faketime
	$(BIN)/pytest --db postgresql

# Debian's PostgreSQL server, when it is missing (CI runs as root).
postgresql:
	@if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing PostgreSQL (Debian package postgresql-15)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 \
		|| DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	fi
	@id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql --shell /bin/sh postgres

# libfaketime (Debian package faketime), when it is missing: the year-in-the-life test moves the
# clock of each aqb process it starts with it (tests/year_helpers.py).
faketime:
	@if ! ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1 && ! test -e /usr/lib/faketime/libfaketime.so.1; then \
		echo "installing libfaketime (Debian package faketime)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime; \
	fi

bench: $(STAMP)
	$(BIN)/python bench/run.py $(if $(QUICK),--quick,)

clean:
	rm -rf demo .pytest_cache .ruff_cache .mypy_cache
