"""Voice prompts end to end: the real bot, the fake Bot API (getFile and the file server),
the fake SpeechKit and the fake YandexART."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from bot.emulators.speechkit import FakeSpeechKit, SttFault
from bot.emulators.telegram import FakeTelegram
from bot.emulators.yandexart import FakeYandex
from tests.bot_process import API_KEY, BOT_TOKEN
from tests.conftest import RunningBot

CHAT = 7001
GROUP = -100777
OTHER_USER = 7002
OGG = b"OggS\x00\x02" + bytes(2000)  # an OGG page header, then "audio"


@pytest.fixture
async def voice_bot(start_bot: Any, speechkit: FakeSpeechKit) -> RunningBot:
    bot: RunningBot = await start_bot(stt_api_url=speechkit.url)
    return bot


async def settle() -> None:
    """Give a wrong reaction the time to show up before asserting there was none."""
    await asyncio.sleep(0.5)


def texts_shown(telegram: FakeTelegram, chat_id: int = CHAT) -> list[str]:
    """Every text the bot sent or edited into a message in the chat, in order."""
    return [
        c.params["text"]
        for c in telegram.calls
        if c.method in ("sendMessage", "editMessageText")
        and c.params.get("chat_id") == str(chat_id)
    ]


@pytest.mark.parametrize(("language_code", "lang"), [("en", "en-US"), ("ru", "ru-RU")])
async def test_a_voice_message_is_heard_and_drawn(
    voice_bot: RunningBot,
    telegram: FakeTelegram,
    yandex: FakeYandex,
    speechkit: FakeSpeechKit,
    language_code: str,
    lang: str,
) -> None:
    speechkit.text = "  a fox & <owl>   at dawn --ratio 16:9 "
    voice = telegram.push_voice(OGG, language_code=language_code, size=len(OGG))

    photo = (await telegram.wait_for("sendPhoto"))[0]
    [recognition] = speechkit.requests
    assert recognition.query == {"lang": lang}  # no folderId with a service account's key
    assert recognition.headers["Authorization"] == f"Api-Key {API_KEY}"
    assert recognition.body == OGG
    assert telegram.downloads == [f"voice/file_{voice['message_id']}.oga"]
    # Drawn exactly like `/art a fox & <owl> at dawn --ratio 16:9`.
    body = yandex.submits[0][1]
    assert body["messages"] == [{"weight": 1.0, "text": "a fox & <owl> at dawn"}]
    assert body["generationOptions"]["aspectRatio"] == {"widthRatio": "16", "heightRatio": "9"}
    seed = body["generationOptions"]["seed"]
    status = telegram.sent("sendMessage", CHAT)[0]
    assert status.json("reply_parameters")["message_id"] == voice["message_id"]
    heard = telegram.sent("editMessageText", CHAT)[0]
    assert heard.params["message_id"] == str(status.result["message_id"])
    heard_line, status_line = heard.params["text"].split("\n")
    assert heard_line == "🎙 a fox &amp; &lt;owl&gt; at dawn --ratio 16:9"
    assert status_line.endswith(f"seed {seed}, 16:9")
    assert photo.json("reply_parameters")["message_id"] == voice["message_id"]
    assert photo.params["caption"].startswith("a fox &amp; &lt;owl&gt; at dawn")
    assert yandex.generations == 1


async def test_a_voice_update_delivered_twice_is_heard_and_drawn_once(
    voice_bot: RunningBot, telegram: FakeTelegram, yandex: FakeYandex, speechkit: FakeSpeechKit
) -> None:
    voice = telegram.push_voice(OGG, size=len(OGG))
    # A webhook retry, or polling after a restart: the same message again, at once...
    telegram.push({"update_id": 2_000_000, "message": voice})
    await telegram.wait_for("sendPhoto")
    telegram.push({"update_id": 2_000_001, "message": voice})  # ...and after the picture
    await settle()
    assert len(speechkit.requests) == 1
    assert len(telegram.sent("sendMessage")) == 1
    assert len(telegram.sent("sendPhoto")) == 1
    assert yandex.generations == 1


async def test_a_deleted_status_message_is_sent_anew_and_ends_with_the_picture(
    voice_bot: RunningBot, telegram: FakeTelegram, speechkit: FakeSpeechKit
) -> None:
    speechkit.gate.clear()
    voice = telegram.push_voice(OGG, size=len(OGG))
    listening = (await telegram.wait_for("sendMessage"))[0]
    telegram.delete(CHAT, listening.result["message_id"])
    speechkit.gate.set()
    photo = (await telegram.wait_for("sendPhoto"))[0]
    status = telegram.sent("sendMessage", CHAT)[1]
    assert status.params["text"].startswith("🎙 a red fox in the snow\n🎨 Generating…")
    assert status.json("reply_parameters")["message_id"] == voice["message_id"]
    assert "✖️ Cancel" in str(status.json("reply_markup"))
    assert photo.json("reply_parameters")["message_id"] == voice["message_id"]
    # The job knew its new status message: removed once the picture is there.
    deleted = await telegram.wait_for("deleteMessage")
    assert deleted[0].params["message_id"] == str(status.result["message_id"])


async def test_a_voice_still_being_heard_at_shutdown_is_told_to_come_again(
    voice_bot: RunningBot, telegram: FakeTelegram, speechkit: FakeSpeechKit
) -> None:
    voice_bot.dispatcher["tracker"].shutdown_grace = 0.1  # not the 10 s of production
    speechkit.gate.clear()  # SpeechKit never answers before the bot stops
    telegram.push_voice(OGG, size=len(OGG))
    await telegram.wait_for("sendMessage")
    await voice_bot.stop()
    speechkit.gate.set()  # lets the fake's pending request end
    listening, answer = texts_shown(telegram)
    assert listening == "🎙 Listening…"
    assert answer.startswith("The bot was restarted while hearing this voice message.")


@pytest.mark.parametrize(
    ("duration", "size", "answer"),
    [
        (31, 50_000, "too long: I can take up to 30 seconds"),
        (20, 1_000_001, "too large: I can take up to 1 MB"),
    ],
)
async def test_over_the_api_limits_is_refused_before_any_download(
    voice_bot: RunningBot,
    telegram: FakeTelegram,
    yandex: FakeYandex,
    speechkit: FakeSpeechKit,
    duration: int,
    size: int,
    answer: str,
) -> None:
    voice = telegram.push_voice(OGG, duration=duration, size=size)
    reply = (await telegram.wait_for("sendMessage"))[0]
    await settle()
    assert answer in reply.params["text"]
    assert reply.json("reply_parameters")["message_id"] == voice["message_id"]
    assert texts_shown(telegram) == [reply.params["text"]]
    assert telegram.sent("getFile") == []
    assert telegram.downloads == []
    assert speechkit.requests == []
    assert yandex.submits == []


async def test_a_file_bigger_than_it_said_is_not_read_past_the_cap(
    voice_bot: RunningBot, telegram: FakeTelegram, speechkit: FakeSpeechKit, yandex: FakeYandex
) -> None:
    telegram.push_voice(b"OggS" + bytes(1_200_000), size=None)  # Telegram did not say
    await telegram.wait_for("editMessageText")
    await settle()
    assert "couldn't fetch this voice message" in texts_shown(telegram)[-1]
    assert len(telegram.downloads) == 1
    assert speechkit.requests == []
    assert yandex.submits == []


async def test_nothing_heard_is_one_clear_answer_and_frees_the_slot(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, speechkit: FakeSpeechKit
) -> None:
    await start_bot(stt_api_url=speechkit.url, max_concurrent_per_user=1)
    speechkit.text = "   "
    telegram.push_voice(OGG, size=len(OGG))
    await telegram.wait_for("editMessageText")
    await settle()
    listening, answer = texts_shown(telegram)
    assert listening == "🎙 Listening…"
    assert answer.startswith("I couldn't make out a prompt.")
    assert yandex.submits == []
    # The only concurrent slot was given back: the next request is drawn.
    telegram.push_message("/art an owl")
    await telegram.wait_for("sendPhoto")


@pytest.mark.parametrize(
    ("status", "code", "answer"),
    [
        (401, "UNAUTHORIZED", "misconfigured and cannot reach Yandex SpeechKit"),
        (429, "RESOURCE_EXHAUSTED", "SpeechKit is over its request quota"),
        (503, "UNAVAILABLE", "SpeechKit is unavailable right now"),
    ],
)
async def test_speechkit_errors_get_their_explanation(
    voice_bot: RunningBot,
    telegram: FakeTelegram,
    yandex: FakeYandex,
    speechkit: FakeSpeechKit,
    status: int,
    code: str,
    answer: str,
) -> None:
    speechkit.faults.append(SttFault(status, code))
    telegram.push_voice(OGG, size=len(OGG))
    await telegram.wait_for("editMessageText")
    await settle()
    assert speechkit.faults == []  # the fault was served
    shown = texts_shown(telegram)
    assert len(shown) == 2
    assert answer in shown[1]
    assert yandex.submits == []


async def test_a_wrong_api_key_is_refused_by_the_fake_and_told_as_misconfigured(
    voice_bot: RunningBot, telegram: FakeTelegram, speechkit: FakeSpeechKit
) -> None:
    speechkit.api_key = "another-key"
    telegram.push_voice(OGG, size=len(OGG))
    await telegram.wait_for("editMessageText")
    assert "misconfigured" in texts_shown(telegram)[-1]
    assert len(speechkit.requests) == 1


async def test_admission_comes_before_the_download_and_speechkit(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, speechkit: FakeSpeechKit
) -> None:
    await start_bot(stt_api_url=speechkit.url, daily_quota_per_user=1)
    telegram.push_message("/art the only picture today")
    await telegram.wait_for("sendPhoto")
    telegram.push_voice(OGG, size=len(OGG))
    await telegram.wait_for("sendMessage", 2)
    await settle()
    assert "daily limit" in texts_shown(telegram)[-1]
    assert telegram.sent("getFile") == []
    assert speechkit.requests == []
    assert yandex.generations == 1


async def test_in_groups_art_replying_to_a_voice_draws_what_was_said(
    voice_bot: RunningBot, telegram: FakeTelegram, yandex: FakeYandex, speechkit: FakeSpeechKit
) -> None:
    speechkit.text = "a lighthouse | in a storm"
    voice = telegram.new_voice(OGG, size=len(OGG), chat_id=GROUP, user_id=OTHER_USER)
    telegram.push({"update_id": 1_000_000, "message": voice})  # a voice alone: ignored
    request_id = telegram.push_message(
        "/art@art_test_bot --ratio 2:1", chat_id=GROUP, user_id=CHAT, reply_to=voice
    )
    photo = (await telegram.wait_for("sendPhoto", chat_id=GROUP))[0]
    await settle()
    assert len(speechkit.requests) == 1
    body = yandex.submits[0][1]
    # Someone's words are drawn literally; the flags are the command's.
    assert body["messages"] == [{"weight": 1.0, "text": "a lighthouse | in a storm"}]
    assert body["generationOptions"]["aspectRatio"] == {"widthRatio": "2", "heightRatio": "1"}
    assert photo.json("reply_parameters")["message_id"] == request_id
    assert texts_shown(telegram, GROUP)[1].startswith("🎙 a lighthouse | in a storm\n")


async def test_with_voice_prompts_off_voice_is_ignored(
    start_bot: Any, telegram: FakeTelegram, speechkit: FakeSpeechKit
) -> None:
    await start_bot(stt_api_url=speechkit.url, voice_prompts=False)
    telegram.push_voice(OGG, size=len(OGG))
    telegram.push_message("/help")
    help_text = (await telegram.wait_for("sendMessage"))[0].params["text"]
    await settle()
    assert "Voice prompts" not in help_text
    assert len(telegram.sent("sendMessage")) == 1
    assert telegram.sent("getFile") == []
    assert speechkit.requests == []


@pytest.mark.parametrize(
    ("command", "language_code", "words"),
    [
        ("/start", "en", "Yandex SpeechKit"),
        ("/privacy", "en", "The bot keeps no audio"),
        ("/help", "en", "Voice prompts"),
        ("/start", "ru", "Yandex SpeechKit"),
        ("/privacy", "ru", "Бот не хранит аудио"),
        ("/help", "ru", "Голосовые запросы"),
    ],
)
async def test_start_help_and_privacy_speak_of_voice(
    voice_bot: RunningBot, telegram: FakeTelegram, command: str, language_code: str, words: str
) -> None:
    telegram.push_message(command, language_code=language_code)
    answer = (await telegram.wait_for("sendMessage"))[0]
    assert words in answer.params["text"]


async def test_the_file_server_refuses_another_token(
    telegram: FakeTelegram,
) -> None:
    voice = telegram.new_voice(OGG)
    path = telegram.files[voice["voice"]["file_id"]][0]
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{telegram.url}/file/bot{BOT_TOKEN}/{path}") as good:
            assert await good.read() == OGG
        async with session.get(f"{telegram.url}/file/bot1:wrong/{path}") as bad:
            assert bad.status == 404


# --- issue 21 ---------------------------------------------------------------------------


async def test_flags_of_art_replying_to_a_voice_are_checked_before_anything_is_counted(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, speechkit: FakeSpeechKit
) -> None:
    """Item 6: `/art --n 4 --model aliceai` replying to a voice is refused at once: no
    download, no SpeechKit, nothing of the day's quota taken."""
    await start_bot(
        stt_api_url=speechkit.url,
        models="yandexart,aliceai",
        images_api_url="http://127.0.0.1:9",  # never called
        daily_quota_per_user=4,
    )
    voice = telegram.new_voice(OGG, size=len(OGG), chat_id=GROUP, user_id=OTHER_USER)
    telegram.push_message("/art --n 4 --model aliceai", chat_id=GROUP, user_id=CHAT, reply_to=voice)
    refusal = (await telegram.wait_for("sendMessage", chat_id=GROUP))[0]
    assert "aliceai" in refusal.params["text"]
    assert "Listening" not in refusal.params["text"]
    await settle()
    assert telegram.sent("getFile") == []
    assert speechkit.requests == []
    # The day's four pictures are all still there.
    telegram.push_message("/art four foxes --n 4", chat_id=GROUP, user_id=CHAT)
    await telegram.wait_for("sendMediaGroup", chat_id=GROUP)


async def test_a_failed_recognition_gives_the_counted_pictures_back(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, speechkit: FakeSpeechKit
) -> None:
    """Item 6: `/art --n 4` replying to a voice counts four pictures; SpeechKit fails, so
    the four are given back."""
    await start_bot(stt_api_url=speechkit.url, daily_quota_per_user=4)
    speechkit.faults.append(SttFault(503, "UNAVAILABLE"))
    voice = telegram.new_voice(OGG, size=len(OGG), chat_id=GROUP, user_id=OTHER_USER)
    telegram.push_message("/art --n 4", chat_id=GROUP, user_id=CHAT, reply_to=voice)
    await telegram.wait_for("editMessageText", chat_id=GROUP)
    assert speechkit.faults == []  # the fault was served
    assert "unavailable" in texts_shown(telegram, GROUP)[-1]
    telegram.push_message("/art four owls --n 4", chat_id=GROUP, user_id=CHAT)
    await telegram.wait_for("sendMediaGroup", chat_id=GROUP)


async def test_recognitions_in_flight_are_capped_and_wait_before_downloading(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, speechkit: FakeSpeechKit
) -> None:
    """Item 16: with one recognition at a time, a second voice is not downloaded while the
    first is being heard."""
    await start_bot(stt_api_url=speechkit.url, stt_max_in_flight=1)
    speechkit.gate.clear()
    telegram.push_voice(OGG, size=len(OGG))
    telegram.push_voice(OGG, size=len(OGG), chat_id=CHAT + 10, user_id=CHAT + 10)
    await telegram.wait_for("sendMessage", 2)
    await _until(lambda: len(speechkit.requests) == 1)
    await settle()
    assert len(telegram.downloads) == 1
    assert len(speechkit.requests) == 1
    speechkit.gate.set()
    await telegram.wait_for("sendPhoto", 2)
    assert len(telegram.downloads) == 2


async def _until(check: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def test_a_voice_refused_for_a_full_backlog_keeps_its_busy_answer(
    start_bot: Any,
    telegram: FakeTelegram,
    yandex: FakeYandex,
    speechkit: FakeSpeechKit,
    redis_url: str,
) -> None:
    """Item 10: Redis refuses writes and the outage backlog is full: the voice is answered
    that the bot is busy, and that message stays (it used to be deleted right after)."""
    from redis.asyncio import Redis

    from tests.test_e2e_resilience import redis_fault

    await start_bot(stt_api_url=speechkit.url, redis_url=redis_url, outage_backlog_max=0)
    redis = Redis.from_url(redis_url)
    try:
        async with redis_fault(redis, "oom"):
            telegram.push_voice(OGG, size=len(OGG))
            await telegram.wait_for("sendMessage")
            await settle()
            busy = "The bot is busy right now. Please try again in a few minutes."
            assert texts_shown(telegram) == [busy]  # one clear answer, and it stays
            assert telegram.sent("deleteMessage") == []
            assert telegram.downloads == []
            assert yandex.submits == []
    finally:
        await redis.aclose()


async def test_a_voice_over_the_speechkit_budget_is_not_downloaded_while_it_waits(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, speechkit: FakeSpeechKit
) -> None:
    """Item 16: the budget (a burst of 5, then one a minute) is waited for before the
    audio is fetched: the sixth voice is not downloaded while it waits."""
    running = await start_bot(stt_api_url=speechkit.url, stt_rate_per_minute=1.0)
    running.dispatcher["tracker"].shutdown_grace = 0.1  # the sixth would wait a minute
    for n in range(6):
        telegram.push_voice(OGG, size=len(OGG), chat_id=CHAT + n, user_id=CHAT + n)
    await telegram.wait_for("sendPhoto", 5)
    await settle()
    assert len(speechkit.requests) == 5
    assert len(telegram.downloads) == 5
