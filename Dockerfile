FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY locales ./locales
RUN pip install . \
    && pybabel compile -d locales -D messages \
    && useradd --system --no-create-home --uid 10001 bot

USER bot
CMD ["python", "-m", "bot"]
