# The README's two commands: `make demo` runs the product on its embedded default, `make test` passes the tests.
# Both install what they need first, so a fresh clone on a fresh machine works.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
UV     := python3 -m uv
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha1sum | cut -c1-12)

.PHONY: help setup system-test-deps demo test lint format lock bench clean

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

demo: setup
	$(VENV)/bin/avibot up

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Debian packages the tests drive as real servers: MariaDB stands in for a shop's ocStore database.
system-test-deps:
	@{ test -x /usr/sbin/mariadbd || command -v mariadbd; } >/dev/null 2>&1 || { \
		echo "Installing Debian packages for the tests (mariadb-server)…"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mariadb-server >/dev/null; }

test: lint system-test-deps
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
