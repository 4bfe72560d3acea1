"""Logs: secrets redacted as whole tokens only, a secret too short to be one refused at
start, and no access-log line for /healthz and /metrics (they are counted instead)."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.emulators.telegram import FakeTelegram
from bot.emulators.yandexart import FakeYandex
from bot.ops.logs import REDACTED, RedactingFormatter, setup_logging
from bot.ops.settings import StartupError
from tests.bot_process import API_KEY, BOT_TOKEN, FOLDER, BotProcess, bot_env
from tests.redis_server import free_port


def _format(message: str, secrets: dict[str, str]) -> str:
    formatter = RedactingFormatter("%(message)s", secrets)
    return formatter.format(logging.LogRecord("t", logging.INFO, "", 0, message, None, None))


def test_secrets_are_redacted_as_whole_tokens_only() -> None:
    secrets = {"YANDEX_API_KEY": "NetworkError", "BOT_TOKEN": BOT_TOKEN}
    assert _format("TelegramNetworkError: key NetworkError.", secrets) == (
        f"TelegramNetworkError: key {REDACTED}."
    )
    assert _format("Authorization: Api-Key NetworkError", secrets).endswith(f"Api-Key {REDACTED}")
    assert _format("NetworkError_2 NetworkError-x", secrets) == "NetworkError_2 NetworkError-x"
    url = f"POST https://api.telegram.org/bot{BOT_TOKEN}/getMe failed"
    assert _format(url, secrets) == f"POST https://api.telegram.org/bot{REDACTED}/getMe failed"
    assert _format(f"token={BOT_TOKEN}", secrets) == f"token={REDACTED}"


def test_a_secret_too_short_to_be_one_is_refused() -> None:
    with pytest.raises(StartupError) as caught:
        setup_logging("INFO", {"BOT_TOKEN": BOT_TOKEN, "YANDEX_API_KEY": "k"})
    assert str(caught.value) == (
        "YANDEX_API_KEY: too short for a secret (1 characters, at least 8): "
        "is it set to the real value?"
    )


async def test_the_bot_refuses_to_start_with_a_one_character_key(tmp_path: Path) -> None:
    env = {"BOT_TOKEN": BOT_TOKEN, "YANDEX_FOLDER_ID": FOLDER, "YANDEX_API_KEY": "k"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", env=bot_env(env), cwd=tmp_path, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert stderr.decode().splitlines() == [
        "error: YANDEX_API_KEY: too short for a secret (1 characters, at least 8): "
        "is it set to the real value?"
    ]


async def test_probes_are_counted_not_logged(
    tmp_path: Path, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    port = free_port()
    env = {
        "BOT_TOKEN": BOT_TOKEN,
        "YANDEX_FOLDER_ID": FOLDER,
        "YANDEX_API_KEY": API_KEY,
        "TELEGRAM_API_URL": telegram.url,
        "YANDEX_API_URL": yandex.url,
        "HEALTH_PORT": str(port),
        "LOG_LEVEL": "INFO",
    }
    bot = BotProcess(env, tmp_path)
    await bot.start()
    try:
        await telegram.wait_for("setMyCommands", timeout=30)
        base = f"http://127.0.0.1:{port}"
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            for path in ("/healthz", "/healthz", "/nowhere"):
                async with http.get(base + path) as resp:
                    assert resp.status == (404 if path == "/nowhere" else 200)
            async with http.get(f"{base}/metrics") as resp:
                metrics = await resp.text()
    finally:
        assert await bot.stop() == 0
    assert 'bot_ops_requests_total{path="/healthz"} 2.0' in metrics
    assert 'bot_ops_requests_total{path="/metrics"} 1.0' in metrics
    access = [line for line in bot.log.splitlines() if "aiohttp.access" in line]
    assert len(access) == 1, access
    assert '"GET /nowhere HTTP/1.1" 404' in access[0]
