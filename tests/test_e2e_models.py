"""Two models end to end: YandexART (async) and the Images API (`aliceai`, synchronous),
the real bot against the fake Bot API, the fake YandexART and the fake Images API."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.emulators.images import FakeImages
from bot.emulators.telegram import Call, FakeTelegram, files_of
from bot.emulators.yandexart import FakeYandex, Reply
from tests.bot_process import API_KEY, BotProcess, fast_settings
from tests.conftest import ALICE_URI, RunningBot

USER = 7001


@pytest.fixture
async def both(start_bot: Any, images: FakeImages) -> RunningBot:
    """A bot offering both models; YandexART is the default."""
    running: RunningBot = await start_bot(
        models="yandexart,aliceai", images_api_url=images.url, admin_ids="7001"
    )
    return running


def buttons(call: Call) -> dict[str, str]:
    keyboard = call.json("reply_markup")["inline_keyboard"]
    return {b["text"]: b["callback_data"] for row in keyboard for b in row}


def replying_to(calls: list[Call], message_id: int) -> Call:
    return next(c for c in calls if c.json("reply_parameters")["message_id"] == message_id)


async def settle() -> None:
    """Give a wrong reaction the time to show up before asserting there was none."""
    await asyncio.sleep(0.5)


async def test_both_models_in_one_run_each_with_its_own_pictures(
    both: RunningBot, telegram: FakeTelegram, yandex: FakeYandex, images: FakeImages
) -> None:
    art_id = telegram.push_message("/art a red fox --seed 42 --ratio 16:9")
    alice_id = telegram.push_message("/art an owl at dusk --model AliceAI --ratio 32:18")
    photos = await telegram.wait_for("sendPhoto", 2)
    statuses = telegram.sent("sendMessage")
    assert replying_to(statuses, art_id).params["text"] == "🎨 Generating… yandexart, seed 42, 16:9"
    assert replying_to(statuses, alice_id).params["text"] == "🎨 Generating… aliceai, 16:9"

    # Each model got only its own request, in its own format.
    assert [body["messages"] for _, body in yandex.submits] == [
        [{"weight": 1.0, "text": "a red fox"}]
    ]
    [(headers, body)] = images.calls
    assert body == {"model": ALICE_URI, "prompt": "an owl at dusk", "size": "16x9"}
    assert headers["Authorization"] == f"Api-Key {API_KEY}"

    art_photo = replying_to(photos, art_id)
    alice_photo = replying_to(photos, alice_id)
    operation = next(iter(yandex.operations.values()))
    assert files_of(art_photo, art_photo.params["photo"]) == operation.image
    assert files_of(alice_photo, alice_photo.params["photo"]) == images.images[0]
    assert art_photo.params["caption"] == "a red fox\n\nyandexart · seed 42 · 16:9"
    assert alice_photo.params["caption"] == "an owl at dusk\n\naliceai · 16:9"
    # The Images API keeps nothing to fetch again: no "Original" under its picture.
    assert set(buttons(art_photo)) == {"🔁 Again", "📄 Original"}
    assert set(buttons(alice_photo)) == {"🔁 Again"}
    # Its status message goes away as for YandexART.
    await telegram.wait_for("deleteMessage", 2)

    # "Again" simply draws again, with the same model.
    telegram.push_callback(buttons(alice_photo)["🔁 Again"], message=alice_photo.result)
    await telegram.wait_for("sendPhoto", 3)
    assert len(images.calls) == 2
    assert images.calls[1][1] == body
    assert len(yandex.submits) == 1


async def test_a_refused_photo_of_the_images_api_goes_as_a_file_without_original(
    both: RunningBot, telegram: FakeTelegram, images: FakeImages
) -> None:
    """The fallback to a document keeps the model's buttons: nothing to fetch again."""
    telegram.fail("sendPhoto", 400, "Bad Request: IMAGE_PROCESS_FAILED")
    telegram.push_message("/art an owl Telegram cannot process --model aliceai")
    document = (await telegram.wait_for("sendDocument", ok=True))[0]
    assert files_of(document, document.params["document"]) == images.images[0]
    assert set(buttons(document)) == {"🔁 Again"}


async def test_enhance_rewrites_the_prompt_for_the_images_api(
    both: RunningBot, telegram: FakeTelegram, yandex: FakeYandex, images: FakeImages
) -> None:
    telegram.push_message("/art a cat --model aliceai --enhance")
    photo = (await telegram.wait_for("sendPhoto"))[0]
    assert images.calls[0][1]["prompt"] == "vivid a cat"
    assert photo.params["caption"].endswith("aliceai · 1:1")
    assert len(yandex.completions) == 1


REFUSED = [
    ("/art a fox --model aliceai --seed 5", "The <b>aliceai</b> model has no seeds"),
    ("/art a fox --seed=0 --model=aliceai", "The <b>aliceai</b> model has no seeds"),
    (
        "/art misty forest :: 2 | a fox :: 1 --model aliceai",
        "The <b>aliceai</b> model takes no weighted parts",
    ),
    ("/art a fox --model dalle", "Unknown model <code>dalle</code>. Models: yandexart, aliceai."),
]


@pytest.mark.parametrize(("text", "answer"), REFUSED)
async def test_seed_and_weights_are_refused_for_aliceai_before_any_call(
    both: RunningBot,
    telegram: FakeTelegram,
    yandex: FakeYandex,
    images: FakeImages,
    text: str,
    answer: str,
) -> None:
    telegram.push_message(text)
    reply = (await telegram.wait_for("sendMessage"))[0]
    assert answer in reply.params["text"]
    # The bot is alive; the refused request reached neither model.
    telegram.push_message("/art a fox --model aliceai")
    await telegram.wait_for("sendPhoto")
    assert [body["prompt"] for _, body in images.calls] == ["a fox"]
    assert yandex.submits == []


async def test_refusal_in_russian_names_the_model(
    both: RunningBot, telegram: FakeTelegram, images: FakeImages
) -> None:
    telegram.push_message("/art лиса --model aliceai --seed 3", language_code="ru")
    reply = (await telegram.wait_for("sendMessage"))[0]
    assert reply.params["text"].startswith("У модели <b>aliceai</b> нет seed")
    await settle()
    assert images.calls == []


async def test_default_model_setting_and_models_offered(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, images: FakeImages
) -> None:
    await start_bot(models="aliceai", default_model="aliceai", images_api_url=images.url)
    telegram.push_message("/art a fox --seed 9")
    refused = (await telegram.wait_for("sendMessage"))[0]
    assert "The <b>aliceai</b> model has no seeds" in refused.params["text"]
    telegram.push_message("/art a fox --model yandexart")
    unknown = (await telegram.wait_for("sendMessage", 2))[1]
    assert "Unknown model <code>yandexart</code>. Models: aliceai." in unknown.params["text"]
    telegram.push_message("/art a fox")
    photo = (await telegram.wait_for("sendPhoto"))[0]
    # A model without seeds shows none, even as the only model.
    assert photo.params["caption"] == "a fox\n\naliceai · 1:1"
    assert yandex.submits == []
    assert len(images.calls) == 1


async def test_settings_pick_the_default_model(
    both: RunningBot, telegram: FakeTelegram, yandex: FakeYandex, images: FakeImages
) -> None:
    telegram.push_message("/settings")
    menu = (await telegram.wait_for("sendMessage"))[0]
    assert "Default model: yandexart" in menu.params["text"]
    assert {"✓ yandexart", "aliceai"} <= set(buttons(menu))
    telegram.push_callback(buttons(menu)["aliceai"], message=menu.result)
    edited = (await telegram.wait_for("editMessageText"))[0]
    assert "Default model: aliceai" in edited.params["text"]
    assert {"yandexart", "✓ aliceai"} <= set(buttons(edited))

    telegram.push_message("/art a quiet harbour")
    telegram.push_message("/art a loud harbour --model yandexart")
    await telegram.wait_for("sendPhoto", 2)
    assert [body["prompt"] for _, body in images.calls] == ["a quiet harbour"]
    assert [body["messages"][0]["text"] for _, body in yandex.submits] == ["a loud harbour"]


async def test_help_explains_the_models(both: RunningBot, telegram: FakeTelegram) -> None:
    telegram.push_message("/help")
    telegram.push_message("/help", language_code="ru")
    english, russian = (c.params["text"] for c in await telegram.wait_for("sendMessage", 2))
    assert "<code>--model NAME</code>" in english
    assert "<code>aliceai</code>: Alice AI" in english
    assert "No <code>--seed</code>, no weighted parts and no <code>--n</code>" in english
    assert "a <code>--style</code> is added to the prompt as a sentence" in english
    assert "<code>yandexart</code>: YandexART" in russian
    assert "Без <code>--seed</code>" in russian


async def test_one_model_offers_no_model_choice(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    """MODELS=yandexart: /settings offers no model; /help's usage line still lists every flag
    (issue 23), `--model` among them."""
    telegram.push_message("/help")
    telegram.push_message("/settings")
    help_text, menu = await telegram.wait_for("sendMessage", 2)
    assert "[--model NAME]" in help_text.params["text"]
    assert "model" not in menu.params["text"]


# --- errors, budgets, cancel -------------------------------------------------------------


async def test_the_fake_refuses_what_the_images_api_refuses(images: FakeImages) -> None:
    good = {"model": ALICE_URI, "prompt": "a fox", "size": "16x9"}
    auth = {"Authorization": f"Api-Key {API_KEY}"}
    cases: list[tuple[dict[str, Any], dict[str, str], int]] = [
        (good, {"Authorization": "Api-Key wrong"}, 401),
        ({**good, "seed": 5}, auth, 400),
        ({**good, "n": 1}, auth, 400),
        ({**good, "response_format": "b64_json"}, auth, 400),
        ({**good, "size": "16:9"}, auth, 400),
        ({**good, "size": "0x9"}, auth, 400),
        ({**good, "model": "art://other/aliceai-image-art-3.0"}, auth, 400),
        ({**good, "prompt": " "}, auth, 400),
        (good, auth, 200),
    ]
    async with aiohttp.ClientSession() as http:
        for body, headers, status in cases:
            url = images.url + "/v1/images/generations"
            async with http.post(url, json=body, headers=headers) as resp:
                assert resp.status == status, body
    assert len(images.images) == 1


async def test_errors_map_to_the_usual_explanations(
    both: RunningBot, telegram: FakeTelegram, images: FakeImages
) -> None:
    telegram.push_message("/art a forbidden fox --model aliceai")
    moderation = (await telegram.wait_for("editMessageText"))[0]
    assert moderation.params["text"].startswith("Yandex (aliceai) refused this prompt")

    images.faults.append(Reply(401, {"error": {"message": "Unknown api key"}}))
    telegram.push_message("/art a fox --model aliceai")
    auth = (await telegram.wait_for("editMessageText", 2))[1]
    assert "cannot reach the aliceai model" in auth.params["text"]
    assert not telegram.sent("sendPhoto")


async def test_rate_limit_outage_and_network_errors_are_retried_into_one_picture(
    both: RunningBot, telegram: FakeTelegram, images: FakeImages
) -> None:
    images.drops = 1
    images.faults += [
        Reply(429, {"error": {"message": "rate exceeded"}}, {"Retry-After": "0"}),
        Reply(503, {"error": {"message": "unavailable"}}),
    ]
    telegram.push_message("/art a patient fox --model aliceai")
    photo = (await telegram.wait_for("sendPhoto"))[0]
    assert (images.drops, images.faults) == (0, [])  # every fault was injected
    assert len(images.calls) == 4
    assert len(images.images) == 1
    assert files_of(photo, photo.params["photo"]) == images.images[0]


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (503, "The aliceai model is unavailable right now. Please try again later."),
        (
            429,
            "The aliceai model is over its request quota right now. "
            "Please try again in a few minutes.",
        ),
    ],
)
async def test_refusals_past_patience_tell_the_user_why(
    start_bot: Any, telegram: FakeTelegram, images: FakeImages, status: int, answer: str
) -> None:
    await start_bot(
        models="aliceai",
        default_model="aliceai",
        images_api_url=images.url,
        http_retries=0,
        submit_patience=0.3,
    )
    images.faults += [Reply(status, {"error": {"message": "try later"}})] * 50
    telegram.push_message("/art a fox")
    failure = (await telegram.wait_for("editMessageText"))[0]
    assert failure.params["text"] == answer
    assert len(images.faults) < 50
    assert images.images == []


async def test_a_hanging_call_ends_at_the_request_deadline(
    start_bot: Any, telegram: FakeTelegram, images: FakeImages
) -> None:
    """IMAGES_HTTP_TIMEOUT is 120 s, but the call may not outlive the request's deadline."""
    await start_bot(
        models="aliceai",
        default_model="aliceai",
        images_api_url=images.url,
        generation_deadline=1.0,
    )
    images.hold.clear()
    telegram.push_message("/art a fox")
    failure = (await telegram.wait_for("editMessageText"))[0]
    assert failure.params["text"] == (
        "The aliceai model is unavailable right now. Please try again later."
    )
    assert images.held == 1
    assert images.images == []


async def test_cancel_during_the_call_sends_no_picture(
    both: RunningBot, telegram: FakeTelegram, images: FakeImages
) -> None:
    images.hold.clear()
    telegram.push_message("/art a slow owl --model aliceai")
    status = (await telegram.wait_for("sendMessage"))[0]
    while images.held < 1:
        await asyncio.sleep(0.05)
    telegram.push_callback(buttons(status)["✖️ Cancel"], message=status.result, user_id=USER)
    edit = (await telegram.wait_for("editMessageText"))[0]
    assert edit.params["text"] == "Cancelled."
    images.hold.set()
    await settle()
    assert not telegram.sent("sendPhoto")


async def test_stats_and_metrics_per_model(
    both: RunningBot, telegram: FakeTelegram, images: FakeImages
) -> None:
    telegram.push_message("/art a fox --seed 1")
    telegram.push_message("/art an owl --model aliceai")
    telegram.push_message("/art a forbidden owl --model aliceai")
    await telegram.wait_for("sendPhoto", 2)
    await telegram.wait_for("editMessageText")
    telegram.push_message("/stats")
    report = (await telegram.wait_for("sendMessage", 4))[-1].params["text"]
    assert "aliceai: submitted 1, delivered 1, failed 1" in report
    assert "yandexart: submitted 1, delivered 1, failed 0" in report
    metrics = both.dispatcher["metrics"].render().decode()
    assert 'art_submits_total{model="aliceai"} 1.0' in metrics
    assert 'art_failures_total{kind="moderation",model="aliceai"} 1.0' in metrics
    assert 'art_deliveries_total{model="yandexart",outcome="sent"} 1.0' in metrics


# --- restart -----------------------------------------------------------------------------


async def test_bot_killed_during_an_images_call_draws_once_after_restart(
    tmp_path: Path,
    telegram: FakeTelegram,
    yandex: FakeYandex,
    images: FakeImages,
    redis_url: str,
) -> None:
    env = fast_settings(
        telegram.url,
        yandex.url,
        redis_url,
        JOB_LEASE_SECONDS="2",
        MODELS="aliceai",
        DEFAULT_MODEL="aliceai",
        IMAGES_API_URL=images.url,
    )
    images.hold.clear()
    first = BotProcess(env, tmp_path, "first")
    await first.start()
    await telegram.wait_for("setMyCommands", 2, timeout=30)
    request_id = telegram.push_message("/art a fox that survives crashes")
    status = (await telegram.wait_for("sendMessage", timeout=30))[0]
    async with asyncio.timeout(20):
        while images.held < 1:
            await asyncio.sleep(0.05)
    first.kill()  # in the middle of the call: the answer will reach nobody
    await first.wait()
    images.hold.set()

    second = BotProcess(env, tmp_path, "second")
    await second.start()
    photo = (await telegram.wait_for("sendPhoto", timeout=30))[0]
    assert photo.json("reply_parameters")["message_id"] == request_id
    assert photo.params["caption"] == "a fox that survives crashes\n\naliceai · 1:1"
    # The picture of the second call, the one the restarted bot heard.
    assert files_of(photo, photo.params["photo"]) == images.images[-1]
    deleted = await telegram.wait_for("deleteMessage", timeout=10)
    assert deleted[0].params["message_id"] == str(status.result["message_id"])
    await asyncio.sleep(1.0)  # room for a duplicate to show up
    assert len(telegram.sent("sendPhoto")) == 1
    assert len(images.calls) == 2  # drawn (and possibly billed) twice, delivered once
    assert await second.stop() == 0
    assert "Traceback" not in second.log


@pytest.mark.parametrize("model", ["aliceai", "yandexart"])
async def test_a_picture_telegram_will_not_take_yet_is_drawn_once_and_delivered_later(
    both: RunningBot,
    telegram: FakeTelegram,
    yandex: FakeYandex,
    images: FakeImages,
    model: str,
) -> None:
    """Issue 21 item 1: sendPhoto answering 429 retry_after=300 puts the delivery off;
    the picture is kept and only its delivery is tried again: one billed call."""
    telegram.fail("sendPhoto", 429, "Too Many Requests: retry after 300", retry_after=300)
    telegram.fail("sendPhoto", 429, "Too Many Requests: retry after 300", retry_after=300)
    telegram.push_message(f"/art a patient owl --model {model}")
    photo = (await telegram.wait_for("sendPhoto", ok=True))[0]
    assert telegram.faults["sendPhoto"] == []  # both refusals were injected
    drawn = images.images if model == "aliceai" else [o.image for o in yandex.operations.values()]
    assert len(images.calls) + len(yandex.submits) == 1
    assert files_of(photo, photo.params["photo"]) == drawn[0]
    # A YandexART operation answered "done" once: its picture was not fetched again.
    assert [op.polls - op.polls_to_finish for op in yandex.operations.values()] in ([], [0])
    await settle()
    assert len(images.calls) + len(yandex.submits) == 1
    assert len(telegram.sent("sendPhoto", ok=True)) == 1


async def test_seed_out_of_the_box_is_drawn_by_a_model_that_takes_it(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, images: FakeImages
) -> None:
    """The shipped defaults (MODELS=aliceai,yandexart, DEFAULT_MODEL=aliceai, asserted in
    test_models.py): `/art … --seed 42` goes to YandexART, which takes seeds, and the status
    and caption name it; a request without flags stays with the default."""
    await start_bot(models="aliceai,yandexart", default_model="aliceai", images_api_url=images.url)
    seeded = telegram.push_message("/art a red fox in the snow --seed 42 --ratio 2:1")
    plain = telegram.push_message("/art an owl at dusk")
    photos = await telegram.wait_for("sendPhoto", 2)
    statuses = telegram.sent("sendMessage")
    assert replying_to(statuses, seeded).params["text"] == "🎨 Generating… yandexart, seed 42, 2:1"
    [(_, body)] = yandex.submits
    assert body["generationOptions"]["seed"] == "42"
    assert replying_to(photos, seeded).params["caption"].endswith("yandexart · seed 42 · 2:1")
    assert [body["prompt"] for _, body in images.calls] == ["an owl at dusk"]
    assert replying_to(photos, plain).params["caption"].endswith("aliceai · 1:1")
