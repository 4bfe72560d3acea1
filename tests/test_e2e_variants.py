"""--n N: N variants with seeds S…S+N−1, one status with progress, one album, then one
message with 📄 1…📄 N and 🔁; limits counted before any submit; the fake's album rules."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from bot.core.jobs import VARIANT_OK, Job, job_from_dict, job_to_dict
from bot.core.prompt import ArtRequest, PromptPart
from bot.emulators.telegram import Call, FakeTelegram, files_of
from bot.emulators.yandexart import FakeYandex
from tests.bot_process import BOT_TOKEN
from tests.conftest import RunningBot

CHAT = 7001


def buttons(call: Call) -> dict[str, str]:
    keyboard = call.json("reply_markup")["inline_keyboard"]
    return {b["text"]: b["callback_data"] for row in keyboard for b in row}


def images_by_seed(yandex: FakeYandex) -> dict[str, bytes]:
    return {op.body["generationOptions"]["seed"]: op.image for op in yandex.operations.values()}


async def all_ended(running: RunningBot) -> None:
    """Every job has ended (slot released, picture cached), not just sent its album."""
    while await running.dispatcher["store"].active_count():
        await asyncio.sleep(0.02)


def album_bytes(album: Call) -> list[bytes]:
    return [files_of(album, item["media"]) for item in album.json("media")]


async def test_variants_come_as_one_album_with_their_seeds(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    # Variant 1 (seed 10) is done at once, the others later: the status shows the progress.
    yandex.duration = lambda body: 0.0 if body["generationOptions"]["seed"] == "10" else 0.8
    request_id = telegram.push_message("/art a red fox --n 3 --seed 10 --ratio 16:9")
    status = (await telegram.wait_for("sendMessage"))[0]
    assert status.params["text"] == "🎨 Generating 3 variants… seeds 10–12, 16:9"
    album = (await telegram.wait_for("sendMediaGroup"))[0]

    assert sorted(body["generationOptions"]["seed"] for _, body in yandex.submits) == [
        "10",
        "11",
        "12",
    ]
    images = images_by_seed(yandex)
    assert album_bytes(album) == [images["10"], images["11"], images["12"]]
    captions = [item.get("caption") for item in album.json("media")]
    assert captions == ["a red fox\n\nseeds 10–12 · 16:9", None, None]
    assert album.json("reply_parameters")["message_id"] == request_id
    assert "reply_markup" not in album.params
    progress = [c.params["text"] for c in telegram.sent("editMessageText")]
    assert "🎨 Generating 3 variants… seeds 10–12, 16:9\n1/3 ready" in progress

    after = (await telegram.wait_for("sendMessage", 2))[-1]
    assert list(buttons(after)) == ["📄 1", "📄 2", "📄 3", "🔁"]
    assert after.json("reply_parameters")["message_id"] == album.result[0]["message_id"]
    deleted = await telegram.wait_for("deleteMessage")
    assert deleted[0].params["message_id"] == str(status.result["message_id"])
    assert all(len(data) <= 64 for data in buttons(after).values())

    telegram.push_callback(buttons(after)["📄 2"], message=after.result)
    document = (await telegram.wait_for("sendDocument"))[0]
    assert files_of(document, document.params["document"]) == images["11"]
    telegram.push_callback(buttons(after)["🔁"], message=after.result)
    await telegram.wait_for("sendMediaGroup", 2)
    again = [body["generationOptions"]["seed"] for _, body in yandex.submits[3:]]
    assert len(again) == 3
    assert int(again[1]) == int(again[0]) + 1
    assert "10" not in again


async def test_picked_seeds_follow_each_other_and_the_cache_serves_each_variant(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_message("/art an owl -n 2")
    first = (await telegram.wait_for("sendMediaGroup"))[0]
    await all_ended(running)
    seeds = sorted(int(body["generationOptions"]["seed"]) for _, body in yandex.submits)
    assert seeds[1] == seeds[0] + 1
    telegram.push_message(f"/art an owl -n 2 --seed {seeds[0]}")
    second = (await telegram.wait_for("sendMediaGroup", 2))[-1]
    assert yandex.generations == 2
    file_ids = [m["photo"][-1]["file_id"] for m in first.result]
    assert [item["media"] for item in second.json("media")] == file_ids


async def test_failed_variants_are_left_out_and_named(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    yandex.hold = True
    telegram.push_message("/art a cat --n 3 --seed 20")
    while len(yandex.operations) < 3:
        await asyncio.sleep(0.02)
    by_seed = {op.body["generationOptions"]["seed"]: op for op in yandex.operations.values()}
    by_seed["21"].error = {"code": 13, "message": "internal error", "details": []}
    yandex.hold = False
    album = (await telegram.wait_for("sendMediaGroup"))[0]
    assert album_bytes(album) == [by_seed["20"].image, by_seed["22"].image]
    assert album.json("media")[0]["caption"] == "a cat\n\nseeds 20–22 · 1:1\nNot drawn: 2"
    after = (await telegram.wait_for("sendMessage", 2))[-1]
    assert list(buttons(after)) == ["📄 1", "📄 3", "🔁"]


async def test_a_single_survivor_goes_as_a_plain_photo(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    yandex.hold = True
    telegram.push_message("/art a cat --n 2 --seed 30")
    while len(yandex.operations) < 2:
        await asyncio.sleep(0.02)
    by_seed = {op.body["generationOptions"]["seed"]: op for op in yandex.operations.values()}
    by_seed["30"].error = {"code": 13, "message": "internal error", "details": []}
    yandex.hold = False
    photo = (await telegram.wait_for("sendPhoto"))[0]
    assert files_of(photo, photo.params["photo"]) == by_seed["31"].image
    assert photo.params["caption"] == "a cat\n\nseeds 30–31 · 1:1\nNot drawn: 1"
    assert list(buttons(photo)) == ["📄 2", "🔁"]
    assert telegram.sent("sendMediaGroup") == []


async def test_a_variant_that_is_not_an_image_is_left_out(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    yandex.hold = True
    telegram.push_message("/art a cat --n 3 --seed 70")
    while len(yandex.operations) < 3:
        await asyncio.sleep(0.02)
    by_seed = {op.body["generationOptions"]["seed"]: op for op in yandex.operations.values()}
    by_seed["71"].image = b"<html>502 Bad Gateway</html>"
    yandex.hold = False
    album = (await telegram.wait_for("sendMediaGroup"))[0]
    assert album_bytes(album) == [by_seed["70"].image, by_seed["72"].image]
    assert album.json("media")[0]["caption"] == "a cat\n\nseeds 70–72 · 1:1\nNot drawn: 2"


async def test_an_album_telegram_refuses_as_photos_goes_out_as_files(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.fail("sendMediaGroup", 400, "Bad Request: IMAGE_PROCESS_FAILED")
    request_id = telegram.push_message("/art a cat --n 2 --seed 50")
    album = (await telegram.wait_for("sendMediaGroup", ok=True))[0]
    assert [item["type"] for item in album.json("media")] == ["document", "document"]
    images = images_by_seed(yandex)
    assert album_bytes(album) == [images["50"], images["51"]]
    assert album.json("media")[0]["caption"] == "a cat\n\nseeds 50–51 · 1:1"
    assert album.json("reply_parameters")["message_id"] == request_id
    after = (await telegram.wait_for("sendMessage", 2))[-1]
    assert list(buttons(after)) == ["📄 1", "📄 2", "🔁"]
    assert len(telegram.sent("sendMediaGroup")) == 2  # as photos (refused), then as files


async def test_an_album_refused_as_photos_and_as_files_is_explained(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.fail("sendMediaGroup", 400, "Bad Request: IMAGE_PROCESS_FAILED", times=2)
    telegram.push_message("/art a cat --n 2 --seed 60")
    status = (await telegram.wait_for("sendMessage"))[0]
    await all_ended(running)
    told = [c for c in telegram.sent("editMessageText", ok=True) if "would not" in str(c.params)]
    assert len(told) == 1
    assert told[0].params["message_id"] == str(status.result["message_id"])
    assert told[0].params["text"].startswith("The picture is ready, but Telegram would not")
    assert len(telegram.sent("sendMediaGroup")) == 2
    assert telegram.sent("sendMediaGroup", ok=True) == []


async def test_an_album_that_cannot_be_delivered_by_the_deadline_ends_told(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.fail(
        "sendMediaGroup", 429, "Too Many Requests: retry after 600", times=10**6, retry_after=600
    )
    running = await start_bot(generation_deadline=1.0)
    telegram.push_message("/art a cat Telegram will not take now --n 2 --seed 90")
    await telegram.wait_for("sendMessage")  # the status: the job is stored
    await all_ended(running)
    told = [
        c.params["text"]
        for c in telegram.sent("editMessageText", ok=True)
        if "could not" in c.params["text"]
    ]
    assert len(told) == 1
    assert told[0].startswith("The picture was ready, but Telegram could not")
    attempts = len(telegram.sent("sendMediaGroup"))
    assert attempts >= 2  # it did retry until the deadline
    await asyncio.sleep(0.5)
    assert len(telegram.sent("sendMediaGroup")) == attempts  # and then stopped


async def test_an_albums_originals_cost_no_quota_and_each_is_its_own_press(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    """📄 N re-fetches a variant Yandex keeps: no quota (the day's is spent here), one
    slot per variant, so a second press of the same 📄 while it is on its way starts
    nothing and another variant's press is not held up."""
    running = await start_bot(daily_quota_per_user=2)
    telegram.push_message("/art a fox --n 2 --seed 80")
    await telegram.wait_for("sendMediaGroup")
    after = (await telegram.wait_for("sendMessage", 2))[-1]
    await all_ended(running)
    yandex.hold = True  # the re-fetches stay in flight while the presses come
    for label in ("📄 1", "📄 1", "📄 2"):
        telegram.push_callback(buttons(after)[label], message=after.result)
    answers = await telegram.wait_for("answerCallbackQuery", 3, ok=True)
    assert sorted(a.params["text"] for a in answers) == [
        "Sending the original JPEG…",
        "Sending the original JPEG…",
        "The original of this picture is already on its way.",
    ]
    yandex.hold = False
    documents = await telegram.wait_for("sendDocument", 2)
    images = images_by_seed(yandex)
    sent = sorted(files_of(d, d.params["document"]) for d in documents)
    assert sent == sorted([images["80"], images["81"]])
    await all_ended(running)
    assert len(telegram.sent("sendDocument")) == 2
    assert yandex.generations == 2  # only the album itself


async def test_limits_count_the_request_once_and_each_picture_for_the_day(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    running = await start_bot(max_concurrent_per_user=1, daily_quota_per_user=5)
    telegram.push_message("/art a fox --n 3")  # one request: the concurrent limit holds
    await telegram.wait_for("sendMediaGroup")
    await all_ended(running)
    telegram.push_message("/art a fox --n 3")
    refusal = (await telegram.wait_for("sendMessage", 3))[-1].params["text"]
    assert refusal.startswith("Only 2 pictures remain today (the daily limit is 5)")
    assert yandex.generations == 3  # refused before anything was submitted
    telegram.push_message("/art a fox --n 2")
    await telegram.wait_for("sendMediaGroup", 2)
    await all_ended(running)
    telegram.push_message("/art a fox")
    refusal = (await telegram.wait_for("sendMessage", 6))[-1].params["text"]
    assert refusal.startswith("You have drawn 5 pictures today")
    assert yandex.generations == 5


@pytest.mark.parametrize(
    ("flag", "answer"), [("--n 5", "--n 5</code> is not valid"), ("-n 0", "--n 0")]
)
async def test_too_many_or_too_few_variants_are_refused(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex, flag: str, answer: str
) -> None:
    telegram.push_message(f"/art a fox {flag}")
    reply = (await telegram.wait_for("sendMessage"))[0].params["text"]
    assert answer in reply
    assert "1 to 4 variants" in reply
    assert yandex.submits == []


async def test_inline_mode_answers_variants_with_an_error(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_inline_query("an owl --n 2")
    answer = (await telegram.wait_for("answerInlineQuery"))[0]
    [result] = answer.json("results")
    assert result["id"] == "error"
    assert result["description"].startswith("Inline mode draws one picture")
    assert yandex.submits == []


async def test_help_documents_variants_in_both_languages(
    running: RunningBot, telegram: FakeTelegram
) -> None:
    telegram.push_message("/help")
    telegram.push_message("/help", language_code="ru")
    en, ru = (c.params["text"] for c in await telegram.wait_for("sendMessage", 2))
    assert "<code>--n N</code> (or <code>-n N</code>, 1…4)" in en
    assert "<code>--n N</code> (или <code>-n N</code>, 1…4)" in ru


async def send_media_group(
    telegram: FakeTelegram, token: str = BOT_TOKEN, **params: Any
) -> dict[str, Any]:
    form = aiohttp.FormData()
    for name, value in params.items():
        form.add_field(name, value if isinstance(value, str | bytes) else json.dumps(value))
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{telegram.url}/bot{token}/sendMediaGroup", data=form) as response,
    ):
        answer: dict[str, Any] = await response.json()
        return answer


@pytest.mark.parametrize(
    ("media", "extra", "error"),
    [
        ([{"type": "photo", "media": "photo-1"}], {}, "wrong number of media"),
        ([{"type": "photo", "media": "photo-1"}] * 11, {}, "wrong number of media"),
        ([{"type": "photo", "media": "photo-1"}] * 2, {"reply_markup": {}}, "reply_markup"),
        (
            [{"type": "photo", "media": "photo-1"}, {"type": "document", "media": "photo-2"}],
            {},
            "can't be mixed",
        ),
        (
            [{"type": "photo", "media": "photo-1", "caption": "😀" * 513}] * 2,
            {},
            "caption is too long",
        ),
        (
            [{"type": "photo", "media": "photo-1", "caption": "<b>x", "parse_mode": "HTML"}] * 2,
            {},
            "can't parse entities",
        ),
    ],
)
async def test_fake_refuses_albums_as_telegram_does(
    telegram: FakeTelegram, media: list[dict[str, Any]], extra: dict[str, Any], error: str
) -> None:
    answer = await send_media_group(telegram, chat_id=str(CHAT), media=media, **extra)
    assert answer["ok"] is False
    assert error in answer["description"]
    assert telegram.messages == {}
    caption = "<b>x</b>" + "y" * 1023  # 1024 visible characters
    media = [
        {"type": "photo", "media": "photo-1", "caption": caption},
        {"type": "photo", "media": "photo-2"},
    ]
    ok = await send_media_group(telegram, chat_id=str(CHAT), media=media)
    assert ok["ok"] is False  # without parse_mode the tags count
    media[0]["parse_mode"] = "HTML"
    ok = await send_media_group(telegram, chat_id=str(CHAT), media=media)
    assert ok["ok"] is True
    assert len(ok["result"]) == 2
    assert ok["result"][0]["media_group_id"] == ok["result"][1]["media_group_id"]


async def test_cancel_stops_every_variant_with_one_message(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    yandex.hold = True
    telegram.push_message("/art a cat --n 3 --seed 40")
    status = (await telegram.wait_for("sendMessage"))[0]
    while len(yandex.operations) < 3:
        await asyncio.sleep(0.02)
    telegram.push_callback(buttons(status)["✖️ Cancel"], message=status.result)
    edit = (await telegram.wait_for("editMessageText"))[-1]
    assert edit.params["text"] == "Cancelled."
    assert sorted(yandex.cancels) == sorted(yandex.operations)
    yandex.hold = False
    await all_ended(running)
    assert telegram.sent("sendMediaGroup") == []
    assert telegram.sent("sendPhoto") == []


def test_album_jobs_survive_the_stores_json() -> None:
    job = Job(
        id="j",
        chat_id=1,
        user_id=2,
        locale="en",
        request=ArtRequest(parts=(PromptPart("a cat"),), seed=5, variants=3, style="oil"),
        seed=5,
        idempotency_key="k",
        created_at=0.0,
        deadline_at=1.0,
        next_poll_at=0.0,
        variant_ops=("op1", "", "op3"),
        variant_results=(VARIANT_OK, "moderation", ""),
        variant_files=("photo-1", "", ""),
    )
    assert job_from_dict(json.loads(json.dumps(job_to_dict(job)))) == job


async def test_fake_refuses_albums_sent_with_another_token(telegram: FakeTelegram) -> None:
    media = [{"type": "photo", "media": "photo-1"}, {"type": "photo", "media": "photo-2"}]
    answer = await send_media_group(telegram, "123:wrong", chat_id=str(CHAT), media=media)
    assert answer["ok"] is False
    assert answer["error_code"] == 401
    assert telegram.messages == {}


async def test_an_album_telegram_will_not_take_yet_is_fetched_once_and_delivered_later(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    """Issue 21 item 1, albums: the variants are kept while sendMediaGroup answers 429
    retry_after=300; the later delivery neither draws nor fetches them again."""
    for _ in range(2):
        telegram.fail("sendMediaGroup", 429, "Too Many Requests: retry after 300", retry_after=300)
    request_id = telegram.push_message("/art a patient heron --n 3")
    album = (await telegram.wait_for("sendMediaGroup", ok=True))[0]
    await all_ended(running)
    assert telegram.faults["sendMediaGroup"] == []  # both refusals were injected
    assert len(yandex.submits) == 3
    assert sorted(album_bytes(album)) == sorted(images_by_seed(yandex).values())
    # Each operation answered "done" once: the picture was never fetched again.
    assert [op.polls - op.polls_to_finish for op in yandex.operations.values()] == [0, 0, 0]
    job_id = running.dispatcher["art_service"].job_ids.of("message", CHAT, request_id)
    store = running.dispatcher["store"]
    assert [await store.kept_picture(job_id, i) for i in range(3)] == [None] * 3  # dropped
