"""Start-up as an operator meets it: a refused token or Yandex key stops the bot with one
line and exit code 2; Telegram out of reach is waited for (and SIGTERM still stops it)."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.netcause import where
from bot.emulators.telegram import BOT_USERNAME, FakeTelegram
from bot.emulators.yandexart import FakeYandex
from bot.ops.app import create_bot
from bot.ops.settings import Settings, StartupError
from bot.ops.startup import BACKOFF_CAP, backoff_delay, check_yandex, wait_for_telegram
from tests.bot_process import API_KEY, BOT_TOKEN, FOLDER, BotProcess
from tests.redis_server import free_port


def _env(telegram_url: str, yandex_url: str, **overrides: str) -> dict[str, str]:
    return {
        "BOT_TOKEN": BOT_TOKEN,
        "YANDEX_FOLDER_ID": FOLDER,
        "YANDEX_API_KEY": API_KEY,
        "TELEGRAM_API_URL": telegram_url,
        "YANDEX_API_URL": yandex_url,
        **overrides,
    }


async def _wait_for_log(process: BotProcess, text: str, timeout: float = 30) -> None:
    async def wait() -> None:
        while text not in process.log:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(wait(), timeout)


async def test_a_refused_bot_token_stops_start_up_with_one_line(
    tmp_path: Path, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    wrong = "999999:WRONG-token_value"
    process = BotProcess(_env(telegram.url, yandex.url, BOT_TOKEN=wrong), tmp_path)
    await process.start()
    assert await process.wait() == 2
    assert process.log.splitlines() == [
        "error: BOT_TOKEN: Telegram refused the token (401 Unauthorized)"
    ]
    assert telegram.refused_tokens == 1


@pytest.mark.parametrize(
    ("credential", "named"),
    [
        ({"YANDEX_API_KEY": "wrong-key"}, "YANDEX_API_KEY"),
        ({"YANDEX_API_KEY": "", "YANDEX_IAM_TOKEN": "t1.expired"}, "YANDEX_IAM_TOKEN"),
    ],
)
async def test_refused_yandex_credentials_stop_start_up_with_one_line(
    tmp_path: Path,
    telegram: FakeTelegram,
    yandex: FakeYandex,
    credential: dict[str, str],
    named: str,
) -> None:
    process = BotProcess(_env(telegram.url, yandex.url, **credential), tmp_path)
    await process.start()
    assert await process.wait() == 2
    lines = process.log.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {named}: Yandex refused the credentials (401")
    assert "wrong-key" not in lines[0]
    assert "t1.expired" not in lines[0]
    assert len(yandex.probes) == 1
    assert yandex.generations == 0
    assert telegram.sent("setMyCommands") == []  # nothing served


async def test_telegram_out_of_reach_is_waited_for_and_the_bot_comes_up(
    tmp_path: Path, yandex: FakeYandex
) -> None:
    """Nothing listens on the Bot API's port at first: the bot retries, one line per
    attempt, and serves as soon as Telegram answers."""
    port = free_port()
    process = BotProcess(_env(f"http://127.0.0.1:{port}", yandex.url), tmp_path)
    telegram = FakeTelegram()
    await process.start()
    try:
        await _wait_for_log(process, "attempt 2;")
        await telegram.start(port)
        await telegram.wait_for("setMyCommands", timeout=30)
        telegram.push_message("/start")
        await telegram.wait_for("sendMessage", timeout=30)
    finally:
        code = await process.stop()
        await telegram.stop()
    log = process.log
    assert code == 0, log
    assert "Traceback" not in log
    waits = [line for line in log.splitlines() if "Telegram unreachable" in line]
    assert len(waits) >= 2
    for attempt, line in enumerate(waits, start=1):
        assert f", attempt {attempt}; cannot reach 127.0.0.1:" in line
        assert ": connection refused (nothing listens on that port); next try" in line
    assert BOT_TOKEN not in log


async def test_sigterm_stops_a_bot_still_waiting_for_telegram(
    tmp_path: Path, yandex: FakeYandex
) -> None:
    process = BotProcess(_env(f"http://127.0.0.1:{free_port()}", yandex.url), tmp_path)
    await process.start()
    await _wait_for_log(process, "attempt 1;")
    assert await process.stop() == 0
    assert "stopped before Telegram answered" in process.log
    assert "Traceback" not in process.log
    assert yandex.probes == []  # Yandex is asked only once Telegram has answered


async def test_telegram_errors_worth_waiting_for_are_retried(
    telegram: FakeTelegram, make_settings: Callable[..., Settings]
) -> None:
    telegram.fail("getMe", 502, "Bad Gateway")
    telegram.fail("getMe", 500, "Internal Server Error")
    telegram.fail("getMe", 429, "Too Many Requests: retry after 1", retry_after=1)
    bot = create_bot(make_settings())
    try:
        me = await wait_for_telegram(bot, asyncio.Event(), random.Random(1))
    finally:
        await bot.session.close()
    assert me is not None
    assert me.username == BOT_USERNAME
    assert telegram.faults["getMe"] == []  # every fault was served
    assert len(telegram.sent("getMe")) == 4


def test_backoff_grows_with_jitter_up_to_a_cap() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(attempt, rng) for attempt in range(1, 20)]
    assert 0.25 <= delays[0] <= 0.5
    assert 0.5 <= delays[1] <= 1.0
    assert all(BACKOFF_CAP / 2 <= d <= BACKOFF_CAP for d in delays[10:])
    assert len(set(delays[10:])) > 1  # jittered, not one fixed wait


async def test_yandex_out_of_reach_at_start_is_a_warning(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(yandex_api_url=f"http://127.0.0.1:{free_port()}")
    with caplog.at_level(logging.WARNING):
        await check_yandex(settings)
    assert (
        f"Yandex unreachable at start (cannot reach {where(str(settings.yandex_api_url))}: "
        "connection refused (nothing listens on that port)); starting anyway"
    ) in caplog.text


async def test_accepted_yandex_credentials_pass_with_one_probe(
    make_settings: Callable[..., Settings], yandex: FakeYandex
) -> None:
    await check_yandex(make_settings())
    assert len(yandex.probes) == 1
    assert yandex.polls == 0
    assert yandex.poll_times == []  # a probe is not a poll
    with pytest.raises(StartupError, match="YANDEX_API_KEY: Yandex refused"):
        await check_yandex(make_settings(yandex_api_key="wrong"))


@pytest.mark.parametrize(
    ("setting", "webhook"),
    [("WEBHOOK_PORT", True), ("OPS_PORT", True), ("HEALTH_PORT", False)],
)
async def test_a_port_in_use_stops_start_up_with_one_line_before_telegram_is_told(
    tmp_path: Path, telegram: FakeTelegram, yandex: FakeYandex, setting: str, webhook: bool
) -> None:
    """Issue 21 item 7: no traceback, exit 2, and no setWebhook (nor anything else) sent."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    ports = {"WEBHOOK_PORT": str(free_port()), setting: str(port)}
    if webhook:
        ports |= {"WEBHOOK_URL": "https://bot.example/hook", "WEBHOOK_SECRET": "s3cret-value-1"}
    env = _env(telegram.url, yandex.url, WEBHOOK_HOST="127.0.0.1", **ports)
    process = BotProcess(env, tmp_path)
    try:
        await process.start()
        assert await process.wait() == 2
    finally:
        taken.close()
    assert process.log.splitlines() == [f"error: {setting}: port {port} is already in use"]
    told = [c.method for c in telegram.calls if c.method != "getMe"]
    assert told == []
