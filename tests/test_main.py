"""`python -m bot` as an operator runs it: settings errors, and a real run against the fakes."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from bot.emulators.telegram import FakeTelegram
from bot.emulators.yandexart import FakeYandex
from tests.bot_process import API_KEY, BOT_TOKEN, FOLDER, ROOT, bot_env

GOOD_ENV = {
    "BOT_TOKEN": BOT_TOKEN,
    "YANDEX_FOLDER_ID": FOLDER,
    "YANDEX_API_KEY": API_KEY,
    # YandexART alone, at the URI the fake knows (the defaults also offer the Images API).
    "MODELS": "yandexart",
    "DEFAULT_MODEL": "yandexart",
}


async def _run_bot(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        env=bot_env(env),
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({k: v for k, v in GOOD_ENV.items() if k != "BOT_TOKEN"}, "BOT_TOKEN: missing; e.g. "),
        ({**GOOD_ENV, "BOT_TOKEN": "not-a-token-SECRET1"}, "BOT_TOKEN: must look like"),
        ({k: v for k, v in GOOD_ENV.items() if k != "YANDEX_FOLDER_ID"}, "YANDEX_FOLDER_ID"),
        (
            {k: v for k, v in GOOD_ENV.items() if k != "YANDEX_API_KEY"},
            "set YANDEX_API_KEY, YANDEX_SA_KEY_FILE or YANDEX_IAM_TOKEN",
        ),
        ({**GOOD_ENV, "TELEGRAM_API_URL": "not a url SECRET2"}, "TELEGRAM_API_URL"),
        ({**GOOD_ENV, "POLL_FIRST_DELAY": "-1"}, "POLL_FIRST_DELAY"),
        ({**GOOD_ENV, "LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ],
)
async def test_bad_settings_stop_start_up_with_one_clear_line(
    tmp_path: Path, env: dict[str, str], named: str
) -> None:
    process = await _run_bot(env, tmp_path)
    _stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    lines = stderr.decode().strip().splitlines()
    assert process.returncode == 2
    assert (
        lines[0]
        == f"error: 1 setting to fix (read from the environment; no .env file in {tmp_path}):"
    )
    assert len(lines) == 2, lines
    assert named in lines[1]
    for secret in (BOT_TOKEN, API_KEY, "SECRET1", "SECRET2"):
        assert secret not in lines[1]


async def test_settings_come_from_a_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BOT_TOKEN=nonsense\nYANDEX_FOLDER_ID=f\nYANDEX_API_KEY=k\n")
    process = await _run_bot({}, tmp_path)
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert "BOT_TOKEN: must look like" in stderr.decode()


@pytest.mark.long
async def test_run_command_serves_art_and_stops_cleanly_on_sigterm(
    tmp_path: Path, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    env = {
        **GOOD_ENV,
        "TELEGRAM_API_URL": telegram.url,
        "YANDEX_API_URL": yandex.url,
        "POLL_FIRST_DELAY": "0.05",
        "LOG_LEVEL": "DEBUG",
    }
    process = await _run_bot(env, tmp_path)
    try:
        await telegram.wait_for("setMyCommands", 2, timeout=30)
        telegram.push_message("/art a fox on a bike --seed 9")
        photo = (await telegram.wait_for("sendPhoto", timeout=30))[0]
        assert photo.params["caption"].startswith("a fox on a bike")
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert "Traceback" not in log
    assert "bot stopped" in log
    assert BOT_TOKEN not in log
    assert API_KEY not in log
    assert "a fox on a bike" not in log  # prompts stay out of the logs


async def test_a_bot_without_redis_does_not_import_the_redis_client() -> None:
    """The Redis client costs ~6 MB of RSS: only REDIS_URL should bring it in."""
    code = "import sys, bot.__main__; print(sorted(m for m in sys.modules if 'redis' in m))"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, env=bot_env({}), cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert out.decode().strip() == "[]"
