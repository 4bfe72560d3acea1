"""A bare aiogram bot that replies to every message with its text: the baseline of
bench.throughput (what aiogram alone costs per update). Reads TELEGRAM_API_URL and BOT_TOKEN,
TUNE_GC=1 to apply the bot's garbage collector settings, PIN_TYPES=1 to keep aiogram's
answer types alive across collections and DISABLE_FSM=1 to run without FSM storage, as the
bot does; SIGTERM stops it.

SUBMIT=1 makes it the floor of any `/art`: before it replies it also submits one generation
per message to YandexART (YANDEX_API_URL, YANDEX_API_KEY, YANDEX_FOLDER_ID), with the body,
headers and idempotency key the bot sends, over one aiohttp session, and reads the answer.

    python -m bench.echo_bot
"""

from __future__ import annotations

import asyncio
import os
import uuid

import aiohttp
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message

from bot.core.prompt import ArtRequest, PromptPart
from bot.ops.gc_tuning import tune_gc
from bot.ops.settings import Settings
from bot.telegram.response_types import PinResponseTypes
from bot.yandex.art import IDEMPOTENCY_HEADER, SUBMIT_PATH, build_request_body

# The bot's defaults: its YandexART model and its timeout of a Yandex call.
MODEL_URI: str = Settings.model_fields["art_model_uri"].default
TIMEOUT: float = Settings.model_fields["http_timeout"].default


async def echo(message: Message) -> None:
    await message.reply(message.text or "")


class Submitter:
    """One generation per message, as the bot's YandexART client posts it."""

    def __init__(self) -> None:
        folder = os.environ["YANDEX_FOLDER_ID"]
        self.url = os.environ["YANDEX_API_URL"].rstrip("/") + SUBMIT_PATH
        self.model_uri = MODEL_URI.format(folder=folder)
        self.auth = f"Api-Key {os.environ['YANDEX_API_KEY']}"
        self.session = aiohttp.ClientSession(
            headers={"x-folder-id": folder}, timeout=aiohttp.ClientTimeout(total=TIMEOUT)
        )

    async def echo(self, message: Message) -> None:
        text = message.text or ""
        request = ArtRequest(parts=(PromptPart(text),))
        body = build_request_body(self.model_uri, request, message.message_id)
        headers = {IDEMPOTENCY_HEADER: str(uuid.uuid4()), "Authorization": self.auth}
        async with self.session.post(self.url, json=body, headers=headers) as resp:
            payload = await resp.json()
            if resp.status >= 400 or not payload.get("id"):
                raise RuntimeError(f"submit refused: HTTP {resp.status}")
        await message.reply(text)


async def main() -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["TELEGRAM_API_URL"]))
    if os.environ.get("PIN_TYPES") == "1":
        session.middleware(PinResponseTypes())
    bot = Bot(os.environ["BOT_TOKEN"], session=session)
    dispatcher = Dispatcher(disable_fsm=os.environ.get("DISABLE_FSM") == "1")
    submitter = Submitter() if os.environ.get("SUBMIT") == "1" else None
    dispatcher.message.register(echo if submitter is None else submitter.echo)
    if os.environ.get("TUNE_GC") == "1":
        tune_gc()
    try:
        await dispatcher.start_polling(bot)
    finally:
        if submitter is not None:
            await submitter.session.close()


if __name__ == "__main__":
    asyncio.run(main())
