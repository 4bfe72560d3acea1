"""`python -m bot check` (the operator's preflight) and `python -m bot health` (the
container's health check), against the fakes and a real Redis."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from bot.core.netcause import where
from bot.emulators.telegram import FakeTelegram
from bot.emulators.yandexart import FakeYandex
from bot.ops.preflight import run_checks
from bot.ops.settings import Settings
from tests.bot_process import API_KEY, BOT_TOKEN, FOLDER, BotProcess, run_command
from tests.redis_server import free_port


async def _command(command: str, env: dict[str, str], cwd: Path) -> tuple[int, list[str]]:
    return await run_command([command], env, cwd)


def _env(telegram: FakeTelegram, yandex: FakeYandex, **overrides: str) -> dict[str, str]:
    return {
        "BOT_TOKEN": BOT_TOKEN,
        "YANDEX_FOLDER_ID": FOLDER,
        "YANDEX_API_KEY": API_KEY,
        "TELEGRAM_API_URL": telegram.url,
        "YANDEX_API_URL": yandex.url,
        # The Yandex hosts these tests have fakes of (tests/test_check_models.py: the rest).
        "MODELS": "yandexart",
        "DEFAULT_MODEL": "yandexart",
        "VOICE_PROMPTS": "false",
        **overrides,
    }


async def test_all_is_well(
    make_settings: Callable[..., Settings],
    redis_url: str,
    telegram: FakeTelegram,
    yandex: FakeYandex,
) -> None:
    lines = await run_checks(make_settings(redis_url=redis_url, voice_prompts=False))
    assert [line.render() for line in lines] == [
        "✓ settings: valid",
        "✓ Telegram: @art_test_bot, inline mode on; inline feedback: see @BotFather "
        "/setinlinefeedback (Bot API does not report it)",
        "✓ YandexART: credentials accepted",
        "✓ YandexGPT: model answers",
        lines[4].render(),
    ]
    assert lines[4].ok
    assert lines[4].detail.startswith(f"{where(redis_url)}, version ")
    assert lines[4].detail.endswith("append-only file on")
    assert len(yandex.probes) == 2
    assert yandex.generations == 0
    assert yandex.completions == []  # tokenize only: nothing billed
    assert [c.method for c in telegram.calls] == ["getMe"]  # nothing changed at Telegram


async def test_every_failure_is_named(
    make_settings: Callable[..., Settings], telegram: FakeTelegram
) -> None:
    telegram.token = "1:other"
    telegram.inline_mode = False
    settings = make_settings(
        yandex_api_key="wrong",
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        voice_prompts=False,
    )
    lines = {line.name: line for line in await run_checks(settings)}
    assert not lines["Telegram"].ok
    assert lines["Telegram"].detail == "BOT_TOKEN refused (401 Unauthorized)"
    assert not lines["YandexART"].ok
    assert lines["YandexART"].detail == "YANDEX_API_KEY refused (401 Unauthenticated)"
    assert not lines["YandexGPT"].ok
    assert not lines["Redis"].ok
    assert lines["Redis"].detail.startswith("REDIS_URL: cannot reach 127.0.0.1")


async def test_unreachable_services_and_inline_mode_off(
    make_settings: Callable[..., Settings], telegram: FakeTelegram
) -> None:
    telegram.inline_mode = False
    lines = {line.name: line for line in await run_checks(make_settings(voice_prompts=False))}
    assert lines["Telegram"].ok
    assert "inline mode off (@BotFather: /setinline)" in lines["Telegram"].detail
    nowhere = f"http://127.0.0.1:{free_port()}"
    lines = {
        line.name: line
        for line in await run_checks(
            make_settings(telegram_api_url=nowhere, yandex_api_url=nowhere, voice_prompts=False)
        )
    }
    refused = f"cannot reach {nowhere[7:]}: connection refused (nothing listens on that port)"
    assert lines["Telegram"].render() == f"✗ Telegram: {refused}"
    assert lines["YandexART"].render() == f"✗ YandexART: {refused}"
    assert lines["Redis"].render() == "✓ Redis: not used (REDIS_URL unset): jobs live in memory"


async def test_webhook_info(make_settings: Callable[..., Settings], telegram: FakeTelegram) -> None:
    hook = {
        "webhook_url": "https://bot.example.org/hook",
        "webhook_secret": "s3cret",
        "webhook_port": free_port(),
        "voice_prompts": False,
    }
    lines = {line.name: line for line in await run_checks(make_settings(**hook))}
    assert lines["webhook"].render() == (
        "✓ webhook: not set yet (the bot sets WEBHOOK_URL when it starts)"
    )
    telegram.webhook = {
        "url": "https://bot.example.org/hook",
        "last_error_date": int(time.time()) - 60,
        "last_error_message": "Connection refused",
    }
    lines = {line.name: line for line in await run_checks(make_settings(**hook))}
    assert lines["webhook"].render() == (
        "✗ webhook: set, 0 updates pending; last delivery failed: Connection refused"
    )


async def test_check_command_exit_codes(
    tmp_path: Path, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    code, lines = await _command("check", _env(telegram, yandex), tmp_path)
    assert code == 0, lines
    assert len(lines) == 5
    assert all(line.startswith("✓ ") for line in lines), lines
    code, lines = await _command(
        "check", _env(telegram, yandex, YANDEX_API_KEY="bad-api-key"), tmp_path
    )
    assert code == 1
    assert "✗ YandexART: YANDEX_API_KEY refused (401 Unauthenticated)" in lines
    code, lines = await _command("check", _env(telegram, yandex, POLL_GROWTH="0.5"), tmp_path)
    assert code == 1
    assert lines == [
        f"✗ settings: 1 setting to fix (read from the environment; no .env file in {tmp_path}):",
        "  POLL_GROWTH: must be at least 1; e.g. POLL_GROWTH=1.5",
    ]
    for secret in (BOT_TOKEN, API_KEY):
        assert all(secret not in line for line in lines)
    code, lines = await _command("chek", _env(telegram, yandex), tmp_path)
    assert code == 2
    assert (
        "invalid choice: 'chek' (choose from 'run', 'check', 'health', 'demo', 'payments')"
        in lines[-1]
    )


async def test_health_command_asks_the_running_bot(
    tmp_path: Path, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    env = _env(telegram, yandex, HEALTH_PORT=str(free_port()))
    bot = BotProcess(env, tmp_path)
    await bot.start()
    try:
        await telegram.wait_for("setMyCommands", timeout=30)
        code, lines = await _command("health", env, tmp_path)
        assert (code, lines) == (0, ['✓ health: {"store": "ok", "telegram": "ok", "jobs": "ok"}'])
    finally:
        assert await bot.stop() == 0
    code, lines = await _command("health", env, tmp_path)
    port = env["HEALTH_PORT"]
    refused = "connection refused (nothing listens on that port)"
    assert (code, lines) == (1, [f"✗ health: no answer from 127.0.0.1:{port}: {refused}"])
    code, lines = await _command("health", _env(telegram, yandex), tmp_path)
    assert (code, lines) == (
        1,
        ["✗ health: OPS_PORT and HEALTH_PORT are unset, the bot serves no /healthz"],
    )
