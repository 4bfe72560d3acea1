"""Issue 21 item 2: "sending a photo…" follows the jobs, not the instance that saw them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bot.emulators.telegram import FakeTelegram
from bot.emulators.yandexart import FakeYandex
from bot.ops.app import connect_redis, create_bot, create_dispatcher
from bot.ops.settings import Settings
from tests.conftest import RunningBot

INTERVAL = 0.1


async def test_an_instance_stops_its_chat_actions_when_another_one_delivers(
    start_bot: Any,
    make_settings: Callable[..., Settings],
    telegram: FakeTelegram,
    yandex: FakeYandex,
    redis_url: str,
) -> None:
    # Instance A takes the requests (and shows the chat actions) but draws nothing: its job
    # loop is stopped. Instance B, on the same Redis, draws and delivers every picture.
    first: RunningBot = await start_bot(redis_url=redis_url, chat_action_interval=INTERVAL)
    await first.dispatcher["tracker"].stop()
    settings = make_settings(redis_url=redis_url, chat_action_interval=INTERVAL)
    second_bot = create_bot(settings)
    second = create_dispatcher(settings, second_bot, redis=await connect_redis(redis_url))
    await second.emit_startup(bot=second_bot)
    try:
        yandex.hold = True
        for n in range(3):
            telegram.push_message(f"/art fox {n}", chat_id=7001 + n, user_id=7001 + n)
        await telegram.wait_for("sendChatAction", 6)  # both instances show them
        yandex.hold = False
        await telegram.wait_for("sendPhoto", 3, ok=True)
        async with asyncio.timeout(10):
            while await second["store"].active_count():
                await asyncio.sleep(0.02)
        await asyncio.sleep(2 * INTERVAL)  # a round in flight may still end
        shown = len(telegram.sent("sendChatAction"))
        await asyncio.sleep(5 * INTERVAL)
        assert len(telegram.sent("sendChatAction")) == shown  # no action after the pictures
    finally:
        await second.emit_shutdown()
        await second_bot.session.close()
