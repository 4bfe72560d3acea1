"""Groups, inline mode, the buttons under pictures and the file_id cache, end to end."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot.emulators.telegram import Call, FakeTelegram, files_of
from bot.emulators.yandexart import FakeYandex
from tests.conftest import RunningBot

GROUP = -100777
USER = 7001
OTHER_USER = 7002


def buttons(call: Call) -> dict[str, str]:
    """Button text → callback data of a call's inline keyboard."""
    keyboard = call.json("reply_markup")["inline_keyboard"]
    return {b["text"]: b["callback_data"] for row in keyboard for b in row}


async def settle() -> None:
    """Give a wrong reaction the time to show up before asserting there was none."""
    await asyncio.sleep(0.5)


# --- groups ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["/art@art_test_bot", "/art"])
async def test_group_command_replies_to_the_requester(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex, command: str
) -> None:
    request_id = telegram.push_message(f"{command} a fox --seed 3", chat_id=GROUP, user_id=USER)
    photo = (await telegram.wait_for("sendPhoto", chat_id=GROUP))[0]
    assert photo.json("reply_parameters")["message_id"] == request_id
    assert photo.result["reply_to_message"]["message_id"] == request_id
    assert yandex.submits[0][1]["messages"][0]["text"] == "a fox"


async def test_commands_for_other_bots_are_ignored(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_message("/art@other_bot a fox", chat_id=GROUP, user_id=USER)
    telegram.push_message("/art@art_test_bot an owl", chat_id=GROUP, user_id=USER)
    await telegram.wait_for("sendPhoto", chat_id=GROUP)
    await settle()
    assert [body["messages"][0]["text"] for _, body in yandex.submits] == ["an owl"]
    assert len(telegram.sent("sendMessage", chat_id=GROUP)) == 1


async def test_art_as_a_reply_draws_the_replied_text_with_the_commands_flags(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    poem = telegram.new_update("a lighthouse | in a storm :: 2", chat_id=GROUP, user_id=OTHER_USER)
    telegram.push_message(
        "/art@art_test_bot --ratio 2:1 --seed 9",
        chat_id=GROUP,
        user_id=USER,
        reply_to=poem["message"],
    )
    await telegram.wait_for("sendPhoto", chat_id=GROUP)
    body = yandex.submits[0][1]
    assert body["messages"] == [{"weight": 1.0, "text": "a lighthouse | in a storm :: 2"}]
    assert body["generationOptions"]["aspectRatio"] == {"widthRatio": "2", "heightRatio": "1"}
    assert body["generationOptions"]["seed"] == "9"


async def test_reply_to_a_photo_uses_its_caption_and_own_words_win(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    photo = telegram.new_update("", chat_id=GROUP, user_id=OTHER_USER)["message"]
    del photo["text"]
    photo["caption"] = "a cat on a roof"
    photo["photo"] = [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}]
    telegram.push_message("/art", chat_id=GROUP, user_id=USER, reply_to=photo)
    telegram.push_message("/art my own words", chat_id=GROUP, user_id=USER, reply_to=photo)
    await telegram.wait_for("sendPhoto", 2, chat_id=GROUP)
    texts = sorted(body["messages"][0]["text"] for _, body in yandex.submits)
    assert texts == ["a cat on a roof", "my own words"]


@pytest.mark.long
async def test_group_flood_limit_delays_and_loses_nothing(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    """The fake refuses more than 3 messages per 2 s in the group; the bot sends 12."""
    telegram.group_limit, telegram.group_window = 3, 2.0
    await start_bot()
    requests = [
        telegram.push_message(f"/art picture {n} --seed {n + 1}", chat_id=GROUP, user_id=USER)
        for n in range(6)
    ]
    await telegram.wait_for("sendPhoto", 6, chat_id=GROUP, ok=True, timeout=60)
    await settle()
    photos = telegram.sent("sendPhoto", GROUP, ok=True)
    delivered = [p.json("reply_parameters")["message_id"] for p in photos]
    assert sorted(delivered) == requests
    # One status reply per request, none lost to the flood limit nor sent twice, and each
    # one deleted once its picture was out.
    statuses = telegram.sent("sendMessage", GROUP, ok=True)
    assert all(c.params["text"].startswith("🎨 Generating") for c in statuses)
    assert sorted(c.json("reply_parameters")["message_id"] for c in statuses) == requests
    deleted = [int(c.params["message_id"]) for c in telegram.sent("deleteMessage", GROUP, ok=True)]
    assert sorted(deleted) == sorted(c.result["message_id"] for c in statuses)
    assert telegram.flood_refusals > 0
    assert yandex.generations == 6


async def test_pacing_keeps_the_bot_under_the_group_limit(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.group_limit, telegram.group_window = 3, 1.0
    await start_bot(group_messages_per_minute=120)  # one message per 0.5 s
    for n in range(4):
        telegram.push_message(f"/art paced {n} --seed {n + 1}", chat_id=GROUP, user_id=USER)
    await telegram.wait_for("sendPhoto", 4, chat_id=GROUP, timeout=30)
    assert telegram.flood_refusals == 0


# --- buttons -----------------------------------------------------------------------------


async def deliver_one(telegram: FakeTelegram, text: str = "/art a fox --seed 4") -> Call:
    telegram.push_message(text)
    return (await telegram.wait_for("sendPhoto"))[0]


async def test_picture_has_again_and_original_buttons_status_has_cancel(
    running: RunningBot, telegram: FakeTelegram
) -> None:
    photo = await deliver_one(telegram)
    status = telegram.sent("sendMessage")[0]
    assert list(buttons(status)) == ["✖️ Cancel"]
    assert list(buttons(photo)) == ["🔁 Again", "📄 Original"]
    assert all(len(data.encode()) <= 64 for data in buttons(photo).values())


async def test_again_draws_the_same_prompt_with_a_new_seed(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    photo = await deliver_one(telegram, "/art a fox --seed 4 --ratio 3:2")
    telegram.push_callback(buttons(photo)["🔁 Again"], message=photo.result, user_id=USER)
    answer = (await telegram.wait_for("answerCallbackQuery"))[0]
    assert answer.params["text"] == "Drawing it again with a new seed…"
    second = (await telegram.wait_for("sendPhoto", 2))[1]
    assert second.json("reply_parameters")["message_id"] == photo.result["message_id"]
    first_options, again_options = (body["generationOptions"] for _, body in yandex.submits)
    assert again_options["aspectRatio"] == first_options["aspectRatio"]
    assert again_options["seed"] != first_options["seed"]
    assert yandex.submits[1][1]["messages"] == yandex.submits[0][1]["messages"]


async def test_a_press_delivered_twice_draws_again_once(
    running: RunningBot,
    telegram: FakeTelegram,
    yandex: FakeYandex,
    caplog: pytest.LogCaptureFixture,
) -> None:
    photo = await deliver_one(telegram)
    telegram.push_callback(buttons(photo)["🔁 Again"], message=photo.result, user_id=USER)
    press = telegram.pushed[-1]
    await telegram.wait_for("sendPhoto", 2)
    telegram.push(dict(press))  # Telegram delivers the same update again
    await settle()
    assert len(telegram.sent("sendPhoto")) == 2
    assert yandex.generations == 2
    # Not answered twice either: Telegram refuses a second answer to a press.
    assert len(telegram.sent("answerCallbackQuery")) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_original_sends_the_jpeg_as_a_document(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    photo = await deliver_one(telegram)
    telegram.push_callback(buttons(photo)["📄 Original"], message=photo.result, user_id=OTHER_USER)
    document = (await telegram.wait_for("sendDocument"))[0]
    operation = next(iter(yandex.operations.values()))
    assert files_of(document, document.params["document"]) == operation.image
    assert document.json("reply_parameters")["message_id"] == photo.result["message_id"]
    assert yandex.generations == 1


async def test_original_is_generated_again_when_yandex_dropped_the_result(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    photo = await deliver_one(telegram)
    yandex.operations.clear()  # results are kept for days, not forever
    telegram.push_callback(buttons(photo)["📄 Original"], message=photo.result, user_id=USER)
    document = (await telegram.wait_for("sendDocument"))[0]
    assert yandex.generations == 1  # the cleared one is gone; this is the new one
    first, again = (body for _, body in yandex.submits)
    assert again == first  # same prompt, seed and ratio
    operation = next(iter(yandex.operations.values()))
    assert files_of(document, document.params["document"]) == operation.image


async def test_cancel_by_the_requester_cancels_the_operation(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    yandex.hold = True
    telegram.push_message("/art a slow fox")
    status = (await telegram.wait_for("sendMessage"))[0]
    while yandex.polls < 1:
        await asyncio.sleep(0.05)
    telegram.push_callback(buttons(status)["✖️ Cancel"], message=status.result, user_id=USER)
    answer = (await telegram.wait_for("answerCallbackQuery"))[0]
    assert answer.params["text"] == "Cancelling…"
    edit = (await telegram.wait_for("editMessageText"))[0]
    assert edit.params["text"] == "Cancelled."
    assert yandex.cancels == [next(iter(yandex.operations))]
    yandex.hold = False
    await settle()
    assert not telegram.sent("sendPhoto")


async def test_only_the_requester_may_cancel(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    yandex.hold = True
    telegram.push_message("/art a fox", chat_id=GROUP, user_id=USER)
    status = (await telegram.wait_for("sendMessage"))[0]
    telegram.push_callback(buttons(status)["✖️ Cancel"], message=status.result, user_id=OTHER_USER)
    answer = (await telegram.wait_for("answerCallbackQuery"))[0]
    assert answer.params["text"] == "Only the person who asked for this picture can cancel it."
    yandex.hold = False
    await telegram.wait_for("sendPhoto")
    assert yandex.cancels == []


async def test_stale_buttons_get_a_polite_answer(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    photo = await deliver_one(telegram)
    status = telegram.sent("sendMessage")[0]
    telegram.push_callback(buttons(status)["✖️ Cancel"], message=status.result, user_id=USER)
    telegram.push_callback("j:again:unknownjobid", message=photo.result, user_id=USER)
    answers = await telegram.wait_for("answerCallbackQuery", 2)
    assert [a.params["text"] for a in answers] == ["This button is out of date."] * 2
    await settle()
    assert yandex.generations == 1


# --- cache -------------------------------------------------------------------------------


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_repeated_request_with_a_seed_is_answered_from_the_cache(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, redis_url: str, store: str
) -> None:
    instance = await start_bot(redis_url=redis_url if store == "redis" else None)
    first = await deliver_one(telegram, "/art misty forest :: 2 | fox :: 1 --seed 11")
    file_id = first.result["photo"][-1]["file_id"]
    # A repeat is served from the cache once the first job has finished (and recorded its
    # file); one sent while the photo is still on its way is simply drawn again.
    job_store = instance.dispatcher["store"]
    while await job_store.active_count():
        await asyncio.sleep(0.02)
    telegram.push_message("/art  misty forest ::2|fox:: 1   --seed 11")
    second = (await telegram.wait_for("sendPhoto", 2))[1]
    assert second.params["photo"] == file_id
    assert len(yandex.submits) == 1
    # A different seed, ratio or weight is a different picture.
    telegram.push_message("/art misty forest :: 2 | fox :: 1 --seed 12")
    telegram.push_message("/art misty forest :: 2 | fox :: 1 --seed 11 --ratio 2:1")
    telegram.push_message("/art misty forest :: 3 | fox :: 1 --seed 11")
    await telegram.wait_for("sendPhoto", 5)
    assert len(yandex.submits) == 4


# --- inline mode -------------------------------------------------------------------------


async def test_inline_query_answers_an_article_with_a_keyboard(
    running: RunningBot, telegram: FakeTelegram
) -> None:
    telegram.push_inline_query("a green owl --ratio 16:9 --seed 5")
    answer = (await telegram.wait_for("answerInlineQuery"))[0]
    [result] = answer.json("results")
    job_id, seed = result["id"].split(":")
    assert seed == "5"
    assert result["title"] == "🎨 Draw: a green owl"
    assert result["description"] == "seed 5 · 16:9"
    assert result["input_message_content"]["message_text"] == "🎨 Generating… seed 5, 16:9"
    [[button]] = result["reply_markup"]["inline_keyboard"]
    assert button["callback_data"] == f"j:cancel:{job_id}"
    assert answer.params["is_personal"] == "true"


async def test_inline_errors_and_empty_queries(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_inline_query("an owl --ratio 9")
    telegram.push_inline_query("   ")
    error, empty = await telegram.wait_for("answerInlineQuery", 2)
    [result] = error.json("results")
    assert result["title"] == "⚠️ Can't draw this"
    assert result["description"].startswith("Ratio 9 is not valid")
    assert "<code>" not in result["description"]
    assert empty.json("results") == []
    assert empty.json("button")["start_parameter"] == "help"
    assert yandex.submits == []


async def test_chosen_inline_result_is_edited_into_the_photo(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    inline_id = telegram.push_chosen_inline_result("job123abc456:77", "a green owl --ratio 2:1")
    edit = (await telegram.wait_for("editMessageMedia"))[0]
    upload = telegram.sent("sendPhoto")[0]
    assert upload.params["chat_id"] == str(USER)  # no storage chat: the user's private chat
    file_id = upload.result["photo"][-1]["file_id"]
    media = telegram.inline_messages[inline_id]["media"]
    assert media["media"] == file_id
    assert media["caption"] == "a green owl\n\nseed 77 · 2:1"
    assert edit.params["inline_message_id"] == inline_id
    assert list(buttons(edit)) == ["🔁 Again", "📄 Original"]
    operation = next(iter(yandex.operations.values()))
    assert files_of(upload, upload.params["photo"]) == operation.image
    assert yandex.submits[0][1]["generationOptions"]["seed"] == "77"
    # The copy in the private chat was only there to get a file_id.
    deleted = await telegram.wait_for("deleteMessage")
    assert deleted[0].params["message_id"] == str(upload.result["message_id"])


async def test_inline_results_go_to_the_storage_chat_when_set(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    await start_bot(inline_storage_chat_id=-100500)
    telegram.push_chosen_inline_result("job123abc456:5", "an owl")
    await telegram.wait_for("editMessageMedia")
    assert telegram.sent("sendPhoto")[0].params["chat_id"] == "-100500"
    assert not telegram.sent("deleteMessage")


async def test_inline_failures_edit_the_inline_message(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    refused = telegram.push_chosen_inline_result("job000000001:5", "something forbidden")
    telegram.blocked.add(OTHER_USER)
    unreachable = telegram.push_chosen_inline_result("job000000002:5", "an owl", user_id=OTHER_USER)
    await telegram.wait_for("editMessageText", 2)
    assert "refused this prompt" in telegram.inline_messages[refused]["text"]
    assert "open a private chat with me" in telegram.inline_messages[unreachable]["text"]
    assert not telegram.sent("editMessageMedia")


async def test_buttons_under_an_inline_picture(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    inline_id = telegram.push_chosen_inline_result("job123abc456:77", "a green owl")
    edit = (await telegram.wait_for("editMessageMedia"))[0]
    telegram.push_callback(
        buttons(edit)["📄 Original"], inline_message_id=inline_id, user_id=OTHER_USER
    )
    document = (await telegram.wait_for("sendDocument"))[0]
    assert document.params["chat_id"] == str(OTHER_USER)  # the presser's private chat
    telegram.push_callback(buttons(edit)["🔁 Again"], inline_message_id=inline_id, user_id=USER)
    await telegram.wait_for("editMessageMedia", 2)
    first, again = (body["generationOptions"]["seed"] for _, body in yandex.submits)
    assert first == "77"
    assert again != "77"
    assert telegram.inline_messages[inline_id]["media"]["caption"].startswith("a green owl")
