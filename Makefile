# Two commands on a fresh machine: `make run` starts the bot, `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run check demo screenshots test lint unit redis-server chromium clean lock docs image

# The exact versions CI tests with: requirements/lock.txt (the bot) and dev-lock.txt (the bot
# and its tests), made by pip-compile from pyproject.toml's ranges (`make lock`).
LOCK := requirements/lock.txt
DEV_LOCK := requirements/dev-lock.txt

$(VENV)/.venv:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	touch $@

# `make run` stays on the ranges: a newer compatible release is fine on a developer's machine.
$(VENV)/.base: pyproject.toml $(VENV)/.venv
	$(PY) -m pip install --quiet -e .
	touch $@

# Tests, lint and CI install exactly the locked versions, checked against their hashes.
$(VENV)/.dev: pyproject.toml $(DEV_LOCK) $(VENV)/.venv
	$(PY) -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@ $(VENV)/.base

# After changing a dependency in pyproject.toml: re-pin (kept pins stay unless out of range;
# `make lock LOCK_FLAGS=--upgrade` moves everything to the newest releases within the ranges).
LOCK_FLAGS ?=
lock: $(VENV)/.venv
	$(PY) -m pip install --quiet pip-tools
	$(VENV)/bin/pip-compile --quiet --strip-extras --allow-unsafe --generate-hashes \
		--no-emit-index-url --no-emit-find-links $(LOCK_FLAGS) -o $(LOCK) pyproject.toml
	$(VENV)/bin/pip-compile --quiet --strip-extras --allow-unsafe --generate-hashes \
		--no-emit-index-url --no-emit-find-links $(LOCK_FLAGS) --extra dev -c $(LOCK) \
		-o $(DEV_LOCK) pyproject.toml

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

# docs/settings.md is made from the settings class (tests/test_docs.py checks it is current).
docs: $(VENV)/.base
	$(PY) -m scripts.settings_doc > docs/settings.md

# The container image, when a builder is at hand (CI runs this; it says so when there is none).
image:
	./scripts/build-image

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis build dist *.egg-info
