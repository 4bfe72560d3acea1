"""Style presets: --style sends the style as a weighted message; /styles, STYLES_FILE and
a default style in /settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.core.prompt import Limits, PromptError, parse_art_args
from bot.core.styles import BUILTIN, StylesError, parse_styles
from bot.emulators.telegram import Call, FakeTelegram
from bot.emulators.yandexart import FakeYandex
from bot.ops.app import load_styles
from bot.ops.settings import StartupError
from tests.conftest import RunningBot

WATERCOLOR = "watercolor painting, soft washes of color, paper texture"


def buttons(call: Call) -> dict[str, str]:
    keyboard = call.json("reply_markup")["inline_keyboard"]
    return {b["text"]: b["callback_data"] for row in keyboard for b in row}


async def test_style_is_a_message_weighing_half_the_prompt(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_message("/art a red fox --style watercolor --seed 3")
    telegram.push_message("/art forest :: 2 | fox :: 1 --style акварель --seed 4")
    photos = await telegram.wait_for("sendPhoto", 2)
    by_seed = {body["generationOptions"]["seed"]: body["messages"] for _, body in yandex.submits}
    assert by_seed["3"] == [
        {"weight": 1.0, "text": "a red fox"},
        {"weight": 0.5, "text": WATERCOLOR},
    ]
    assert by_seed["4"] == [
        {"weight": 2.0, "text": "forest"},
        {"weight": 1.0, "text": "fox"},
        {"weight": 1.5, "text": WATERCOLOR},
    ]
    captions = sorted(p.params["caption"] for p in photos)
    assert captions[0] == "a red fox\n\nseed 3 · 1:1 · watercolor"


async def test_unknown_style_is_answered_with_the_list_before_any_submit(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_message("/art a fox --style cubism")
    reply = (await telegram.wait_for("sendMessage"))[0].params["text"]
    assert "There is no style <code>cubism</code>" in reply
    assert "photo, anime, watercolor, oil, sketch, pixel, 3d, cinematic, neon, minimal" in reply
    assert yandex.submits == []


async def test_styles_lists_the_catalogue_in_the_users_language(
    running: RunningBot, telegram: FakeTelegram
) -> None:
    telegram.push_message("/styles", language_code="ru")
    text = (await telegram.wait_for("sendMessage"))[0].params["text"]
    assert len(BUILTIN) == 10
    assert f"<code>watercolor</code> — Акварель: <i>{WATERCOLOR}</i>" in text


async def test_styles_file_adds_and_overrides(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, tmp_path: Path
) -> None:
    path = tmp_path / "styles.toml"
    path.write_text(
        '[noir]\nen = "Film noir"\nru = "Нуар"\nprompt = "black and white film noir"\n'
        '[oil]\nen = "Oil"\nprompt = "thick impasto oil paint"\n',
        encoding="utf-8",
    )
    await start_bot(styles_file=path)
    telegram.push_message("/styles")
    listing = (await telegram.wait_for("sendMessage"))[0].params["text"]
    assert "<code>noir</code> — Film noir: <i>black and white film noir</i>" in listing
    telegram.push_message("/art a street --style нуар --seed 1")
    telegram.push_message("/art a pear --style oil --seed 2")
    await telegram.wait_for("sendPhoto", 2)
    styles = {body["messages"][-1]["text"] for _, body in yandex.submits}
    assert styles == {"black and white film noir", "thick impasto oil paint"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('["Bad Name"]\nprompt = "x"', "style name 'Bad Name'"),
        ("[none]\nprompt = 'x'", "reserved"),
        ("[ok]\nen = 'Ok'", "[ok] needs prompt"),
        ("[ok\nprompt = 'x'", "not valid TOML"),
        ("[ok]\nen = '" + "T" * 33 + "'\nprompt = 'x'", "[ok]: titles must be 1-32 characters"),
        (
            "".join(f"[s{n}]\nprompt = 'x'\n" for n in range(21)),  # 31 with the built-in
            "at most 30 styles",
        ),
    ],
)
def test_bad_styles_file_stops_start_up_with_one_line(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(StylesError, match=message.replace("[", r"\[")):
        BUILTIN.merged(parse_styles(text))
    path = tmp_path / "styles.toml"
    path.write_text(text)
    with pytest.raises(StartupError) as caught:
        load_styles(path)
    assert str(caught.value).startswith("STYLES_FILE: ")
    assert "\n" not in str(caught.value)
    with pytest.raises(StartupError, match="STYLES_FILE: cannot read it"):
        load_styles(tmp_path / "missing.toml")


def test_style_text_counts_towards_the_prompt_limit() -> None:
    limits = Limits(max_length=60)
    request = parse_art_args("a fox --style photo", limits)
    assert request.style == "photo"
    with pytest.raises(PromptError) as caught:
        parse_art_args("x" * 20 + " --style watercolor", limits)
    assert caught.value.code == "prompt_too_long_style"
    assert caught.value.params["limit"] == 60 - len(WATERCOLOR)


async def test_default_style_from_settings_and_style_none(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_message("/settings")
    menu = (await telegram.wait_for("sendMessage"))[0]
    assert "Style: No style" in menu.params["text"]
    telegram.push_callback(buttons(menu)["Anime"], message=menu.result)
    edited = (await telegram.wait_for("editMessageText"))[0]
    assert "Style: Anime" in edited.params["text"]
    assert "✓ Anime" in buttons(edited)
    telegram.push_message("/art a cat --seed 1")
    telegram.push_message("/art a dog --style none --seed 2")
    await telegram.wait_for("sendPhoto", 2)
    by_seed = {body["generationOptions"]["seed"]: body["messages"] for _, body in yandex.submits}
    assert by_seed["1"][-1]["text"] == BUILTIN.find("anime").prompt  # type: ignore[union-attr]
    assert by_seed["2"] == [{"weight": 1.0, "text": "a dog"}]


async def test_a_long_styles_file_is_listed_in_parts_and_titles_are_escaped(
    start_bot: Any, telegram: FakeTelegram, tmp_path: Path
) -> None:
    """Issue 21 item 12: 20 styles with long prompts made /styles too long for Telegram,
    and a title with markup characters broke /settings."""
    path = tmp_path / "styles.toml"
    styles = [f'[s{n:02}]\nen = "Style {n:02}"\nprompt = "{"p" * 190}{n}"\n' for n in range(19)]
    styles.append('[noir]\nen = "Noir <&> Co"\nprompt = "black & white <film> noir"\n')
    path.write_text("".join(styles), encoding="utf-8")
    await start_bot(styles_file=path)
    telegram.push_message("/styles")
    await telegram.wait_for("sendMessage", 2, ok=True)
    parts = [c.params["text"] for c in telegram.sent("sendMessage", ok=True)]
    assert len(parts) == len(telegram.sent("sendMessage"))  # Telegram took every part
    assert all(len(p) <= 4096 for p in parts)
    listing = "\n".join(parts)
    assert all(f"<code>s{n:02}</code>" in listing for n in range(19))
    assert "Noir &lt;&amp;&gt; Co: <i>black &amp; white &lt;film&gt; noir</i>" in listing

    telegram.push_message("/settings")
    menu = (await telegram.wait_for("sendMessage", len(parts) + 1, ok=True))[-1]
    telegram.push_callback(buttons(menu)["Noir <&> Co"], message=menu.result)
    edited = (await telegram.wait_for("editMessageText", ok=True))[0]
    assert "Style: Noir &lt;&amp;&gt; Co" in edited.params["text"]
