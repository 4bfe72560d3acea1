"""Bot API calls as JSON (bot/telegram/session.py): Telegram receives what aiogram's form
sends, parameter by parameter; a call that uploads a file still goes as a form."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.methods import SendMessage
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
)

from bot.emulators.telegram import FakeTelegram, json_params
from bot.telegram.sent import SentMessage, send_for_id
from bot.telegram.session import JsonSession
from tests.bot_process import BOT_TOKEN

CHAT = 1001
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00fake-jpeg\xff\xd9"
KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[
        [
            InlineKeyboardButton(text="Отмена ✖", callback_data="j:cancel:abc", style="danger"),
            InlineKeyboardButton(text="Again", callback_data="j:again:abc"),
        ]
    ]
)


async def calls_of(
    telegram: FakeTelegram, session: AiohttpSession, send: Callable[[Bot], Awaitable[object]]
) -> list[tuple[str, dict[str, str], set[str]]]:
    """What the fake Bot API received from `send`, made through `session`."""
    before = len(telegram.calls)
    default = DefaultBotProperties(parse_mode=ParseMode.HTML)
    async with Bot(BOT_TOKEN, session=session, default=default) as bot:
        await send(bot)
    return [(c.method, c.params, set(c.files)) for c in telegram.calls[before:]]


async def test_json_calls_carry_what_the_form_carries(telegram: FakeTelegram) -> None:
    sent: list[int] = []

    async def send(bot: Bot) -> None:
        message = await bot.send_message(
            CHAT,
            "<b>Привет</b> &amp; a long text " * 50,
            reply_markup=KEYBOARD,
            reply_parameters=ReplyParameters(message_id=7, allow_sending_without_reply=True),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            disable_notification=False,
        )
        sent.append(message.message_id)
        await bot.edit_message_text("edited", chat_id=CHAT, message_id=message.message_id)
        await bot.send_chat_action(CHAT, "upload_photo")
        await bot.set_my_commands([BotCommand(command="art", description="Draw «это»")])

    api = TelegramAPIServer.from_base(telegram.url)
    form = await calls_of(telegram, AiohttpSession(api=api), send)
    as_json = await calls_of(telegram, JsonSession(api=api), send)
    assert [c[0] for c in as_json] == [
        "sendMessage",
        "editMessageText",
        "sendChatAction",
        "setMyCommands",
    ]
    for calls, message_id in zip((form, as_json), sent, strict=True):
        assert calls[1][1].pop("message_id") == str(message_id)  # each edits what it sent
    assert as_json == form
    assert as_json[0][1]["parse_mode"] == "HTML"  # the bot's default, filled in
    assert as_json[0][1]["disable_notification"] == "false"  # a False is sent, as in a form


async def test_an_upload_still_goes_as_a_form(telegram: FakeTelegram) -> None:
    async def send(bot: Bot) -> None:
        await bot.send_photo(CHAT, BufferedInputFile(JPEG, "picture.jpg"), caption="a fox")

    api = TelegramAPIServer.from_base(telegram.url)
    ((method, params, files),) = await calls_of(telegram, JsonSession(api=api), send)
    assert method == "sendPhoto"
    assert params["caption"] == "a fox"
    assert len(files) == 1  # the picture, as a file of the form


def test_the_fake_reads_a_json_body_as_a_form_would_carry_it() -> None:
    body = {"chat_id": 5, "text": "hi", "flag": True, "markup": {"a": [1, "é"]}}
    assert json_params(body) == {
        "chat_id": "5",
        "text": "hi",
        "flag": "true",
        "markup": '{"a": [1, "\\u00e9"]}',
    }


async def test_a_message_sent_for_its_id_carries_what_the_full_one_carries(
    telegram: FakeTelegram,
) -> None:
    """The /art status (bot/telegram/sent.py): the same call as aiogram's, only its answer
    is read for the new message's id."""
    sent: list[object] = []

    def reply(bot: Bot) -> SendMessage:
        return SendMessage(
            chat_id=CHAT,
            text="<i>Generating…</i>",
            reply_markup=KEYBOARD,
            reply_parameters=ReplyParameters(message_id=7, allow_sending_without_reply=True),
        ).as_(bot)

    async def send_full(bot: Bot) -> None:
        sent.append(await reply(bot))

    async def send_narrow(bot: Bot) -> None:
        sent.append(await send_for_id(reply(bot)))

    api = TelegramAPIServer.from_base(telegram.url)
    calls = [await calls_of(telegram, JsonSession(api=api), s) for s in (send_full, send_narrow)]
    full, narrow = sent
    assert isinstance(full, Message)
    assert isinstance(narrow, SentMessage)
    assert narrow.message_id != full.message_id
    assert (CHAT, narrow.message_id) in telegram.messages  # the id Telegram gave it
    assert calls[0] == calls[1]
    assert calls[1][0][1]["parse_mode"] == "HTML"  # the bot's default, filled in as aiogram does
