# The installed package runs from an empty working directory: the image works the way
# `pip install` does, with the catalogs inside the package.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HEALTH_PORT=8081

WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY locales ./locales
RUN pip install . \
    && rm -rf /src \
    && useradd --system --no-create-home --uid 10001 bot

WORKDIR /app
USER bot
# /healthz answers 200 when the store and Telegram are reachable (OPS_PORT; else HEALTH_PORT,
# or the webhook port in webhook mode).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot", "health"]
CMD ["python", "-m", "bot"]
