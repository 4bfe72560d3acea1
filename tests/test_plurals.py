"""Every counted text takes the form its number asks for, in both catalogs: Russian has
three ("1 картинка", "2 картинки", "5 картинок"; 11 is like 5, 21 like 1, 22 like 2)."""

from __future__ import annotations

import re

import pytest

from bot.core.jobs import Job
from bot.core.prompt import Limits, parse_art_args
from bot.telegram.catalogs import PackagedI18n
from bot.telegram.texts import COUNTED, Texts

NUMBERS = (1, 2, 5, 11, 21, 22)
# The word after the number, by Russian form: one (1, 21), few (2, 22), many (5, 11).
RU = {
    "status.album": ("вариант…", "варианта…", "вариантов…"),
    "status.album_model": ("вариант…", "варианта…", "вариантов…"),
    "limit.concurrent": ("рисуется {} картинка.", "рисуются {} картинки.", "рисуется {} картинок."),
    "limit.daily": ("картинку —", "картинки —", "картинок —"),
    "limit.pictures": ("картинка (", "картинки (", "картинок ("),
    "voice.too_long": ("секунды.", "секунд.", "секунд."),
    "error.prompt_too_long": ("символ,", "символа,", "символов,"),
    "error.prompt_too_long_style": ("символа,", "символов,", "символов,"),
    "pay.button": ("кредит за", "кредита за", "кредитов за"),
    "pay.title": ("кредит", "кредита", "кредитов"),
}
EN = {
    "status.album": ("variant…", "variants…"),
    "status.album_model": ("variant…", "variants…"),
    "limit.concurrent": ("picture in", "pictures in"),
    "limit.daily": ("picture today", "pictures today"),
    "limit.pictures": ("picture remains", "pictures remain"),
    "voice.too_long": ("second.", "seconds."),
    "error.prompt_too_long": ("character,", "characters,"),
    "error.prompt_too_long_style": ("character,", "characters,"),
    "pay.button": ("credit for", "credits for"),
    "pay.title": ("credit", "credits"),
}
PARAMS = {"seeds": "1–2", "ratio": "1:1", "model": "aliceai", "hours": 3, "minutes": 4}


def ru_form(n: int) -> int:
    if n % 10 == 1 and n % 100 != 11:
        return 0
    return 1 if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14 else 2


@pytest.fixture(scope="module")
def texts() -> Texts:
    return Texts(PackagedI18n(), Limits(), 300)


def render(texts: Texts, locale: str, key: str, n: int) -> str:
    params: dict[str, object] = {
        **PARAMS,
        "n": n,
        "limit": n,
        "remaining": n,
        "seconds": n,
        "length": n,
        "style": "anime",
        "credits": n,
        "stars": 50,
    }
    if key == "error.prompt_too_long":
        params["limit"] = 500
    if key == "error.prompt_too_long_style":
        params["length"] = 900
    return texts.get(locale, key, **params)


def test_every_counted_text_is_checked() -> None:
    assert set(COUNTED) == set(RU) == set(EN)


@pytest.mark.parametrize("key", sorted(COUNTED))
@pytest.mark.parametrize("n", NUMBERS)
def test_counted_texts_take_their_numbers_form(texts: Texts, key: str, n: int) -> None:
    russian = render(texts, "ru", key, n)
    expected = RU[key][ru_form(n)].format(n)
    assert f"{n} " in russian
    assert expected in russian, russian
    others = {form.format(n) for form in RU[key]} - {expected}
    # A whole word: "11 кредитов" holds "11 кредит" but not the word "кредит".
    assert not any(re.search(rf"{n} {re.escape(other)}(?!\w)", russian) for other in others)
    english = render(texts, "en", key, n)
    assert EN[key][0 if n == 1 else 1] in english, english


def test_the_russian_examples_of_the_issue(texts: Texts) -> None:
    assert "Рисую 2 варианта" in render(texts, "ru", "status.album", 2)
    assert "осталось только 1 картинка" in render(texts, "ru", "limit.pictures", 1)
    assert "5 картинок" in render(texts, "ru", "limit.daily", 5)


def test_the_live_draft_shows_the_queue_place_the_time_and_the_estimate(texts: Texts) -> None:
    job = Job(
        id="j",
        chat_id=1,
        user_id=1,
        locale="ru",
        request=parse_art_args("лиса --seed 4", Limits()),
        seed=4,
        idempotency_key="k",
        created_at=0.0,
        deadline_at=1.0,
        next_poll_at=0.0,
    )
    queued = texts.draft(job, elapsed=12.4, estimate=20.2, place=3).split("\n")
    assert queued[0].startswith("⏳")
    assert "3" in queued[0]
    assert queued[1:] == ["⏱ Прошло 12 с", "Обычно такие картинки готовы примерно за 20 с."]
    drawing = texts.draft(job, elapsed=0, estimate=None, place=None).split("\n")
    assert drawing == [texts.status(job), "⏱ Прошло 0 с"]
