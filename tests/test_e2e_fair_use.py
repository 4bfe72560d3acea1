"""Prompt enhancement, /settings, access and limits, the API budget and /stats, end to end."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from bot.emulators.telegram import Call, FakeTelegram
from bot.emulators.yandexart import FakeYandex, Reply
from tests.bot_process import FOLDER
from tests.conftest import RunningBot

USER = 7001
STRANGER = 7002
ADMIN = 7003
GROUP = -100900


def buttons(call: Call) -> dict[str, str]:
    keyboard = call.json("reply_markup")["inline_keyboard"]
    return {b["text"]: b["callback_data"] for row in keyboard for b in row}


def drawn_texts(yandex: FakeYandex) -> list[str]:
    return [body["messages"][0]["text"] for _, body in yandex.submits]


# --- enhancement -------------------------------------------------------------------------


async def test_enhance_asks_yandexgpt_and_draws_its_prompt(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_message("/art a cat <3 --enhance --seed 3")
    photo = (await telegram.wait_for("sendPhoto"))[0]
    [(headers, body)] = yandex.completions
    assert body["modelUri"] == f"gpt://{FOLDER}/yandexgpt/latest"
    assert body["completionOptions"] == {"stream": False, "temperature": 0.3, "maxTokens": "1000"}
    system, user = body["messages"]
    assert system["role"] == "system"
    assert "under 500 characters" in system["text"]
    assert user == {"role": "user", "text": "a cat <3"}
    assert headers["Authorization"].startswith("Api-Key ")
    assert drawn_texts(yandex) == ["vivid a cat <3"]
    assert photo.params["caption"] == "✨ vivid a cat &lt;3\n\nseed 3 · 1:1"


async def test_short_flag_and_russian_system_prompt(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_message("/art кот -e", language_code="ru")
    await telegram.wait_for("sendPhoto")
    system = yandex.completions[0][1]["messages"][0]["text"]
    assert "короче 500 символов" in system
    assert drawn_texts(yandex) == ["vivid кот"]


@pytest.mark.parametrize(
    "break_gpt",
    ["error", "refusal", "empty"],
)
async def test_enhancement_failure_falls_back_to_the_original_prompt(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex, break_gpt: str
) -> None:
    if break_gpt == "error":
        yandex.completion_faults = [Reply(500, {"error": {"message": "internal"}})] * 10
    elif break_gpt == "refusal":
        yandex.completion_text = "   "
    else:
        yandex.completion_text = ""
    telegram.push_message("/art a cat --enhance --seed 3")
    photo = (await telegram.wait_for("sendPhoto"))[0]
    assert drawn_texts(yandex) == ["a cat"]
    assert photo.params["caption"] == (
        "a cat\n\n(Prompt enhancement was unavailable, so I drew your prompt as written.)\n"
        "seed 3 · 1:1"
    )


async def test_long_enhancements_are_cut_to_the_prompt_limit(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    yandex.completion_text = "word " * 300
    telegram.push_message("/art a cat -e")
    await telegram.wait_for("sendPhoto")
    assert len(drawn_texts(yandex)[0]) <= 500


# --- /settings ---------------------------------------------------------------------------


async def press(telegram: FakeTelegram, menu: Call, label: str, user_id: int = USER) -> None:
    answers = len(telegram.sent("answerCallbackQuery"))
    telegram.push_callback(buttons(menu)[label], message=menu.result, user_id=user_id)
    await telegram.wait_for("answerCallbackQuery", answers + 1)


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_settings_are_saved_and_applied(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, redis_url: str, store: str
) -> None:
    url = redis_url if store == "redis" else None
    first = await start_bot(redis_url=url)
    telegram.push_message("/settings")
    menu = (await telegram.wait_for("sendMessage"))[0]
    assert "Default ratio: 1:1" in menu.params["text"]
    await press(telegram, menu, "16:9")
    await press(telegram, menu, "✨ Enhancement: off")
    edits = await telegram.wait_for("editMessageText", 2)
    assert "Default ratio: 16:9" in edits[-1].params["text"]
    assert "Prompt enhancement (YandexGPT): on" in edits[-1].params["text"]

    telegram.push_message("/art a cat")
    telegram.push_message("/art a dog --ratio 1:1 --no-enhance")
    await telegram.wait_for("sendPhoto", 2)
    by_text = {body["messages"][0]["text"]: body for _, body in yandex.submits}
    ratio = by_text["vivid a cat"]["generationOptions"]["aspectRatio"]
    assert ratio == {"widthRatio": "16", "heightRatio": "9"}
    assert by_text["a dog"]["generationOptions"]["aspectRatio"]["widthRatio"] == "1"

    await press(telegram, menu, "Русский")
    edited = (await telegram.wait_for("editMessageText", 3))[-1]
    assert {"✓ 16:9", "✓ Русский", "English", "Авто"} <= set(buttons(edited))
    if store == "redis":  # preferences outlive the process
        await first.stop()
        await start_bot(redis_url=url)
    telegram.push_message("/help", language_code="en")
    help_text = (await telegram.wait_for("sendMessage", 4))[-1].params["text"]
    assert "Рисование" in help_text


async def test_pressing_the_setting_already_chosen_raises_nothing(
    running: Any, telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    """The edit would change nothing, which Telegram refuses ("message is not modified")."""
    telegram.push_message("/settings")
    menu = (await telegram.wait_for("sendMessage"))[0]
    await press(telegram, menu, "16:9")
    await telegram.wait_for("editMessageText", ok=True)
    await press(telegram, menu, "16:9")
    refused = await telegram.wait_for("editMessageText", 2)
    assert refused[1].result is None  # the fake refused the second edit, as Telegram does
    await asyncio.sleep(0.2)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# --- access and limits -------------------------------------------------------------------


async def test_allowlists_keep_strangers_out(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    await start_bot(allowed_user_ids=str(USER), allowed_chat_ids=str(GROUP))
    telegram.push_message("/art a stranger's fox", chat_id=STRANGER)
    denied = (await telegram.wait_for("sendMessage", chat_id=STRANGER))[0]
    assert denied.params["text"] == "Sorry, this bot is private."
    telegram.push_message("/art a stranger in an allowed group", chat_id=GROUP, user_id=STRANGER)
    telegram.push_message("/art an allowed fox", chat_id=USER)
    await telegram.wait_for("sendPhoto", 2)
    assert sorted(drawn_texts(yandex)) == ["a stranger in an allowed group", "an allowed fox"]


async def test_concurrent_limit_and_admin_exemption(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    yandex.hold = True
    await start_bot(max_concurrent_per_user=1, admin_ids=str(ADMIN))
    telegram.push_message("/art first")
    telegram.push_message("/art second")
    replies = await telegram.wait_for("sendMessage", 2, chat_id=USER)
    assert "You already have 1 picture in progress" in replies[1].params["text"]
    for n in range(3):
        telegram.push_message(f"/art admin {n}", chat_id=ADMIN)
    await telegram.wait_for("sendMessage", 3, chat_id=ADMIN)
    yandex.hold = False
    await telegram.wait_for("sendPhoto", 4)
    telegram.push_message("/art third, after the first finished")
    await telegram.wait_for("sendPhoto", 5)
    assert len(yandex.submits) == 5


class Clock:
    """The bot's wall clock, which a test can move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_daily_quota_says_when_it_resets_and_resets(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, redis_url: str, store: str
) -> None:
    clock = Clock()
    day_start = (time.time() // 86400) * 86400
    clock.offset = day_start + 86400 - 3 * 3600 - 25 * 60 - time.time()  # 20:35 UTC
    await start_bot(
        clock=clock, daily_quota_per_user=2, redis_url=redis_url if store == "redis" else None
    )
    for n in range(2):
        telegram.push_message(f"/art picture {n}")
    await telegram.wait_for("sendPhoto", 2)
    telegram.push_message("/art one too many")
    refusal = (await telegram.wait_for("sendMessage", 3))[2]
    # 20:35 UTC plus the seconds the test took so far.
    assert refusal.params["text"] in {
        "You have drawn 2 pictures today, the daily limit. "
        f"It resets at 00:00 UTC, in 3 h {minutes} min."
        for minutes in (24, 25)
    }
    clock.offset += 4 * 3600  # the next UTC day
    telegram.push_message("/art a new day")
    await telegram.wait_for("sendPhoto", 3)
    assert drawn_texts(yandex)[-1] == "a new day"


# --- the API budget ----------------------------------------------------------------------


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_budget_queues_a_burst_and_never_exceeds_the_rate(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, redis_url: str, store: str
) -> None:
    submits: list[float] = []

    async def record(stage: str, kind: str) -> bool:
        if stage == "before" and kind == "submit":
            submits.append(time.monotonic())
        return False

    yandex.on_request = record
    rate, burst, requests = 4.0, 10, 16  # per second; the first `burst` go at once
    await start_bot(
        submit_rate_per_minute=rate * 60, redis_url=redis_url if store == "redis" else None
    )
    ids = [telegram.push_message(f"/art burst {n} --seed {n + 1}") for n in range(requests)]
    photos = await telegram.wait_for("sendPhoto", requests, timeout=30)
    await asyncio.sleep(0.3)
    assert sorted(p.json("reply_parameters")["message_id"] for p in photos) == ids
    assert len(telegram.sent("sendPhoto")) == requests
    queued = [e for e in telegram.sent("editMessageText") if "in the queue" in e.params["text"]]
    assert queued  # waiting requests were told their place
    assert "number 1 in the queue" in queued[0].params["text"]
    # GCRA: in any window, at most `burst` plus `rate` per second of submits.
    for i in range(len(submits)):
        for j in range(i + burst, len(submits)):
            assert submits[j] - submits[i] >= (j - i + 1 - burst) / rate - 0.05


async def test_a_status_that_comes_while_its_job_waits_in_line_shows_the_place(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    # Ten requests take the submit budget's burst; the eleventh's status reply is put off
    # by a 429 past the status grace, so its job joins the line with no message to edit.
    await start_bot(submit_rate_per_minute=6)  # the next submit 10 s after the burst
    for n in range(10):
        telegram.push_message(f"/art burst {n} --seed {n + 1}", chat_id=USER + 100 + n)
    await telegram.wait_for("sendPhoto", 10)
    telegram.fail("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
    telegram.push_message("/art the eleventh --seed 11")
    edits = await telegram.wait_for("editMessageText", chat_id=USER, timeout=6)
    assert "number 1 in the queue" in edits[0].params["text"]
    replies = telegram.sent("sendMessage", USER)
    assert len(replies) == 2  # the first was refused with the injected 429
    assert replies[0].result is None


# --- /stats ------------------------------------------------------------------------------


async def test_stats_are_for_admins(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    await start_bot(admin_ids=str(ADMIN))
    telegram.push_message("/art a fox --seed 1")
    telegram.push_message("/art something forbidden")
    await telegram.wait_for("sendPhoto")
    await telegram.wait_for("editMessageText")
    telegram.push_message("/stats")
    refused = (await telegram.wait_for("sendMessage", 3, chat_id=USER))[-1]
    assert refused.params["text"] == "This command is for the bot's admins."
    telegram.push_message("/stats", chat_id=ADMIN)
    report = (await telegram.wait_for("sendMessage", chat_id=ADMIN))[0].params["text"]
    assert "Pending now: 0" in report
    assert "Pictures delivered: 1" in report
    assert "Submitted to Yandex: 1 (daily quota 5000)" in report
    assert "Failures: moderation 1" in report
    assert "Delivery lag: mean " in report
    assert "no data" not in report


async def test_again_counts_against_the_limits(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    await start_bot(max_concurrent_per_user=1)
    telegram.push_message("/art first --seed 1")
    photo = (await telegram.wait_for("sendPhoto"))[0]
    yandex.hold = True
    telegram.push_message("/art second --seed 2")
    await telegram.wait_for("sendMessage", 2)
    telegram.push_callback(buttons(photo)["🔁 Again"], message=photo.result, user_id=USER)
    answer = (await telegram.wait_for("answerCallbackQuery"))[0]
    assert "You already have 1 picture in progress" in answer.params["text"]
    assert answer.params["show_alert"] == "true"
    assert len(yandex.submits) == 2


async def test_again_and_a_history_repeat_count_against_the_daily_quota(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    """Issue 21 ("also weak"): with the day's pictures used up, neither Again nor 🔁 in
    /history draws (was tested against the concurrency limit only)."""
    await start_bot(daily_quota_per_user=2)
    telegram.push_message("/art first --seed 1")
    photo = (await telegram.wait_for("sendPhoto"))[0]
    telegram.push_callback(buttons(photo)["🔁 Again"], message=photo.result, user_id=USER)
    await telegram.wait_for("sendPhoto", 2)  # the second picture of the day
    telegram.push_message("/history")
    listing = (await telegram.wait_for("sendMessage", 3))[-1]
    assert listing.params["text"].startswith("🕘")
    telegram.push_callback(buttons(photo)["🔁 Again"], message=photo.result, user_id=USER)
    telegram.push_callback(buttons(listing)["🔁 2"], message=listing.result, user_id=USER)
    answers = await telegram.wait_for("answerCallbackQuery", 3)
    for answer in answers[1:]:
        assert answer.params["text"].startswith("You have drawn 2 pictures today"), answer.params
        assert answer.params["show_alert"] == "true"
    await asyncio.sleep(0.5)  # a wrong picture would be on its way by now
    assert len(yandex.submits) == 2
    assert len(telegram.sent("sendPhoto")) == 2
