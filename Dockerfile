# The bot's image: the locked dependencies in a layer of their own, then the package, run as
# an unprivileged user from an empty working directory (the catalogs travel inside the
# package, as with `pip install`). Build: `docker build -t yandexart-bot .`
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 HEALTH_PORT=8081

RUN useradd --system --no-create-home --uid 10001 bot

# Dependencies first, exactly as CI tested them (hashes checked): editing the bot or the
# README does not reinstall them.
COPY requirements/lock.txt /tmp/lock.txt
RUN pip install --require-hashes -r /tmp/lock.txt && rm /tmp/lock.txt

WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY locales ./locales
# --no-deps: every dependency is already in, at its locked version.
RUN pip install --no-deps . && rm -rf /src

WORKDIR /app
USER bot
# /healthz answers 200 when the store and Telegram are reachable (OPS_PORT; else HEALTH_PORT,
# or the webhook port in webhook mode).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["yandexart-bot", "health"]
CMD ["yandexart-bot", "run"]
