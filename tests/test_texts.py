"""Caption formatting: UTF-16 lengths, shortening and HTML escaping."""

from __future__ import annotations

import html

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.text import CAPTION_LIMIT, ELLIPSIS, caption, shorten, utf16_len

META = "seed 1 · 1:1"
SEPARATOR = "\n\n"
FOX = "🦊"  # outside the BMP: two UTF-16 units


def visible(text: str) -> str:
    """What Telegram shows (and counts) once it has parsed the HTML."""
    return html.unescape(text)


def prompt_part(shown: str, meta: str = META) -> str:
    suffix = SEPARATOR + meta
    assert shown.endswith(suffix)
    return shown[: -len(suffix)]


def is_whole(text: str) -> bool:
    """No lone surrogate: the text encodes to UTF-16 strictly."""
    try:
        text.encode("utf-16-le")
    except UnicodeEncodeError:
        return False
    return True


# --- utf16_len ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("", 0),
        ("abc", 3),
        ("лиса", 4),
        ("é", 1),
        ("…", 1),
        (FOX, 2),
        ("a" + FOX + "b", 4),
        ("👍🏽", 4),  # emoji + skin tone modifier: two astral code points
        ("中文", 2),
    ],
)
def test_utf16_len(text: str, units: int) -> None:
    assert utf16_len(text) == units


# --- shorten -----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "limit"), [("hello", 5), ("hello", 100), ("", 0), (FOX, 2)])
def test_shorten_leaves_fitting_text_alone(text: str, limit: int) -> None:
    assert shorten(text, limit) == text


def test_shorten_cuts_and_marks() -> None:
    assert shorten("hello world", 8) == "hello w…"
    assert shorten("hello world", 10) == "hello wor…"


def test_shorten_drops_trailing_space_before_ellipsis() -> None:
    assert shorten("hello world", 7) == "hello…"


@pytest.mark.parametrize("limit", [0, -1])
def test_shorten_to_nothing(limit: int) -> None:
    assert shorten("hello", limit) == ""


def test_shorten_to_one_unit_is_just_the_ellipsis() -> None:
    assert shorten("hello", 1) == ELLIPSIS


def test_shorten_never_splits_a_surrogate_pair() -> None:
    # Room for "a" and half a fox: the fox must go entirely.
    assert shorten("a" + FOX + "b", 3) == "a…"
    result = shorten(FOX * 10, 6)
    assert result == FOX * 2 + ELLIPSIS
    assert utf16_len(result) == 5
    assert is_whole(result)


def test_shorten_counts_utf16_units_not_code_points() -> None:
    text = FOX * 5  # 5 code points, 10 units
    assert len(text) == 5
    assert shorten(text, 9) == FOX * 4 + ELLIPSIS
    assert shorten(text, 10) == text


# --- caption -----------------------------------------------------------------------------


def test_caption_escapes_html() -> None:
    assert caption("<b>&", META) == "&lt;b&gt;&amp;" + SEPARATOR + META


def test_caption_escapes_meta() -> None:
    assert caption("cat", "seed <1> & co") == "cat" + SEPARATOR + "seed &lt;1&gt; &amp; co"


@pytest.mark.parametrize(
    "prompt", ["a cat", "misty forest :: 2 | fox :: 1", "лиса " + FOX, "x" * 500]
)
def test_short_prompt_is_unchanged(prompt: str) -> None:
    assert caption(prompt, META) == prompt + SEPARATOR + META


def test_long_prompt_is_shortened_to_fit() -> None:
    shown = visible(caption("x" * 5000, META))
    assert utf16_len(shown) <= CAPTION_LIMIT
    part = prompt_part(shown)
    assert part.endswith(ELLIPSIS)
    # The whole budget is used.
    assert part == "x" * (CAPTION_LIMIT - len(SEPARATOR) - len(META) - 1) + ELLIPSIS


def test_prompt_that_exactly_fits_is_kept() -> None:
    budget = CAPTION_LIMIT - len(SEPARATOR) - len(META)
    assert prompt_part(caption("y" * budget, META)) == "y" * budget
    assert prompt_part(visible(caption("y" * (budget + 1), META))).endswith(ELLIPSIS)


def test_limit_counts_visible_text_not_html() -> None:
    # Every "&" becomes "&amp;": the HTML is far longer than 1024, the visible text is not.
    raw = caption("&" * 5000, META)
    assert len(raw) > CAPTION_LIMIT
    shown = visible(raw)
    assert utf16_len(shown) == CAPTION_LIMIT
    assert prompt_part(shown) == "&" * (CAPTION_LIMIT - len(SEPARATOR) - len(META) - 1) + ELLIPSIS


def test_long_emoji_prompt_is_shortened_without_splitting() -> None:
    shown = visible(caption(FOX * 3000, META))
    assert utf16_len(shown) <= CAPTION_LIMIT
    assert is_whole(shown)
    part = prompt_part(shown)
    assert part.endswith(ELLIPSIS)
    assert set(part[:-1]) == {FOX}


def test_meta_with_emoji_is_counted_in_utf16() -> None:
    meta = FOX * 10  # 20 units
    shown = visible(caption("z" * 5000, meta))
    assert utf16_len(shown) <= CAPTION_LIMIT
    assert prompt_part(shown, meta) == "z" * (CAPTION_LIMIT - 2 - 20 - 1) + ELLIPSIS


prompts = st.one_of(
    st.text(),
    st.text(max_size=3000),
    st.text(
        alphabet=st.sampled_from(["a", " ", "&", "<", ">", '"', "'", FOX, "é", "\n"]), max_size=3000
    ),
    st.text(alphabet=st.sampled_from(["&", FOX]), min_size=1000, max_size=2000),
)


@settings(max_examples=200)
@given(prompt=prompts)
def test_caption_always_fits(prompt: str) -> None:
    shown = visible(caption(prompt, META))
    assert utf16_len(shown) <= CAPTION_LIMIT
    part = prompt_part(shown)
    if part != prompt:
        # Shortened: a prefix of the prompt, then the ellipsis.
        assert part.endswith(ELLIPSIS)
        assert prompt.startswith(part[: -len(ELLIPSIS)])
        assert utf16_len(prompt) > CAPTION_LIMIT - len(SEPARATOR) - len(META)


@settings(max_examples=200)
@given(text=st.text(max_size=300), limit=st.integers(min_value=0, max_value=400))
def test_shorten_properties(text: str, limit: int) -> None:
    result = shorten(text, limit)
    assert utf16_len(result) <= limit
    assert is_whole(result)
    if utf16_len(text) <= limit:
        assert result == text
    elif limit > 0:
        assert result.endswith(ELLIPSIS)
        assert text.startswith(result[: -len(ELLIPSIS)])
