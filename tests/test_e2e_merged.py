"""The three issues together: models (14) with variants, styles, plain text, /history and
/forget (13), and voice prompts (15) with --model and --n. The real bot against the fake
Bot API, YandexART, Images API and SpeechKit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.core.styles import BUILTIN
from bot.emulators.images import FakeImages
from bot.emulators.speechkit import FakeSpeechKit
from bot.emulators.telegram import Call, FakeTelegram
from bot.emulators.yandexart import FakeYandex
from bot.services.profile import KEY_PREFIX as PROFILE_PREFIX
from bot.storage.memory import MemoryJobStore
from tests.conftest import ALICE_URI, RunningBot

USER = 7001
OGG = b"OggS\x00\x02" + bytes(2000)
WATERCOLOR = BUILTIN.get("watercolor")


@pytest.fixture
def start_all(start_bot: Any, images: FakeImages, speechkit: FakeSpeechKit) -> Any:
    """A bot offering both models, with voice prompts; YandexART is the default."""

    async def start(**overrides: Any) -> RunningBot:
        running: RunningBot = await start_bot(
            models="yandexart,aliceai",
            images_api_url=images.url,
            stt_api_url=speechkit.url,
            **overrides,
        )
        return running

    return start


@pytest.fixture
async def everything(start_all: Any) -> RunningBot:
    running: RunningBot = await start_all()
    return running


def buttons(call: Call) -> dict[str, str]:
    keyboard = call.json("reply_markup")["inline_keyboard"]
    return {b["text"]: b["callback_data"] for row in keyboard for b in row}


def texts_shown(telegram: FakeTelegram) -> list[str]:
    """Every text the bot sent or edited into a message, in order."""
    return [
        c.params["text"] for c in telegram.calls if c.method in ("sendMessage", "editMessageText")
    ]


async def shown(telegram: FakeTelegram, fragment: str) -> str:
    """The latest text the bot showed containing `fragment`, once there is one."""
    for _ in range(200):
        found = [text for text in texts_shown(telegram) if fragment in text]
        if found:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing shown with {fragment!r}: {texts_shown(telegram)}")


async def message_with(telegram: FakeTelegram, fragment: str) -> Call:
    for _ in range(200):
        found = [c for c in telegram.sent("sendMessage") if fragment in c.params["text"]]
        if found:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no message with {fragment!r}")


async def all_ended(running: RunningBot) -> None:
    while await running.dispatcher["store"].active_count():
        await asyncio.sleep(0.02)


async def settle() -> None:
    """Give a wrong reaction the time to show up before asserting there was none."""
    await asyncio.sleep(0.5)


# --- variants and models ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language_code", "answer"),
    [
        ("/art a fox --model aliceai --n 3", "en", "The <b>aliceai</b> model draws one picture"),
        ("a fox -n 2 --model aliceai", "en", "The <b>aliceai</b> model draws one picture"),
        ("/art лиса --model aliceai --n 2", "ru", "Модель <b>aliceai</b> рисует одну картинку"),
    ],
)
async def test_variants_are_refused_for_aliceai_before_anything_is_counted_or_sent(
    start_all: Any,
    telegram: FakeTelegram,
    yandex: FakeYandex,
    images: FakeImages,
    text: str,
    language_code: str,
    answer: str,
) -> None:
    # One picture a day: a refusal that counted would leave nothing for the next request.
    await start_all(daily_quota_per_user=1)
    telegram.push_message(text, language_code=language_code)
    reply = (await telegram.wait_for("sendMessage"))[0]
    assert answer in reply.params["text"]
    # Plain text reads --model like /art: this one goes to the Images API, and is allowed.
    telegram.push_message("an owl --model aliceai")
    await telegram.wait_for("sendPhoto")
    assert [body["prompt"] for _, body in images.calls] == ["an owl"]
    assert yandex.submits == []


async def test_an_album_names_the_model_when_users_have_a_choice(
    everything: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_message("/art a fox --n 2 --seed 10")
    status = (await telegram.wait_for("sendMessage"))[0]
    assert status.params["text"] == "🎨 Generating 2 variants… yandexart, seeds 10–11, 1:1"
    album = (await telegram.wait_for("sendMediaGroup"))[0]
    assert album.json("media")[0]["caption"] == "a fox\n\nyandexart · seeds 10–11 · 1:1"
    assert sorted(body["generationOptions"]["seed"] for _, body in yandex.submits) == ["10", "11"]


# --- styles and models ------------------------------------------------------------------


async def test_a_style_is_a_weighted_message_for_yandexart_and_a_sentence_for_aliceai(
    everything: RunningBot, telegram: FakeTelegram, yandex: FakeYandex, images: FakeImages
) -> None:
    assert WATERCOLOR is not None
    telegram.push_message("/art a red fox --style watercolor --model aliceai")
    telegram.push_message("/art a red fox --style watercolor")
    photos = await telegram.wait_for("sendPhoto", 2)
    [(_, body)] = images.calls
    # The fake refuses any field the Images API does not document: the style is in the text.
    assert body == {
        "model": ALICE_URI,
        "prompt": f"a red fox. Style: {WATERCOLOR.prompt}",
        "size": "1x1",
    }
    assert yandex.submits[0][1]["messages"] == [
        {"weight": 1.0, "text": "a red fox"},
        {"weight": 0.5, "text": WATERCOLOR.prompt},
    ]
    captions = sorted(photo.params["caption"] for photo in photos)
    assert captions[0] == "a red fox\n\naliceai · 1:1 · watercolor"
    assert captions[1].startswith("a red fox\n\nyandexart · seed ")
    assert captions[1].endswith(" · 1:1 · watercolor")


async def test_a_default_style_from_settings_reaches_aliceai_as_a_sentence(
    everything: RunningBot, telegram: FakeTelegram, images: FakeImages
) -> None:
    telegram.push_message("/settings")
    menu = (await telegram.wait_for("sendMessage"))[0]
    telegram.push_callback(buttons(menu)["Watercolor"], message=menu.result)
    await telegram.wait_for("answerCallbackQuery")
    telegram.push_message("an owl --model aliceai")
    telegram.push_message("a cat --model aliceai --style none")
    await telegram.wait_for("sendPhoto", 2)
    prompts = sorted(body["prompt"] for _, body in images.calls)
    assert prompts == [
        "a cat",
        "an owl. Style: watercolor painting, soft washes of color, paper texture",
    ]


# --- /history and /forget with models ---------------------------------------------------


async def test_history_names_the_model_and_repeats_with_it(
    everything: RunningBot, telegram: FakeTelegram, yandex: FakeYandex, images: FakeImages
) -> None:
    telegram.push_message("/art an owl --model aliceai --ratio 16:9")
    await telegram.wait_for("sendPhoto")
    telegram.push_message("/art a fox --seed 42")
    await telegram.wait_for("sendPhoto", 2)
    telegram.push_message("/history")
    listing = await message_with(telegram, "Your last requests")
    text = listing.params["text"]
    assert "1. a fox\n    <i>yandexart · seed 42 · 1:1 · " in text
    # A model without seeds shows none.
    assert "2. an owl\n    <i>aliceai · 16:9 · " in text

    telegram.push_callback(buttons(listing)["🔁 2"], message=listing.result)
    await telegram.wait_for("sendPhoto", 3)
    assert [body for _, body in images.calls] == [
        {"model": ALICE_URI, "prompt": "an owl", "size": "16x9"}
    ] * 2
    assert yandex.generations == 1


async def test_forget_clears_the_model_choice_and_every_variants_cache_entry(
    everything: RunningBot, telegram: FakeTelegram, yandex: FakeYandex, images: FakeImages
) -> None:
    store = everything.dispatcher["store"]
    assert isinstance(store, MemoryJobStore)
    telegram.push_message("/settings")
    menu = (await telegram.wait_for("sendMessage"))[0]
    telegram.push_callback(buttons(menu)["aliceai"], message=menu.result)
    await telegram.wait_for("answerCallbackQuery")
    telegram.push_message("/art a fox --seed 7 --n 2 --model yandexart")
    await telegram.wait_for("sendMediaGroup")
    await all_ended(everything)
    assert len(pictures_cached(store)) == 2  # one entry per variant
    telegram.push_message("a fox")  # the chosen default model
    await telegram.wait_for("sendPhoto")
    assert len(images.calls) == 1
    assert len(pictures_cached(store)) == 2  # aliceai pictures are not cached

    telegram.push_message("/forget")
    confirm = await message_with(telegram, "Delete everything I keep about you")
    telegram.push_callback(buttons(confirm)["🗑 Yes, delete it all"], message=confirm.result)
    await shown(telegram, "Done: I no longer keep anything about you.")
    assert pictures_cached(store) == []
    assert USER not in store._users
    sent = len(telegram.sent("sendMessage"))
    telegram.push_message("/settings")
    menu = (await telegram.wait_for("sendMessage", sent + 1))[-1]
    assert "Default model: yandexart" in menu.params["text"]
    # Both variants are drawn again: nothing of the first album answers from the cache.
    telegram.push_message("/art a fox --seed 7 --n 2 --model yandexart")
    await telegram.wait_for("sendMediaGroup", 2)
    assert yandex.generations == 4


# --- voice with --model and --n ---------------------------------------------------------


async def test_a_voice_prompt_reads_model_like_art(
    everything: RunningBot,
    telegram: FakeTelegram,
    yandex: FakeYandex,
    images: FakeImages,
    speechkit: FakeSpeechKit,
) -> None:
    speechkit.text = "an owl at dusk --model aliceai"
    telegram.push_voice(OGG, size=len(OGG))
    photo = (await telegram.wait_for("sendPhoto"))[0]
    assert [body["prompt"] for _, body in images.calls] == ["an owl at dusk"]
    assert photo.params["caption"] == "an owl at dusk\n\naliceai · 1:1"
    assert yandex.submits == []


async def test_art_n_replying_to_a_voice_counts_its_pictures_before_hearing(
    start_all: Any, telegram: FakeTelegram, yandex: FakeYandex, speechkit: FakeSpeechKit
) -> None:
    await start_all(daily_quota_per_user=3)
    voice = telegram.new_voice(OGG, size=len(OGG))
    telegram.push_message("/art --n 2 --seed 5", reply_to=voice)
    album = (await telegram.wait_for("sendMediaGroup"))[0]
    assert len(album.json("media")) == 2
    assert yandex.generations == 2
    # Two of three pictures are counted: two more are refused before anything is fetched.
    telegram.push_message("/art --n 2", reply_to=voice)
    refusal = await shown(telegram, "Only 1 picture remains today")
    assert "ask for fewer variants" in refusal
    await settle()
    assert len(telegram.sent("getFile")) == 1
    assert len(speechkit.requests) == 1
    assert yandex.generations == 2


async def test_a_spoken_n_is_refused_once_heard_and_its_slot_given_back(
    start_all: Any, telegram: FakeTelegram, yandex: FakeYandex, speechkit: FakeSpeechKit
) -> None:
    await start_all(max_concurrent_per_user=1)
    speechkit.text = "a fox --n 3"
    telegram.push_voice(OGG, size=len(OGG))
    told = await shown(telegram, "spoken <code>--n</code>")
    assert told.startswith("🎙 a fox --n 3\nPictures are counted before a voice is heard")
    await settle()
    assert yandex.submits == []
    # The only slot is free again.
    telegram.push_message("/art a fox")
    await telegram.wait_for("sendPhoto")
    assert yandex.generations == 1


def pictures_cached(store: MemoryJobStore) -> list[str]:
    """The picture cache's keys (the store's cache also keeps the bot profile's hashes)."""
    return [key for key in store._cache if not key.startswith(PROFILE_PREFIX)]
