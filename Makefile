# Two commands on a fresh machine: `make run` starts the bot, `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run check demo screenshots test lint unit redis-server chromium clean

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.base
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# The gettext catalogs (locales/*/LC_MESSAGES/messages.po) are compiled in memory at start-up:
# no build step, nothing to go stale.
run: $(VENV)/.base
	$(PY) -m bot

# Preflight: settings, Telegram, Yandex, Redis, one line each; exit 0 when all is well.
check: $(VENV)/.base
	$(PY) -m bot check

# Try it with no keys: the bot against local emulators, and a chat page in the browser.
demo: $(VENV)/.base
	$(PY) -m bot demo

# The README's pictures of the demo (docs/img/demo-*.png), rendered by headless Chromium.
screenshots: $(VENV)/.dev chromium
	$(PY) scripts/demo_screenshots.py

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# The Redis tests start their own redis-server process; make sure the binary is there.
redis-server:
	./scripts/ensure-redis-server

# The demo's browser test drives headless Chromium; it skips (and says why) without it.
chromium:
	./scripts/ensure-chromium

# Most tests wait on sockets, not the CPU: four workers keep two cores busy.
TEST_WORKERS ?= 4

unit: $(VENV)/.dev redis-server chromium
	$(VENV)/bin/pytest -q -n $(TEST_WORKERS)

test: lint unit

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis build dist *.egg-info
