# The README's two commands: `make demo` runs the product on its embedded default, `make test` passes the tests.
# Both install what they need first, so a fresh clone on a fresh machine works.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
UV     := python3 -m uv
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha1sum | cut -c1-12)

.PHONY: help setup ui system-test-deps demo test lint format lock bench clean

help:
	@echo "make demo   — set up and run avibot on embedded PostgreSQL and Valkey with a local Ray"
	@echo "make test   — set up and run lint and the whole test suite"
	@echo "make lock   — re-resolve requirements.lock after changing pyproject.toml"
	@echo "make bench  — run every benchmark in benchmarks/ (each prints JSON)"

$(STAMP): requirements.lock pyproject.toml
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv
	@test -x $(PY) || $(UV) venv --quiet --python 3.11 $(VENV)
	$(UV) pip sync --quiet --python $(PY) requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

setup: $(STAMP)

# The browser app (React + TypeScript + Vite), built into ui/dist, which the web app serves. Rebuilt only when a
# source changed; `npm ci` installs exactly what package-lock.json records.
UI_SOURCES := $(shell find ui/src ui/public -type f 2>/dev/null) ui/index.html ui/package.json ui/package-lock.json \
	ui/vite.config.ts ui/tsconfig.json

ui/node_modules/.package-lock.json: ui/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js 20+ with npm is needed to build ui/ (apt-get install nodejs npm, or nodesource)"; exit 1; }
	cd ui && npm ci --no-audit --no-fund --loglevel=error

ui/dist/index.html: ui/node_modules/.package-lock.json $(UI_SOURCES)
	cd ui && npm run build --silent

ui: ui/dist/index.html

demo: setup ui
	$(VENV)/bin/avibot up

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Debian packages the tests drive for real: MariaDB stands in for a shop's ocStore database, and the browser
# tests run Debian's chromium (Playwright never downloads a browser here).
system-test-deps:
	@missing=""; \
	{ test -x /usr/sbin/mariadbd || command -v mariadbd; } >/dev/null 2>&1 || missing="$$missing mariadb-server"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages for the tests:$$missing…"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

test: lint system-test-deps ui
	$(PY) -m pytest

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

lock:
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes --quiet -o requirements.lock

bench: setup
	@for script in benchmarks/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
