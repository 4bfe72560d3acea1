# Two commands on a fresh machine: `make run` starts the bot, `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
MO := locales/en/LC_MESSAGES/messages.mo locales/ru/LC_MESSAGES/messages.mo

.PHONY: run test lint unit locales redis-server clean

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.base
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# gettext catalogs must be compiled: the bot reads the .mo files.
locales/%/LC_MESSAGES/messages.mo: locales/%/LC_MESSAGES/messages.po $(VENV)/.base
	$(VENV)/bin/pybabel compile --use-fuzzy -d locales -D messages -l $*

locales: $(MO)

run: $(VENV)/.base locales
	$(PY) -m bot

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# The Redis tests start their own redis-server process; make sure the binary is there.
redis-server:
	./scripts/ensure-redis-server

unit: $(VENV)/.dev locales redis-server
	$(VENV)/bin/pytest -q

test: lint unit

clean:
	rm -rf $(VENV) $(MO) .mypy_cache .pytest_cache .ruff_cache .hypothesis
