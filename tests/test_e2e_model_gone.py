"""A model Yandex refuses as a model (or whose operations never finish) is set aside and
requests are drawn by the next one: the real bot against the fake Bot API, the fake
YandexART and the fake Images API (issue 20)."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.emulators.images import FakeImages
from bot.emulators.telegram import Call, FakeTelegram
from bot.emulators.yandexart import FakeYandex, model_denied, model_not_found
from tests.bot_process import FOLDER
from tests.conftest import ALICE_URI, RunningBot

ART_URI = f"art://{FOLDER}/yandex-art/latest"
ADMINS = (9001, 9002)


def settings(images: FakeImages, **overrides: Any) -> dict[str, Any]:
    """Both models, YandexART first and the default, as the bot's old defaults had it."""
    return {
        "models": "yandexart,aliceai",
        "default_model": "yandexart",
        "art_model_uri": "art://{folder}/yandex-art/latest",
        "images_api_url": images.url,
        "admin_ids": ",".join(map(str, ADMINS)),
        **overrides,
    }


def admin_messages(telegram: FakeTelegram) -> list[Call]:
    return [c for c in telegram.sent("sendMessage") if int(c.params["chat_id"]) in ADMINS]


async def photos(telegram: FakeTelegram, n: int) -> list[Call]:
    return await telegram.wait_for("sendPhoto", n)


async def test_a_denied_model_is_set_aside_and_aliceai_draws(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, images: FakeImages
) -> None:
    yandex.refused_models[ART_URI] = model_denied()
    running: RunningBot = await start_bot(**settings(images, model_retry_after=60))
    telegram.push_message("/art a red fox")
    photo = (await photos(telegram, 1))[0]
    # The status said at once which model draws it now, and why.
    edited = (await telegram.wait_for("editMessageText"))[0].params["text"]
    assert edited == (
        "🎨 Generating… aliceai, 1:1\nDrawn by aliceai: yandexart is unavailable right now."
    )
    # One submit refused as a model, one Images API call that drew it.
    assert len(yandex.submits) == 1
    assert len(images.calls) == 1
    assert photo.params["caption"] == (
        "a red fox\n\naliceai · 1:1\nDrawn by aliceai: yandexart is unavailable right now."
    )
    # Each admin got one message, with Yandex's text and what to change.
    told = admin_messages(telegram)
    assert sorted(int(c.params["chat_id"]) for c in told) == sorted(ADMINS)
    assert "Access to model denied" in told[0].params["text"]
    assert "ART_MODEL_URI" in told[0].params["text"]

    # The next request goes to aliceai at once: no YandexART submit, its status says so.
    telegram.push_message("/art a blue fox")
    await photos(telegram, 2)
    assert len(yandex.submits) == 1
    assert len(images.calls) == 2
    status = telegram.sent("sendMessage")[-1].params["text"]
    assert "Drawn by aliceai: yandexart is unavailable right now." in status
    assert len(admin_messages(telegram)) == len(ADMINS)

    # /stats and /metrics show it.
    telegram.push_message("/stats", user_id=ADMINS[0])
    report = (await telegram.wait_for("sendMessage", len(ADMINS) + 3))[-1].params["text"]
    assert "⚠️ yandexart: set aside" in report
    metrics = running.dispatcher["metrics"].render().decode()
    assert 'art_model_available{model="yandexart"} 0.0' in metrics
    assert 'art_model_available{model="aliceai"} 1.0' in metrics


async def test_after_the_cool_off_the_model_is_tried_again(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, images: FakeImages
) -> None:
    yandex.refused_models[ART_URI] = model_denied()
    running: RunningBot = await start_bot(**settings(images, model_retry_after=0.5))
    telegram.push_message("/art a red fox")
    await photos(telegram, 1)
    assert len(yandex.submits) == 1
    await asyncio.sleep(0.6)
    del yandex.refused_models[ART_URI]  # Yandex gives the model back
    telegram.push_message("/art a fox again")
    photo = (await photos(telegram, 2))[1]
    assert len(yandex.submits) == 2
    assert photo.params["caption"].endswith(
        "yandexart · seed " + photo.params["caption"].split("seed ")[1]
    )
    assert "Drawn by" not in photo.params["caption"]
    assert len(images.calls) == 1
    metrics = running.dispatcher["metrics"].render().decode()
    assert 'art_model_available{model="yandexart"} 1.0' in metrics
    # Told once only, and nothing more when it came back.
    assert len(admin_messages(telegram)) == len(ADMINS)


async def test_a_seed_with_only_aliceai_left_is_refused_before_any_call(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, images: FakeImages
) -> None:
    yandex.refused_models[ART_URI] = model_not_found()
    await start_bot(**settings(images, model_retry_after=60))
    telegram.push_message("/art a red fox")
    await photos(telegram, 1)
    submits, calls = len(yandex.submits), len(images.calls)
    telegram.push_message("/art a fox --seed 5")
    reply = await telegram.wait_for("sendMessage", len(ADMINS) + 2)
    assert reply[-1].params["text"] == (
        "The <b>yandexart</b> model is unavailable right now, and <b>aliceai</b> cannot do "
        "<code>--seed</code>: leave it out, or try again later."
    )
    await asyncio.sleep(0.3)
    assert (len(yandex.submits), len(images.calls)) == (submits, calls)


async def test_credentials_refused_are_still_misconfigured(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, images: FakeImages
) -> None:
    """403 on every model: nothing left to draw, and the user hears "misconfigured"."""
    yandex.refused_models[ART_URI] = model_denied()
    images.refused_models[ALICE_URI] = model_denied()
    await start_bot(**settings(images, model_retry_after=60))
    telegram.push_message("/art a red fox")
    # The status named aliceai once YandexART was refused; then aliceai was refused too.
    failure = (await telegram.wait_for("editMessageText", 2))[-1]
    assert "misconfigured" in failure.params["text"]
    assert len(admin_messages(telegram)) == 2 * len(ADMINS)
    assert not telegram.sent("sendPhoto")


async def test_a_stalled_model_is_left_within_its_threshold(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, images: FakeImages
) -> None:
    yandex.stalled_models.add(ART_URI)
    await start_bot(**settings(images, model_retry_after=60, model_stall_floor=0.5))
    telegram.push_message("/art a patient fox")
    photo = (await photos(telegram, 1))[0]
    assert "Drawn by aliceai: yandexart is unavailable right now." in photo.params["caption"]
    # The stalled operation was cancelled; the admins heard why.
    assert yandex.cancels == [next(iter(yandex.operations))]
    assert "unfinished" in admin_messages(telegram)[0].params["text"]
    telegram.push_message("/art another fox")
    await photos(telegram, 2)
    assert len(yandex.submits) == 1


async def test_two_instances_on_one_redis_tell_the_admins_once(
    start_bot: Any,
    telegram: FakeTelegram,
    yandex: FakeYandex,
    images: FakeImages,
    redis_url: str,
) -> None:
    yandex.refused_models[ART_URI] = model_denied()
    await start_bot(**settings(images, model_retry_after=60, redis_url=redis_url))
    await start_bot(**settings(images, model_retry_after=60, redis_url=redis_url))
    telegram.push_message("/art a red fox")
    await photos(telegram, 1)
    for i in range(4):
        telegram.push_message(f"/art fox number {i}")
    await photos(telegram, 5)
    assert len(yandex.submits) == 1
    assert len(images.calls) == 5
    await asyncio.sleep(0.3)
    assert len(admin_messages(telegram)) == len(ADMINS)


def keyboard(call: Call) -> dict[str, str]:
    rows = call.json("reply_markup")["inline_keyboard"]
    return {b["text"]: b["callback_data"] for row in rows for b in row}


async def test_a_model_taken_out_of_models_is_never_drawn_again(
    start_bot: Any,
    telegram: FakeTelegram,
    yandex: FakeYandex,
    images: FakeImages,
    redis_url: str,
) -> None:
    first: RunningBot = await start_bot(**settings(images, redis_url=redis_url))
    telegram.push_message("/art a red fox")
    photo = (await photos(telegram, 1))[0]
    assert len(yandex.submits) == 1
    await first.stop()
    # The operator takes YandexART out; its old buttons are still in the chat.
    await start_bot(
        **settings(images, redis_url=redis_url, models="aliceai", default_model="aliceai")
    )
    telegram.push_callback(keyboard(photo)["🔁 Again"], message=photo.result)
    again = (await photos(telegram, 2))[1]
    assert again.params["caption"] == (
        "a red fox\n\naliceai · 1:1\nDrawn by aliceai: yandexart is no longer offered."
    )
    telegram.push_message("/history")
    listing = (await telegram.wait_for("sendMessage", 3))[-1]
    repeat = keyboard(listing)["🔁 2"]  # the oldest: the one YandexART drew
    telegram.push_callback(repeat, message=listing.result)
    repeated = (await photos(telegram, 3))[2]
    assert "Drawn by aliceai: yandexart is no longer offered." in repeated.params["caption"]
    assert len(yandex.submits) == 1
    assert len(images.calls) == 2


async def test_again_after_a_fallback_draws_with_the_model_that_drew(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, images: FakeImages
) -> None:
    yandex.refused_models[ART_URI] = model_denied()
    await start_bot(**settings(images, model_retry_after=60))
    telegram.push_message("/art a red fox")
    photo = (await photos(telegram, 1))[0]
    telegram.push_callback(keyboard(photo)["🔁 Again"], message=photo.result)
    again = (await photos(telegram, 2))[1]
    assert again.params["caption"] == "a red fox\n\naliceai · 1:1"
    assert len(yandex.submits) == 1
