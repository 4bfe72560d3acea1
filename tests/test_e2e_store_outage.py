"""A store outage never silences a command or a button (issue 21 item 3): each answers,
within Telegram's callback window, that storage is unavailable. A real redis-server,
stopped while the bot runs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.emulators.telegram import Call, FakeTelegram
from bot.emulators.yandexart import FakeYandex
from tests.conftest import RunningBot
from tests.redis_server import RedisServer

USER = 7001
UNAVAILABLE = "Storage is unavailable right now. Please try again in a minute."


def buttons(call: Call) -> dict[str, str]:
    keyboard = call.json("reply_markup")["inline_keyboard"]
    return {b["text"]: b["callback_data"] for row in keyboard for b in row}


async def test_every_command_and_press_answers_while_the_store_is_down(
    start_bot: Callable[..., Awaitable[RunningBot]],
    telegram: FakeTelegram,
    yandex: FakeYandex,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    try:
        await start_bot(redis_url=redis.url)
        telegram.push_message("/art a fox --seed 4")
        photo = (await telegram.wait_for("sendPhoto", ok=True))[0]
        telegram.push_message("/history")
        listing = (await telegram.wait_for("sendMessage", 2, ok=True))[-1]
        telegram.push_message("/forget")
        confirm = (await telegram.wait_for("sendMessage", 3, ok=True))[-1]
        yandex.hold = True
        telegram.push_message("/art an owl")
        status = (await telegram.wait_for("sendMessage", 4, ok=True))[-1]
        redis.stop()

        with caplog.at_level(logging.WARNING):
            for command in ("/history", "/forget", "/settings"):
                telegram.push_message(command)
            presses = [
                (buttons(listing)["🔁 1"], listing),
                (buttons(photo)["🔁 Again"], photo),
                (buttons(photo)["📄 Original"], photo),
                (buttons(confirm)["🗑 Yes, delete it all"], confirm),
                (buttons(status)["✖️ Cancel"], status),
            ]
            for data, under in presses:
                telegram.push_callback(data, message=under.result, user_id=USER)
            told = (await telegram.wait_for("sendMessage", 4 + 3, ok=True))[4:]
            menu = next(m for m in told if m.params["text"].startswith("⚙️"))
            presses.append((buttons(menu)["Anime"], menu))
            telegram.push_callback(buttons(menu)["Anime"], message=menu.result, user_id=USER)
            answered = await telegram.wait_for("answerCallbackQuery", len(presses), ok=True)
    finally:
        redis.stop()
    assert [a.params.get("text") for a in answered] == [UNAVAILABLE] * len(presses)
    texts = {m.params["text"].split("\n")[0][:20]: m for m in told}
    # /history fails; /forget only asks (its press fails); /settings shows the defaults.
    assert sorted(texts) == ["Delete everything I ", UNAVAILABLE[:20], "⚙️ <b>Settings</b>"]
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
