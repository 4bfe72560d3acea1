"""Every path that can spend a generation passes one admission; identity, inline and
migration edge cases end with a picture or a message, end to end on the strict fakes."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.emulators.telegram import BOT_ID, Call, FakeTelegram
from bot.emulators.yandexart import FakeYandex

USER = 7001
OTHER_USER = 7002
GROUP = -100777
OTHER_GROUP = -100888
CHANNEL = -100999
DAILY_LIMIT_TEXT = "drawing it again would go over your daily limit"


def buttons(call: Call) -> dict[str, str]:
    keyboard = call.json("reply_markup")["inline_keyboard"]
    return {b["text"]: b["callback_data"] for row in keyboard for b in row}


async def settle() -> None:
    """Give a wrong reaction the time to show up before asserting there was none."""
    await asyncio.sleep(0.5)


async def deliver_one(telegram: FakeTelegram, text: str = "/art a fox --seed 4") -> Call:
    telegram.push_message(text)
    return (await telegram.wait_for("sendPhoto"))[0]


def texts_of(telegram: FakeTelegram, method: str) -> list[str]:
    return [c.params["text"] for c in telegram.sent(method, ok=True) if "text" in c.params]


# --- Original ------------------------------------------------------------------------------


async def test_original_with_the_quota_spent_and_the_result_dropped_draws_nothing(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    """Reproduced: ten presses gave ten documents, each a new generation past the quota."""
    await start_bot(daily_quota_per_user=1)
    photo = await deliver_one(telegram)
    yandex.operations.clear()  # Yandex no longer keeps the result: a press would redraw it
    for _ in range(10):
        telegram.push_callback(buttons(photo)["📄 Original"], message=photo.result, user_id=USER)
    await telegram.wait_for("answerCallbackQuery", 10, ok=True)
    told = [t for t in texts_of(telegram, "sendMessage") if DAILY_LIMIT_TEXT in t]
    while not told:
        await asyncio.sleep(0.05)
        told = [t for t in texts_of(telegram, "sendMessage") if DAILY_LIMIT_TEXT in t]
    await settle()
    assert len(yandex.submits) == 1  # only the first picture
    assert not telegram.sent("sendDocument")


async def test_original_refetch_costs_no_quota_and_a_press_in_flight_starts_nothing(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    await start_bot(daily_quota_per_user=1)
    photo = await deliver_one(telegram)
    yandex.hold = True  # the re-fetch stays in flight while the presses come
    for _ in range(10):
        telegram.push_callback(buttons(photo)["📄 Original"], message=photo.result, user_id=USER)
    answers = await telegram.wait_for("answerCallbackQuery", 10, ok=True)
    texts = sorted(a.params["text"] for a in answers)
    assert (
        texts
        == ["Sending the original JPEG…"]
        + ["The original of this picture is already on its way."] * 9
    )
    yandex.hold = False
    await telegram.wait_for("sendDocument")
    await settle()
    assert len(telegram.sent("sendDocument")) == 1
    assert yandex.generations == 1  # fetched again, with the daily quota spent: no cost


async def test_a_failed_regeneration_is_never_submitted_again(
    running: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    """Reproduced: with Yandex failing operations one press made 77 generations."""
    photo = await deliver_one(telegram)
    yandex.operations.clear()
    yandex.operation_error = {"code": 13, "message": "internal error", "details": []}
    telegram.push_callback(buttons(photo)["📄 Original"], message=photo.result, user_id=USER)
    failure = (await telegram.wait_for("sendMessage", 2, ok=True))[1]
    assert "could not generate this picture" in failure.params["text"]
    await settle()
    assert len(yandex.submits) == 2  # the picture, and one regeneration for the press


async def test_a_regeneration_counts_against_the_daily_quota(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    await start_bot(daily_quota_per_user=2)
    photo = await deliver_one(telegram)
    yandex.operations.clear()
    telegram.push_callback(buttons(photo)["📄 Original"], message=photo.result, user_id=USER)
    await telegram.wait_for("sendDocument")
    telegram.push_message("/art a third picture today")
    refusal = (await telegram.wait_for("sendMessage", 2, ok=True))[1]
    assert "You have drawn 2 pictures today" in refusal.params["text"]
    assert len(yandex.submits) == 2


async def test_a_chosen_inline_result_passes_the_same_admission(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    await start_bot(daily_quota_per_user=1)
    await deliver_one(telegram)
    inline_id = telegram.push_chosen_inline_result("job123abc456:77", "a green owl")
    await telegram.wait_for("editMessageText", ok=True)
    assert "You have drawn 1 picture today" in telegram.inline_messages[inline_id]["text"]
    assert len(yandex.submits) == 1


# --- identity ------------------------------------------------------------------------------


async def test_anonymous_admins_of_two_groups_do_not_share_limits(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    """Both carry the same placeholder `from`; each group (`sender_chat`) has its own."""
    await start_bot(max_concurrent_per_user=1)
    yandex.hold = True
    telegram.push_message("/art a fox", chat_id=GROUP, sender_chat=GROUP)
    telegram.push_message("/art an owl", chat_id=OTHER_GROUP, sender_chat=OTHER_GROUP)
    telegram.push_message("/art a hare", chat_id=GROUP, sender_chat=CHANNEL)
    await telegram.wait_for("sendMessage", 3, ok=True)
    texts = texts_of(telegram, "sendMessage")
    assert all(t.startswith("🎨 Generating…") for t in texts), texts
    yandex.hold = False
    await telegram.wait_for("sendPhoto", 3)


async def test_cancel_of_an_anonymous_request_is_for_the_groups_admins(
    running: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    yandex.hold = True
    telegram.chat_admins[GROUP] = {USER}
    telegram.push_message("/art a fox", chat_id=GROUP, sender_chat=GROUP)
    status = (await telegram.wait_for("sendMessage", ok=True))[0]
    cancel = buttons(status)["✖️ Cancel"]
    telegram.push_callback(cancel, message=status.result, user_id=OTHER_USER)
    refused = (await telegram.wait_for("answerCallbackQuery", ok=True))[0]
    assert refused.params["text"] == "Only the person who asked for this picture can cancel it."
    telegram.push_callback(cancel, message=status.result, user_id=USER)
    accepted = (await telegram.wait_for("answerCallbackQuery", 2, ok=True))[1]
    assert accepted.params["text"] == "Cancelling…"
    edit = (await telegram.wait_for("editMessageText", ok=True))[0]
    assert edit.params["text"] == "Cancelled."


# --- Again ---------------------------------------------------------------------------------


async def test_again_under_an_inline_picture_edits_its_caption(
    running: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    """The inline message holds a photo: Telegram refuses editMessageText on it."""
    inline_id = telegram.push_chosen_inline_result("job123abc456:77", "a green owl")
    edit = (await telegram.wait_for("editMessageMedia", ok=True))[0]
    yandex.hold = True
    telegram.push_callback(buttons(edit)["🔁 Again"], inline_message_id=inline_id, user_id=USER)
    status = (await telegram.wait_for("editMessageCaption", ok=True))[0]
    assert status.params["caption"].startswith("🎨 Generating…")
    assert list(buttons(status)) == ["✖️ Cancel"]
    yandex.hold = False
    await telegram.wait_for("editMessageMedia", 2, ok=True)
    assert len(yandex.submits) == 2


async def press_again_under_a_deleted_inline_picture(telegram: FakeTelegram) -> None:
    """An inline picture is drawn, its message deleted, then Again pressed under it: the
    press is told the button is out of date (the Again cannot start)."""
    inline_id = telegram.push_chosen_inline_result("job123abc456:77", "a green owl")
    edit = (await telegram.wait_for("editMessageMedia", ok=True))[0]
    del telegram.inline_messages[inline_id]  # the message was deleted meanwhile
    telegram.push_callback(buttons(edit)["🔁 Again"], inline_message_id=inline_id, user_id=USER)
    answer = (await telegram.wait_for("answerCallbackQuery", ok=True))[0]
    assert answer.params["text"] == "This button is out of date."


async def test_again_that_cannot_start_gives_its_slot_back(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    await start_bot(max_concurrent_per_user=1)
    await press_again_under_a_deleted_inline_picture(telegram)
    telegram.push_message("/art the next picture")  # the slot is free again
    await telegram.wait_for("sendPhoto", 2)


async def test_again_that_cannot_start_gives_its_days_picture_back(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    """A quota of 2: the inline picture is one; an Again that cannot start must not take the
    other, so the next /art is still drawn."""
    await start_bot(daily_quota_per_user=2)
    await press_again_under_a_deleted_inline_picture(telegram)
    uploads = len(telegram.sent("sendPhoto"))  # the inline picture went up through a chat
    telegram.push_message("/art the next picture")
    await telegram.wait_for("sendPhoto", uploads + 1)
    assert yandex.generations == 2


async def test_again_under_an_inaccessible_message_draws_in_its_chat(
    running: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    photo = await deliver_one(telegram)
    gone = {"chat": photo.result["chat"], "message_id": photo.result["message_id"], "date": 0}
    telegram.push_callback(buttons(photo)["🔁 Again"], message=gone, user_id=USER)
    second = (await telegram.wait_for("sendPhoto", 2))[1]
    assert second.params["chat_id"] == str(USER)
    statuses = [t for t in texts_of(telegram, "sendMessage") if t.startswith("🎨 Generating…")]
    assert len(statuses) == 2


# --- inline, migration, long flags ---------------------------------------------------------


async def test_an_inline_result_chosen_twice_tells_the_second_message(
    running: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    first = telegram.push_chosen_inline_result("job123abc456:77", "a green owl")
    second = telegram.push_chosen_inline_result("job123abc456:77", "a green owl")
    await telegram.wait_for("editMessageMedia", ok=True)
    await telegram.wait_for("editMessageText", ok=True)
    assert "media" in telegram.inline_messages[first]
    assert "already used" in telegram.inline_messages[second]["text"]
    assert yandex.generations == 1


async def test_a_group_that_became_a_supergroup_gets_its_picture_there(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    instance = await start_bot()
    yandex.hold = True
    telegram.push_message("/art a fox", chat_id=GROUP, user_id=USER)
    await telegram.wait_for("sendMessage", ok=True)
    telegram.migrated[GROUP] = OTHER_GROUP
    yandex.hold = False
    photo = (await telegram.wait_for("sendPhoto", chat_id=OTHER_GROUP, ok=True))[0]
    job_store = instance.dispatcher["store"]
    while await job_store.active_count():
        await asyncio.sleep(0.02)
    job = await job_store.get(buttons(photo)["🔁 Again"].split(":")[-1])
    assert job.chat_id == OTHER_GROUP


async def test_a_migrated_group_is_judged_by_the_allowlist_under_its_new_id(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    await start_bot(allowed_chat_ids=str(GROUP))
    yandex.hold = True
    telegram.push_message("/art a fox", chat_id=GROUP, user_id=USER)
    await telegram.wait_for("sendMessage", ok=True)
    telegram.migrated[GROUP] = OTHER_GROUP
    yandex.hold = False
    while yandex.polls < 1:
        await asyncio.sleep(0.05)
    await settle()
    assert not telegram.sent("sendPhoto", chat_id=OTHER_GROUP)


async def test_a_long_unknown_flag_gets_a_reply_telegram_accepts(
    running: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    """Quoting the whole flag built a reply over 4096 characters, which Telegram refuses."""
    telegram.push_message("/art cat --" + "x" * 4080)
    reply = (await telegram.wait_for("sendMessage", ok=True))[0]
    assert reply.params["text"].startswith("Unknown flag <code>--xxxx")
    assert len(reply.params["text"]) < 200
    assert reply.result["from"]["id"] == BOT_ID
