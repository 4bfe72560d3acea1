"""/art end to end: the real bot against the fake Bot API and the fake YandexART."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from bot.emulators.telegram import FakeTelegram, files_of
from bot.emulators.yandexart import FakeYandex, Reply
from bot.services.places import PICTURES_AT_ONCE, PICTURES_PER_CHAT
from tests.bot_process import API_KEY, FOLDER
from tests.conftest import RunningBot

CHAT = 7001


async def test_happy_path_sends_the_generated_picture(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    request_id = telegram.push_message("/art a red fox in the snow --seed 42 --ratio 16:9")

    status = (await telegram.wait_for("sendMessage"))[0]
    assert status.params["text"] == "🎨 Generating… seed 42, 16:9"
    assert status.json("reply_parameters")["message_id"] == request_id

    photo = (await telegram.wait_for("sendPhoto"))[0]
    headers, body = yandex.submits[0]
    assert body == {
        "modelUri": f"art://{FOLDER}/yandex-art/latest",
        "generationOptions": {
            "mimeType": "image/jpeg",
            "seed": "42",
            "aspectRatio": {"widthRatio": "16", "heightRatio": "9"},
        },
        "messages": [{"weight": 1.0, "text": "a red fox in the snow"}],
    }
    assert headers["Authorization"] == f"Api-Key {API_KEY}"
    # A UUID, as Yandex Cloud's API design guide asks (the fake refuses anything else).
    key = headers["Idempotency-Key"]
    assert uuid.UUID(key).version == 4
    assert str(uuid.UUID(key)) == key
    operation = next(iter(yandex.operations.values()))
    assert files_of(photo, photo.params["photo"]) == operation.image
    assert photo.params["caption"] == "a red fox in the snow\n\nseed 42 · 16:9"
    assert photo.params["parse_mode"] == "HTML"
    assert photo.json("reply_parameters")["message_id"] == request_id
    # The status message is removed once the picture is there.
    deleted = await telegram.wait_for("deleteMessage")
    assert deleted[0].params["message_id"] == str(status.result["message_id"])
    assert yandex.generations == 1


async def test_bot_picks_and_shows_a_seed_when_none_is_given(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_message("/art a lighthouse at night")
    status = (await telegram.wait_for("sendMessage"))[0]
    photo = (await telegram.wait_for("sendPhoto"))[0]
    seed = yandex.submits[0][1]["generationOptions"]["seed"]
    assert int(seed) > 0
    assert status.params["text"] == f"🎨 Generating… seed {seed}, 1:1"
    assert photo.params["caption"].endswith(f"seed {seed} · 1:1")


async def test_weighted_parts_become_weighted_messages(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_message("/art misty forest :: 2 | small red fox <3 :: 0.5 --seed 7")
    photo = (await telegram.wait_for("sendPhoto"))[0]
    assert yandex.submits[0][1]["messages"] == [
        {"weight": 2.0, "text": "misty forest"},
        {"weight": 0.5, "text": "small red fox <3"},
    ]
    assert photo.params["caption"] == (
        "misty forest :: 2 | small red fox &lt;3 :: 0.5\n\nseed 7 · 1:1"
    )


BAD_INPUTS = [
    ("/art", "Tell me what to draw"),
    ("/art    --seed 5", "Tell me what to draw"),
    ("/art " + "x" * 501, "The prompt is too long: 501 characters, at most 500"),
    ("/art a fox --seed abc", "Seed <code>abc</code> is not valid"),
    ("/art a fox --seed -3", "Seed <code>-3</code> is not valid"),
    ("/art a fox --seed 9223372036854775808", "is not valid: use a whole number from 0"),
    ("/art a fox --ratio 16", "Ratio <code>16</code> is not valid"),
    ("/art a fox --ratio 10:1", "the long side at most 4× the short one"),
    ("/art a fox --ratio <b>:1", "Ratio <code>&lt;b&gt;:1</code> is not valid"),
    (
        "/art a fox --size 3",
        "Unknown flag <code>--size</code>. Known flags: "
        "--seed, --ratio, --enhance, --no-enhance, --style, --n, --model.",
    ),
    ("/art a fox --seed 1 --seed 2", "Flag <code>--seed</code> is given twice"),
    ("/art a fox --seed", "Flag <code>--seed</code> needs a value"),
    ("/art forest :: heavy | fox", "Weight <code>heavy</code> is not valid"),
    ("/art forest :: 2 | | fox", "One of the parts between"),
]


@pytest.mark.parametrize(("text", "answer"), BAD_INPUTS)
async def test_bad_input_is_answered_and_nothing_is_submitted(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex, text: str, answer: str
) -> None:
    request_id = telegram.push_message(text)
    reply = (await telegram.wait_for("sendMessage"))[0]
    assert answer in reply.params["text"]
    assert reply.json("reply_parameters")["message_id"] == request_id
    # The bot is still alive and the bad request reached nobody.
    telegram.push_message("/art a fox --seed 1")
    await telegram.wait_for("sendPhoto")
    assert len(yandex.submits) == 1
    assert yandex.submits[0][1]["messages"][0]["text"] == "a fox"


async def test_texts_follow_the_users_language(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_message("/art лиса --seed 3 --ratio 2:1", language_code="ru")
    status = (await telegram.wait_for("sendMessage"))[0]
    assert status.params["text"] == "🎨 Рисую… seed 3, 2:1"
    telegram.push_message("/art лиса --seed x", language_code="ru-RU")
    error = (await telegram.wait_for("sendMessage", 2))[1]
    assert "Seed <code>x</code> не подходит" in error.params["text"]
    telegram.push_message("/art fox --seed x", language_code="de")
    fallback = (await telegram.wait_for("sendMessage", 3))[2]
    assert "Seed <code>x</code> is not valid" in fallback.params["text"]


async def test_moderation_refusal_turns_the_status_into_an_explanation(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_message("/art something forbidden")
    status = (await telegram.wait_for("sendMessage"))[0]
    edit = (await telegram.wait_for("editMessageText"))[0]
    assert edit.params["message_id"] == str(status.result["message_id"])
    assert "refused this prompt" in edit.params["text"]
    assert yandex.generations == 0
    assert not telegram.sent("sendPhoto")
    # A refusal is final: submitted once, never retried until SUBMIT_PATIENCE runs out.
    assert len(yandex.submits) == 1


async def test_failed_operation_is_explained(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    yandex.operation_error = {"code": 13, "message": "internal error", "details": []}
    telegram.push_message("/art a fox")
    edit = (await telegram.wait_for("editMessageText"))[0]
    assert "could not generate this picture" in edit.params["text"]
    assert not telegram.sent("sendPhoto")


async def test_generation_past_the_deadline_is_reported(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    yandex.polls_to_finish = 10**9
    await start_bot(generation_deadline=0.8)
    telegram.push_message("/art a very slow fox")
    edit = (await telegram.wait_for("editMessageText"))[0]
    assert "was not ready in 1 minutes" in edit.params["text"]
    assert yandex.polls >= 2
    polls_before = yandex.polls
    await asyncio.sleep(0.5)
    assert yandex.polls == polls_before  # the job is over: no more polling


async def test_transient_yandex_errors_are_retried_without_a_second_generation(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    yandex.submit_faults = [
        Reply(503, {"code": 14, "message": "unavailable"}),
        Reply(429, {"code": 8, "message": "rate exceeded"}, {"Retry-After": "0"}),
    ]
    yandex.poll_faults = [Reply(503, {"code": 14, "message": "unavailable"})]
    telegram.push_message("/art a patient fox --seed 5")
    photo = (await telegram.wait_for("sendPhoto"))[0]
    assert len(yandex.submits) == 3
    keys = {headers["Idempotency-Key"] for headers, _ in yandex.submits}
    assert len(keys) == 1
    assert yandex.generations == 1
    operation = next(iter(yandex.operations.values()))
    assert files_of(photo, photo.params["photo"]) == operation.image


async def test_lasting_quota_errors_end_with_a_quota_message(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    yandex.submit_faults = [
        Reply(429, {"code": 8, "message": "rate exceeded"}, {"Retry-After": "0"})
    ] * 100
    await start_bot(submit_patience=0.3, http_retries=1)
    telegram.push_message("/art a fox")
    edit = (await telegram.wait_for("editMessageText"))[0]
    assert "over its request quota" in edit.params["text"]
    assert yandex.generations == 0


async def test_bad_credentials_say_misconfigured_without_details(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    await start_bot(yandex_api_key="wrong-secret-key")
    telegram.push_message("/art a fox")
    edit = (await telegram.wait_for("editMessageText"))[0]
    assert "misconfigured" in edit.params["text"]
    assert "wrong-secret-key" not in edit.params["text"]
    assert len(yandex.submits) == 1  # 401 is never retried


async def test_telegram_flood_limit_on_send_photo_is_waited_out(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.fail("sendPhoto", 429, "Too Many Requests: retry after 1", retry_after=1)
    telegram.push_message("/art a fox --seed 1")
    calls = await telegram.wait_for("sendPhoto", 2)
    assert calls[1].at - calls[0].at >= 1.0
    await asyncio.sleep(0.3)
    assert len(telegram.sent("sendPhoto")) == 2  # one refused, one delivered
    assert len([c for c in telegram.sent("sendPhoto") if c.result]) == 1


async def test_telegram_server_errors_are_retried(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.fail("sendPhoto", 502, "Bad Gateway", times=2)
    telegram.push_message("/art a fox --seed 1")
    calls = await telegram.wait_for("sendPhoto", 3)
    assert [bool(c.result) for c in calls] == [False, False, True]


async def test_deleted_request_message_still_gets_the_picture(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    request_id = telegram.push_message("/art a fox --seed 1")
    await telegram.wait_for("sendMessage")
    telegram.delete(CHAT, request_id)
    photo = (await telegram.wait_for("sendPhoto"))[0]
    assert photo.result is not None
    assert "reply_to_message" not in photo.result


async def test_user_who_blocked_the_bot_is_dropped_quietly(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    yandex.polls_to_finish = 3
    instance = await start_bot()
    telegram.push_message("/art a fox --seed 1")
    await telegram.wait_for("sendMessage")
    telegram.blocked.add(CHAT)
    await telegram.wait_for("sendPhoto")
    await asyncio.sleep(0.5)
    assert len(telegram.sent("sendPhoto")) == 1  # 403 is final: no retries
    assert await instance.dispatcher["store"].active_count() == 0


async def test_failure_is_sent_anew_when_the_status_message_is_gone(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    request_id = telegram.push_message("/art forbidden fruit")
    status = (await telegram.wait_for("sendMessage"))[0]
    telegram.delete(CHAT, status.result["message_id"])
    notice = (await telegram.wait_for("sendMessage", 2))[1]
    assert "refused this prompt" in notice.params["text"]
    assert notice.json("reply_parameters")["message_id"] == request_id


async def test_upload_photo_action_is_shown_while_waiting(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    yandex.polls_to_finish = 4
    await start_bot()
    telegram.push_message("/art a fox")
    action = (await telegram.wait_for("sendChatAction"))[0]
    assert action.params["action"] == "upload_photo"
    assert action.params["chat_id"] == str(CHAT)


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_an_update_delivered_twice_is_answered_once(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, redis_url: str, store: str
) -> None:
    """Telegram sends an update again when the answer to its webhook call was lost, and
    polling hands it out again after a restart that had not confirmed it: one job, one
    status, one picture, one generation, whether the first is pending or finished."""
    await start_bot(redis_url=redis_url if store == "redis" else None)
    yandex.hold = True
    update = telegram.new_update("/art a red fox --seed 7")
    telegram.push(update)
    await telegram.wait_for("sendMessage")
    telegram.push(dict(update))  # while the first is pending
    await asyncio.sleep(0.5)
    yandex.hold = False
    await telegram.wait_for("sendPhoto")
    telegram.push(dict(update))  # after the picture
    await asyncio.sleep(0.5)
    assert len(telegram.sent("sendMessage")) == 1
    assert len(telegram.sent("sendPhoto")) == 1
    assert yandex.generations == 1


async def test_pictures_waiting_for_telegram_hold_back_polls_not_memory(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    gate = asyncio.Event()

    async def hold_photos(stage: str, call: Any) -> bool:
        if call.method == "sendPhoto" and stage == "before":
            await gate.wait()
        return False

    telegram.on_call = hold_photos
    jobs = PICTURES_AT_ONCE + 8
    for n in range(jobs):
        telegram.push_message(f"/art crowd {n} --seed {n + 1}", chat_id=CHAT + n)
    try:
        # Each poll of a finished operation fetches its picture: only that many are held.
        async with asyncio.timeout(10):
            while yandex.polls < PICTURES_AT_ONCE:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # Telegram takes no photo: no place frees up for a poll
        assert yandex.polls == PICTURES_AT_ONCE
    finally:
        gate.set()
    await telegram.wait_for("sendPhoto", jobs, ok=True, timeout=5)


async def test_a_chat_behind_on_its_pictures_does_not_hold_back_other_chats(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    """A busy group's pictures wait for Telegram; it holds only its share of the places
    (more requests of it are polled later), so another chat's picture still goes out."""
    gate = asyncio.Event()
    busy = CHAT + 1

    async def hold_busy_chat(stage: str, call: Any) -> bool:
        if call.method == "sendPhoto" and call.params.get("chat_id") == str(busy):
            await gate.wait()
        return False

    telegram.on_call = hold_busy_chat
    jobs = PICTURES_AT_ONCE + 8
    for n in range(jobs):
        telegram.push_message(f"/art crowd {n} --seed {n + 1}", chat_id=busy)
    try:
        async with asyncio.timeout(10):
            while yandex.polls < PICTURES_PER_CHAT:
                await asyncio.sleep(0.05)
        telegram.push_message("/art a quiet fox --seed 1")
        await telegram.wait_for("sendPhoto", 1, chat_id=CHAT, ok=True, timeout=5)
        assert yandex.polls == PICTURES_PER_CHAT + 1
    finally:
        gate.set()
    await telegram.wait_for("sendPhoto", jobs, chat_id=busy, ok=True, timeout=30)
