"""The fakes refuse what Telegram and Yandex refuse, so a test passing on them means
something: markup, lengths, media edits, callback answers, idempotency keys, auth."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp
import pytest

from bot.emulators.telegram import NOT_MODIFIED, QUERY_INVALID, FakeTelegram
from bot.emulators.telegram_rules import Refused, visible_text
from bot.emulators.yandexart import FakeYandex
from tests.bot_process import API_KEY, BOT_TOKEN

CHAT = 7001
KEYBOARD = {"inline_keyboard": [[{"text": "Again", "callback_data": "j:again:abc"}]]}


async def call(telegram: FakeTelegram, method: str, **params: Any) -> dict[str, Any]:
    """One Bot API call as aiogram makes it (form fields, JSON for objects)."""
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{telegram.url}/bot{BOT_TOKEN}/{method}", data=form) as resp,
    ):
        answer: dict[str, Any] = await resp.json()
        return answer


def refusal(answer: dict[str, Any]) -> str:
    assert answer["ok"] is False, answer
    assert answer["error_code"] == 400
    description: str = answer["description"]
    return description


async def photo_message(telegram: FakeTelegram) -> int:
    answer = await call(telegram, "sendPhoto", chat_id=str(CHAT), photo="photo-1", caption="x")
    message_id: int = answer["result"]["message_id"]
    return message_id


# --- HTML parse mode -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("<b>bold</b> &amp; <i>it</i>", "bold & it"),
        ('<a href="https://x.y">link</a> <code>a &lt; b</code>', "link a < b"),
        ('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>', "st"),
        ("<blockquote><pre>&quot;q&quot; &#65;&#x42;</pre></blockquote>", '"q" AB'),
        ("<u>u</u><ins>i</ins><s>s</s><strike>k</strike><del>d</del><em>e</em>", "uiskde"),
    ],
)
def test_good_markup_is_parsed(text: str, shown: str) -> None:
    assert visible_text(text, "HTML") == shown


@pytest.mark.parametrize(
    "text",
    [
        "1 < 2",
        "a & b",
        "x > y",
        "&nbsp;",
        "<div>x</div>",
        "<b>unclosed",
        "<b><i>crossed</b></i>",
        "</b>",
        "<a>no href</a>",
        '<span class="other">x</span>',
        "<tg-emoji>x</tg-emoji>",
    ],
)
def test_bad_markup_is_refused(text: str) -> None:
    with pytest.raises(Refused, match="can't parse entities"):
        visible_text(text, "HTML")


def test_without_a_parse_mode_text_is_literal() -> None:
    assert visible_text("1 < 2 & <b>", None) == "1 < 2 & <b>"


async def test_send_message_with_bad_markup_is_refused(telegram: FakeTelegram) -> None:
    answer = await call(telegram, "sendMessage", chat_id=str(CHAT), text="1 < 2", parse_mode="HTML")
    assert refusal(answer).startswith("Bad Request: can't parse entities")


# --- lengths and callback data -------------------------------------------------------------


async def test_text_over_4096_utf16_units_is_refused(telegram: FakeTelegram) -> None:
    fits = "&lt;" * 4096  # 4096 characters once parsed
    ok = await call(telegram, "sendMessage", chat_id=str(CHAT), text=fits, parse_mode="HTML")
    assert ok["ok"] is True
    too_long = "😀" * 2049  # 4098 UTF-16 units in 2049 characters
    answer = await call(telegram, "sendMessage", chat_id=str(CHAT), text=too_long)
    assert refusal(answer) == "Bad Request: message is too long"


async def test_caption_over_1024_utf16_units_is_refused(telegram: FakeTelegram) -> None:
    ok = await call(telegram, "sendPhoto", chat_id=str(CHAT), photo="photo-1", caption="a" * 1024)
    assert ok["ok"] is True
    answer = await call(
        telegram, "sendPhoto", chat_id=str(CHAT), photo="photo-1", caption="😀" * 513
    )
    assert refusal(answer) == "Bad Request: message caption is too long"


async def test_callback_data_over_64_bytes_is_refused(telegram: FakeTelegram) -> None:
    keyboard = {"inline_keyboard": [[{"text": "b", "callback_data": "я" * 33}]]}  # 66 bytes
    answer = await call(
        telegram, "sendMessage", chat_id=str(CHAT), text="hi", reply_markup=keyboard
    )
    assert refusal(answer) == "Bad Request: BUTTON_DATA_INVALID"


@pytest.mark.parametrize(
    ("button", "description"),
    [
        ({"text": "b", "callback_data": "x", "style": "red"}, "BUTTON_STYLE_INVALID"),
        ({"text": "b", "callback_data": "x", "disabled": {}}, "BUTTON_TYPE_INVALID"),
        ({"text": "b"}, "BUTTON_TYPE_INVALID"),
        (
            {"text": "b", "callback_data": "x", "icon_custom_emoji_id": "1"},
            "custom emoji on buttons are not available to this bot",
        ),
        ({"text": "b", "callback_data": "x", "colour": "red"}, "BUTTON_TYPE_INVALID"),
    ],
)
async def test_unknown_button_styles_and_kinds_are_refused(
    telegram: FakeTelegram, button: dict[str, Any], description: str
) -> None:
    """Bot API 9.4 styles are danger, success or primary; a button is exactly one kind
    (10.3: `disabled` is one)."""
    fine = [
        {"text": "a", "callback_data": "x", "style": "danger"},
        {"text": "d", "disabled": {}, "style": "primary"},
    ]
    ok = await call(
        telegram,
        "sendMessage",
        chat_id=str(CHAT),
        text="hi",
        reply_markup={"inline_keyboard": [fine]},
    )
    assert ok["ok"] is True
    keyboard = {"inline_keyboard": [[button]]}
    answer = await call(
        telegram, "sendMessage", chat_id=str(CHAT), text="hi", reply_markup=keyboard
    )
    assert refusal(answer) == f"Bad Request: {description}"


# --- edits ---------------------------------------------------------------------------------


async def test_edit_text_of_a_photo_is_refused(telegram: FakeTelegram) -> None:
    message_id = await photo_message(telegram)
    answer = await call(
        telegram, "editMessageText", chat_id=str(CHAT), message_id=str(message_id), text="new"
    )
    assert refusal(answer) == "Bad Request: there is no text in the message to edit"
    caption = await call(
        telegram, "editMessageCaption", chat_id=str(CHAT), message_id=str(message_id), caption="y"
    )
    assert caption["ok"] is True


async def test_inline_edits_follow_the_same_rules(telegram: FakeTelegram) -> None:
    inline_id = telegram.push_chosen_inline_result("job:1", "an owl")
    first = await call(
        telegram, "editMessageText", inline_message_id=inline_id, text="a", reply_markup=KEYBOARD
    )
    assert first == {"ok": True, "result": True}
    again = await call(
        telegram, "editMessageText", inline_message_id=inline_id, text="a", reply_markup=KEYBOARD
    )
    assert refusal(again) == NOT_MODIFIED
    without_keyboard = await call(
        telegram, "editMessageText", inline_message_id=inline_id, text="a"
    )
    assert without_keyboard["ok"] is True  # the keyboard goes: a change
    media = {"type": "photo", "media": "photo-1", "caption": "c"}
    assert (await call(telegram, "editMessageMedia", inline_message_id=inline_id, media=media))[
        "ok"
    ]
    answer = await call(telegram, "editMessageText", inline_message_id=inline_id, text="b")
    assert refusal(answer) == "Bad Request: there is no text in the message to edit"


async def test_chat_edit_that_changes_nothing_is_refused(telegram: FakeTelegram) -> None:
    sent = await call(telegram, "sendMessage", chat_id=str(CHAT), text="same")
    message_id = str(sent["result"]["message_id"])
    answer = await call(
        telegram, "editMessageText", chat_id=str(CHAT), message_id=message_id, text="same"
    )
    assert refusal(answer) == NOT_MODIFIED


# --- callback answers ----------------------------------------------------------------------


async def test_a_press_is_answered_once(telegram: FakeTelegram) -> None:
    query_id = telegram.push_callback("j:again:abc")
    first = await call(telegram, "answerCallbackQuery", callback_query_id=query_id)
    assert first["ok"] is True
    second = await call(telegram, "answerCallbackQuery", callback_query_id=query_id)
    assert refusal(second) == QUERY_INVALID
    unknown = await call(telegram, "answerCallbackQuery", callback_query_id="nope")
    assert refusal(unknown) == QUERY_INVALID


async def test_a_press_answered_too_late_is_refused(telegram: FakeTelegram) -> None:
    telegram.callback_answer_window = -1.0  # as if ~15 s had passed
    query_id = telegram.push_callback("j:again:abc")
    answer = await call(telegram, "answerCallbackQuery", callback_query_id=query_id)
    assert refusal(answer) == QUERY_INVALID


# --- YandexART -----------------------------------------------------------------------------


async def test_yandex_requires_a_uuid_idempotency_key(yandex: FakeYandex) -> None:
    body = {"modelUri": "art://f/yandex-art/latest", "messages": [{"text": "fox", "weight": 1}]}
    url = f"{yandex.url}/foundationModels/v1/imageGenerationAsync"
    auth = {"Authorization": f"Api-Key {API_KEY}"}
    async with aiohttp.ClientSession() as http:
        for key in (None, "0" * 32, "not-a-uuid"):
            headers = auth if key is None else {**auth, "Idempotency-Key": key}
            async with http.post(url, json=body, headers=headers) as resp:
                assert resp.status == 400
        headers = {**auth, "Idempotency-Key": str(uuid.uuid4())}
        async with http.post(url, json=body, headers=headers) as resp:
            assert resp.status == 200
    assert yandex.generations == 1


async def test_yandex_cancel_checks_auth(yandex: FakeYandex) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{yandex.url}/operations/op1:cancel") as resp:
            assert resp.status == 401
        wrong = {"Authorization": "Api-Key wrong"}
        async with http.post(f"{yandex.url}/operations/op1:cancel", headers=wrong) as resp:
            assert resp.status == 401
    assert yandex.cancels == []


async def test_get_updates_hands_out_at_most_100_and_clamps_its_limit(
    telegram: FakeTelegram,
) -> None:
    """As telegram-bot-api: `limit` defaults to 100 and is clamped to 1-100 (a burst of
    10 000 came back in one answer before, a burst Telegram cannot produce)."""
    for n in range(150):
        telegram.push_message(f"/help {n}", chat_id=7001)
    assert len((await call(telegram, "getUpdates"))["result"]) == 100
    assert len((await call(telegram, "getUpdates", limit="5"))["result"]) == 5
    assert len((await call(telegram, "getUpdates", limit="0"))["result"]) == 1
    assert len((await call(telegram, "getUpdates", limit="500"))["result"]) == 100
    first = (await call(telegram, "getUpdates", limit="1"))["result"][0]["update_id"]
    rest = (await call(telegram, "getUpdates", offset=str(first + 100)))["result"]
    assert len(rest) == 50  # the offset confirmed the first 100


async def test_get_updates_is_refused_while_a_webhook_is_set(telegram: FakeTelegram) -> None:
    """As telegram-bot-api: 409 Conflict until deleteWebhook."""
    assert (await call(telegram, "setWebhook", url="https://example.org/hook"))["ok"]
    answer = await call(telegram, "getUpdates")
    assert answer["error_code"] == 409
    assert answer["description"].startswith("Conflict: can't use getUpdates")
    assert (await call(telegram, "deleteWebhook"))["ok"]
    assert (await call(telegram, "getUpdates"))["ok"]
