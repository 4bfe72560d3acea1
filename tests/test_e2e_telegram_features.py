"""Telegram's newest tools, end to end on the strict fake Bot API: notices for one user in
groups (ephemeral messages, with a reply deleted later where Telegram refuses them)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.emulators.telegram import FakeTelegram
from bot.emulators.yandexart import FakeYandex

GROUP = -100777
USER = 7001
OTHER = 7002
LIMIT_TEXT = "daily limit"


async def settle() -> None:
    """Give a wrong reaction the time to show up before asserting there was none."""
    await asyncio.sleep(0.5)


def public_texts(telegram: FakeTelegram, chat_id: int) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in telegram.seen_by_all(chat_id)]


def ephemeral_to(telegram: FakeTelegram, user_id: int) -> list[str]:
    return [m["text"] for m in telegram.ephemeral.values() if m["receiver_user"]["id"] == user_id]


async def wait_until(condition: Any, timeout: float = 5.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


async def test_a_quota_refusal_in_a_group_reaches_only_the_requester(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    await start_bot(daily_quota_per_user=1)
    telegram.push_message("/art a fox --seed 4", chat_id=GROUP, user_id=USER)
    await telegram.wait_for("sendPhoto", ok=True)
    telegram.push_message("/art a cat", chat_id=GROUP, user_id=USER)
    await wait_until(lambda: ephemeral_to(telegram, USER))
    await settle()
    assert LIMIT_TEXT in ephemeral_to(telegram, USER)[0]
    assert not any(LIMIT_TEXT in t for t in public_texts(telegram, GROUP))
    assert len(telegram.sent("sendPhoto", ok=True)) == 1  # the picture itself stays public
    assert yandex.generations == 1


async def test_where_ephemeral_messages_are_refused_the_reply_is_deleted_after_notice_ttl(
    start_bot: Any, telegram: FakeTelegram
) -> None:
    telegram.ephemeral_enabled = False
    await start_bot(notice_ttl=0.3)
    telegram.push_message("/art --seed x a fox", chat_id=GROUP, user_id=USER)
    refused = await telegram.wait_for("sendMessage")
    assert "ephemeral_message_parameters" in refused[0].params
    assert refused[0].result is None  # the fake refused it
    reply = (await telegram.wait_for("sendMessage", 2))[1]
    assert reply.result is not None
    assert "ephemeral_message_parameters" not in reply.params
    assert reply.json("reply_parameters")["message_id"] > 0
    deleted = await telegram.wait_for("deleteMessage", ok=True)
    assert deleted[0].params["message_id"] == str(reply.result["message_id"])
    assert public_texts(telegram, GROUP) == []


async def test_help_in_a_group_is_ephemeral_and_in_a_private_chat_a_message(
    running: Any, telegram: FakeTelegram
) -> None:
    telegram.push_message("/help", chat_id=GROUP, user_id=OTHER)
    await wait_until(lambda: ephemeral_to(telegram, OTHER))
    assert "/art" in ephemeral_to(telegram, OTHER)[0]
    assert public_texts(telegram, GROUP) == []
    telegram.push_message("/help", chat_id=USER)
    await wait_until(lambda: public_texts(telegram, USER))
    assert len(telegram.ephemeral) == 1  # the private chat got a plain message


async def test_an_anonymous_admin_has_no_user_to_receive_it_so_gets_a_reply_deleted_later(
    start_bot: Any, telegram: FakeTelegram
) -> None:
    await start_bot(notice_ttl=0.2)
    telegram.push_message("/help", chat_id=GROUP, sender_chat=GROUP)
    await telegram.wait_for("deleteMessage", ok=True)
    sent = telegram.sent("sendMessage", ok=True)
    assert len(sent) == 1
    assert "ephemeral_message_parameters" not in sent[0].params
    assert not telegram.ephemeral


async def test_the_fake_refuses_an_ephemeral_message_in_a_private_chat(
    telegram: FakeTelegram,
) -> None:
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.exceptions import TelegramBadRequest
    from aiogram.types import EphemeralMessageParameters

    from tests.bot_process import BOT_TOKEN

    session = AiohttpSession(api=TelegramAPIServer.from_base(telegram.url))
    async with Bot(BOT_TOKEN, session=session) as bot:
        only_to = EphemeralMessageParameters(receiver_user_id=USER)
        with pytest.raises(TelegramBadRequest, match="only to groups"):
            await bot.send_message(USER, "hi", ephemeral_message_parameters=only_to)
        sent = await bot.send_message(GROUP, "hi", ephemeral_message_parameters=only_to)
        assert sent.message_id == 0
        assert sent.ephemeral_message_id == 1
    assert telegram.seen_by_all(GROUP) == []


async def test_cancel_is_styled_destructive_and_again_primary(
    running: Any, telegram: FakeTelegram
) -> None:
    telegram.push_message("/art a fox --seed 4", chat_id=USER)
    photo = (await telegram.wait_for("sendPhoto", ok=True))[0]
    status = telegram.sent("sendMessage", ok=True)[0]
    styles = {
        b["text"]: b.get("style")
        for call in (status, photo)
        for row in call.json("reply_markup")["inline_keyboard"]
        for b in row
    }
    assert styles == {"✖️ Cancel": "danger", "🔁 Again": "primary", "📄 Original": None}


async def test_settings_in_russian_list_every_setting_before_the_closing_note(
    start_bot: Any, telegram: FakeTelegram
) -> None:
    await start_bot(models=["yandexart", "aliceai"])
    telegram.push_message("/settings", chat_id=USER, language_code="ru")
    menu = (await telegram.wait_for("sendMessage", ok=True))[0].params["text"]
    lines = menu.split("\n")
    assert lines[-1] == "Флаги в запросе всегда важнее этих настроек."
    for setting in ("Пропорции", "Улучшение", "Язык", "Модель", "Стиль"):
        assert any(line.startswith(setting) for line in lines[:-1]), setting


async def test_helps_first_line_lists_every_flag_in_both_languages(
    running: Any, telegram: FakeTelegram
) -> None:
    for language in ("en", "ru"):
        telegram.push_message("/help", chat_id=USER, language_code=language)
    helps = await telegram.wait_for("sendMessage", 2, ok=True)
    for call in helps:
        usage = call.params["text"].split("\n")[1]
        for flag in ("--seed", "--ratio", "--n", "--style", "--model", "--enhance"):
            assert flag in usage, (flag, usage)


# --- live progress in private chats --------------------------------------------------------

LIVE = {"live_progress": True, "draft_interval": 1.0}


async def test_a_private_request_shows_a_live_draft_with_stop_and_no_status_message(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.draft_min_interval = 0.9
    yandex.hold = True
    await start_bot(**LIVE)
    request_id = telegram.push_message("/art a fox --seed 4", chat_id=USER)
    await telegram.wait_for("sendMessageDraft", 2, ok=True)
    draft = telegram.drafts[(USER, request_id)]
    assert draft["can_stop"]
    assert draft["updates"] >= 2  # refreshed, never refused as too soon
    assert "Generating… seed 4, 1:1" in draft["text"]
    assert "s so far" in draft["text"]
    assert telegram.draft_refusals == 0
    yandex.hold = False
    await telegram.wait_for("sendPhoto", ok=True)
    await settle()
    assert telegram.sent("sendMessage") == []  # no status message, no notice
    updates = draft["updates"]
    await asyncio.sleep(1.5)
    assert telegram.drafts[(USER, request_id)]["updates"] == updates  # not after the picture


async def test_stop_on_a_draft_cancels_the_request_and_frees_its_slot(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    from bot.emulators.yandexart import Reply

    yandex.submit_faults = [Reply(429, {"code": 8, "message": "rate exceeded"})] * 10**4
    await start_bot(max_concurrent_per_user=1, **LIVE)
    request_id = telegram.push_message("/art a fox", chat_id=USER)
    await telegram.wait_for("sendMessageDraft", ok=True)
    await wait_until(lambda: yandex.submits)
    telegram.push_stop(USER, request_id)
    told = await telegram.wait_for("sendMessage", ok=True)
    assert told[0].params["text"] == "Cancelled."
    submits = len(yandex.submits)
    await settle()
    assert len(yandex.submits) == submits  # nothing submitted after the Stop
    yandex.submit_faults = []
    telegram.push_message("/art a cat", chat_id=USER)  # the slot is free again
    await telegram.wait_for("sendPhoto", ok=True)


async def test_where_drafts_are_refused_the_status_message_is_used(
    start_bot: Any, telegram: FakeTelegram
) -> None:
    telegram.drafts_enabled = False
    await start_bot(**LIVE)
    telegram.push_message("/art a fox --seed 4", chat_id=USER)
    await telegram.wait_for("sendPhoto", ok=True)
    refused = telegram.sent("sendMessageDraft")
    assert len(refused) == 1
    assert refused[0].result is None
    status = telegram.sent("sendMessage", ok=True)[0]
    assert status.params["text"] == "🎨 Generating… seed 4, 1:1"
    assert "inline_keyboard" in status.params["reply_markup"]


async def test_a_group_request_has_no_draft(start_bot: Any, telegram: FakeTelegram) -> None:
    await start_bot(**LIVE)
    telegram.push_message("/art a fox", chat_id=GROUP, user_id=USER)
    await telegram.wait_for("sendPhoto", ok=True)
    assert telegram.sent("sendMessageDraft") == []
    assert len(telegram.sent("sendMessage", ok=True)) == 1  # the status message


# --- guest mode ----------------------------------------------------------------------------

GUEST_CHAT = -100900


@pytest.mark.parametrize(
    ("text", "prompt"),
    [
        ("@art_test_bot /art a fox --seed 4", "a fox --seed 4"),
        ("/art@art_test_bot a fox", "a fox"),
        ("@art_test_bot a fox", "a fox"),
        ("/art", ""),
        ("/artist at work", "/artist at work"),
    ],
)
def test_a_guest_message_is_read_like_art(text: str, prompt: str) -> None:
    from handlers.guest import guest_prompt

    assert guest_prompt(text) == prompt


async def test_a_guest_request_is_drawn_and_answered_once(
    running: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_guest_message("@art_test_bot /art a fox --seed 4", chat_id=GUEST_CHAT)
    answer = (await telegram.wait_for("answerGuestQuery", ok=True))[0]
    result = answer.json("result")
    assert result["input_message_content"]["message_text"] == "🎨 Generating… seed 4, 1:1"
    assert result["reply_markup"]["inline_keyboard"][0][0]["style"] == "danger"  # Cancel
    inline_id = answer.result["inline_message_id"]
    await telegram.wait_for("editMessageMedia", ok=True)
    assert telegram.inline_messages[inline_id]["media"]["type"] == "photo"
    telegram.push(telegram.pushed[-1])  # the same update delivered again
    refused = await telegram.wait_for("answerGuestQuery", 2)
    assert refused[1].result is None  # Telegram takes one answer only
    await settle()
    assert yandex.generations == 1
    assert len(telegram.sent("answerGuestQuery", ok=True)) == 1
    assert telegram.sent("sendMessage", chat_id=GUEST_CHAT) == []  # not a member there


async def test_a_guest_request_passes_the_same_admission(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    await start_bot(daily_quota_per_user=1)
    telegram.push_message("/art a fox --seed 4", chat_id=USER)
    await telegram.wait_for("sendPhoto", ok=True)
    telegram.push_guest_message("@art_test_bot a cat", chat_id=GUEST_CHAT)
    answer = (await telegram.wait_for("answerGuestQuery", ok=True))[0]
    inline_id = answer.result["inline_message_id"]
    await wait_until(lambda: LIMIT_TEXT in telegram.inline_messages[inline_id]["text"])
    await settle()
    assert yandex.generations == 1


async def test_a_bad_guest_request_is_answered_with_the_error(
    running: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_guest_message("@art_test_bot /art", chat_id=GUEST_CHAT)
    answer = (await telegram.wait_for("answerGuestQuery", ok=True))[0]
    assert answer.json("result")["id"] == "error"
    await settle()
    assert yandex.generations == 0


async def test_an_ephemeral_command_has_no_message_to_reply_to_in_the_fallback(
    start_bot: Any, telegram: FakeTelegram
) -> None:
    """A command marked is_ephemeral reaches the bot only, with message_id 0: where its
    answer (here a refusal, which is a reply otherwise) cannot be ephemeral, it is a plain
    message."""
    telegram.ephemeral_enabled = False
    await start_bot(notice_ttl=0.2)
    update = telegram.new_update("/art --seed x a fox", chat_id=GROUP, user_id=USER)
    update["message"].update(message_id=0, ephemeral_message_id=3)
    telegram.push(update)
    deleted = await telegram.wait_for("deleteMessage", ok=True)
    sent = telegram.sent("sendMessage", ok=True)
    assert len(sent) == 1
    assert "reply_parameters" not in sent[0].params
    assert deleted[0].params["message_id"] == str(sent[0].result["message_id"])


async def test_the_original_button_is_disabled_while_the_original_is_fetched(
    running: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_message("/art a fox --seed 4", chat_id=USER)
    photo = (await telegram.wait_for("sendPhoto", ok=True))[0]
    keyboard = photo.json("reply_markup")["inline_keyboard"]
    original = next(b for row in keyboard for b in row if b["text"] == "📄 Original")
    yandex.hold = True  # the re-fetch stays in flight
    telegram.push_callback(original["callback_data"], message=photo.result, user_id=USER)
    await telegram.wait_for("editMessageReplyMarkup", ok=True)
    shown = telegram.messages[(USER, photo.result["message_id"])]["reply_markup"]
    buttons = {b["text"]: b for row in shown["inline_keyboard"] for b in row}
    assert buttons["📄 Original"] == {"text": "📄 Original", "disabled": {}}
    assert buttons["🔁 Again"]["style"] == "primary"  # the rest as it was
    yandex.hold = False
    await telegram.wait_for("sendDocument", ok=True)
    await telegram.wait_for("editMessageReplyMarkup", 2, ok=True)
    restored = telegram.messages[(USER, photo.result["message_id"])]["reply_markup"]
    assert restored["inline_keyboard"] == keyboard


async def test_custom_emoji_only_on_the_buttons_the_operator_set(
    start_bot: Any, telegram: FakeTelegram
) -> None:
    telegram.custom_emoji = True  # this bot may use them
    await start_bot(button_emoji="cancel=5368324170671202286, again=5370870893004203704")
    telegram.push_message("/art a fox --seed 4", chat_id=USER)
    photo = (await telegram.wait_for("sendPhoto", ok=True))[0]
    status = telegram.sent("sendMessage", ok=True)[0]
    icons = {
        b["text"]: b.get("icon_custom_emoji_id")
        for call in (status, photo)
        for row in call.json("reply_markup")["inline_keyboard"]
        for b in row
    }
    assert icons == {
        "✖️ Cancel": "5368324170671202286",
        "🔁 Again": "5370870893004203704",
        "📄 Original": None,
    }
