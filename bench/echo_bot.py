"""A bare aiogram bot that replies to every message with its text: the baseline of
bench.throughput (what aiogram alone costs per update). Reads TELEGRAM_API_URL and BOT_TOKEN,
TUNE_GC=1 to apply the bot's garbage collector settings and DISABLE_FSM=1 to run without
FSM storage as the bot does; SIGTERM stops it.

    python -m bench.echo_bot
"""

from __future__ import annotations

import asyncio
import os

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message

from bot.ops.gc_tuning import tune_gc


async def echo(message: Message) -> None:
    await message.reply(message.text or "")


async def main() -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["TELEGRAM_API_URL"]))
    bot = Bot(os.environ["BOT_TOKEN"], session=session)
    dispatcher = Dispatcher(disable_fsm=os.environ.get("DISABLE_FSM") == "1")
    dispatcher.message.register(echo)
    if os.environ.get("TUNE_GC") == "1":
        tune_gc()
    await dispatcher.start_polling(bot)


if __name__ == "__main__":
    asyncio.run(main())
