"""/start, /help, /privacy and the command menu, in both languages."""

from __future__ import annotations

import pytest

from bot.emulators.telegram import FakeTelegram
from tests.conftest import RunningBot


@pytest.mark.parametrize(
    ("command", "language", "expected"),
    [
        ("/start", "en", ["/art a red fox in the snow", "Yandex Cloud", "logs it"]),
        ("/start", "ru", ["/art рыжая лиса в снегу", "Yandex Cloud", "в логах"]),
        (
            "/help",
            "en",
            [
                "--seed N",
                "--ratio W:H",
                "misty forest :: 2 | small red fox :: 1",
                "up to 500 characters",
                "Yandex Cloud",
            ],
        ),
        ("/help", "ru", ["--seed N", "туманный лес :: 2", "до 500 символов", "Yandex Cloud"]),
        (
            "/privacy",
            "en",
            ["Yandex Cloud", "logs prompts", "at most 35 minutes. After", "24 more hours"],
        ),
        ("/privacy", "ru", ["Yandex Cloud", "в логах", "не дольше 35 минут. После", "ещё 24 ч."]),
    ],
)
async def test_info_commands(
    start_bot: object, telegram: FakeTelegram, command: str, language: str, expected: list[str]
) -> None:
    await start_bot(generation_deadline=1800)  # type: ignore[operator]
    telegram.push_message(command, language_code=language)
    text = (await telegram.wait_for("sendMessage"))[0].params["text"]
    for fragment in expected:
        assert fragment in text


async def test_commands_are_registered_in_english_and_russian(
    running: RunningBot, telegram: FakeTelegram
) -> None:
    calls = telegram.sent("setMyCommands")
    by_language = {c.params.get("language_code"): c.json("commands") for c in calls}
    assert set(by_language) == {None, "ru"}
    assert [c["command"] for c in by_language[None]] == [
        "art",
        "styles",
        "history",
        "settings",
        "help",
        "privacy",
        "forget",
        "start",
    ]
    assert by_language[None][0]["description"].startswith("Draw a picture")
    assert by_language["ru"][0]["description"].startswith("Нарисовать")


async def test_privacy_tells_how_long_finished_requests_are_kept(
    start_bot: object, telegram: FakeTelegram
) -> None:
    await start_bot(job_retention=600)  # type: ignore[operator]
    telegram.push_message("/privacy")
    text = (await telegram.wait_for("sendMessage"))[0].params["text"]
    assert "it is kept 10 more minutes, then deleted" in text
    assert "delete" in text


async def test_privacy_without_retention(start_bot: object, telegram: FakeTelegram) -> None:
    await start_bot(job_retention=0)  # type: ignore[operator]
    telegram.push_message("/privacy")
    text = (await telegram.wait_for("sendMessage"))[0].params["text"]
    assert "It is deleted as soon as the picture or an error is sent." in text


async def test_privacy_describes_history_and_forget(
    start_bot: object, telegram: FakeTelegram
) -> None:
    await start_bot(history_retention=7 * 86400)  # type: ignore[operator]
    telegram.push_message("/privacy", language_code="ru")
    telegram.push_message("/privacy")
    texts = [c.params["text"] for c in await telegram.wait_for("sendMessage", 2)]
    assert (
        "Кроме того, /history хранит ваши запросы (текст, seed, пропорции, стиль, дату) 7 дн."
        in texts[0]
    )
    assert (
        "Besides that, /history keeps your requests (prompt, seed, ratio, style, date) for 7 days"
        in texts[1]
    )
    assert "/forget deletes all of it at once" in texts[1]
