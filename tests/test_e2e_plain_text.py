"""Plain text is a prompt in private chats (PRIVATE_TEXT_PROMPTS), never in groups."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bot.emulators.telegram import FakeTelegram
from bot.emulators.yandexart import FakeYandex
from tests.conftest import RunningBot

CHAT = 7001
GROUP = -100777


async def settle() -> None:
    """Give a wrong reaction the time to show up before asserting there was none."""
    await asyncio.sleep(0.5)


async def test_private_text_is_read_like_art_arguments(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    request_id = telegram.push_message("a red fox in the snow --seed 5 --ratio 2:1")
    status = (await telegram.wait_for("sendMessage"))[0]
    assert status.params["text"] == "🎨 Generating… seed 5, 2:1"
    photo = (await telegram.wait_for("sendPhoto"))[0]
    assert photo.json("reply_parameters")["message_id"] == request_id
    body = yandex.submits[0][1]
    assert body["messages"] == [{"weight": 1.0, "text": "a red fox in the snow"}]
    assert body["generationOptions"]["seed"] == "5"


async def test_private_text_mistakes_are_answered_like_arts(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_message("a fox --seed abc")
    reply = (await telegram.wait_for("sendMessage"))[0]
    assert "Seed <code>abc</code> is not valid" in reply.params["text"]
    assert yandex.submits == []


async def test_group_text_and_unknown_commands_start_nothing(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_message("a fox in a group", chat_id=GROUP, user_id=CHAT)
    telegram.push_message("/draw a fox")
    inline_post = telegram.new_update("🎨 Generating… seed 1, 1:1")
    inline_post["message"]["via_bot"] = {"id": 1, "is_bot": True, "first_name": "Art"}
    telegram.push(inline_post)
    telegram.push_message("/art an owl", chat_id=GROUP, user_id=CHAT)
    await telegram.wait_for("sendPhoto", chat_id=GROUP)
    await settle()
    assert [body["messages"][0]["text"] for _, body in yandex.submits] == ["an owl"]
    assert telegram.sent("sendMessage", chat_id=CHAT) == []


async def test_switched_off_private_text_is_ignored_and_not_advertised(
    start_bot: Callable[..., Any], telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    await start_bot(private_text_prompts=False)
    telegram.push_message("a fox")
    telegram.push_message("/start")
    start = (await telegram.wait_for("sendMessage"))[0]
    await settle()
    assert "without /art" not in start.params["text"]
    assert len(telegram.sent("sendMessage")) == 1
    assert yandex.submits == []


async def test_start_and_help_say_so_in_both_languages(
    running: RunningBot, telegram: FakeTelegram
) -> None:
    for command, language, fragment in [
        ("/start", "en", "just type what to draw, without /art"),
        ("/start", "ru", "просто написать, что нарисовать, без /art"),
        ("/help", "en", "any text that is not a command is a prompt"),
        ("/help", "ru", "любой текст, кроме команд, — это запрос"),
    ]:
        telegram.push_message(command, language_code=language)
        texts = [c.params["text"] for c in await telegram.wait_for("sendMessage")]
        assert fragment in texts[-1], (command, language)
        telegram.calls.clear()
