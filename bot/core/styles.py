"""Style presets: a name, its title in each language and the text sent to YandexART as an
extra weighted message. Built-in ones, overridden or extended by the operator's TOML file.

Pure: the file's text comes in, a catalogue or a `StylesError` naming the problem goes out.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

# Style names travel in callback data and flags: short, lowercase, no separators.
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,23}$")
# `--style none` asks for no style even when /settings has a default one.
NO_STYLE = "none"
STYLE_PROMPT_MAX = 200
# Titles are buttons in /settings and words of /styles; the whole catalogue is buttons too.
STYLE_TITLE_MAX = 32
STYLES_MAX = 30


@dataclass(frozen=True)
class Style:
    name: str
    titles: Mapping[str, str]  # locale → the style's name in that language
    prompt: str  # sent to YandexART; also the one-line description in /styles

    def title(self, locale: str) -> str:
        return self.titles.get(locale) or self.titles.get("en") or self.name


class StylesError(Exception):
    """The styles file is not valid; the message says where, without echoing values."""


class StyleCatalog:
    def __init__(self, styles: Mapping[str, Style]) -> None:
        self._styles = dict(styles)

    def __iter__(self) -> Iterator[Style]:
        return iter(self._styles.values())

    def __len__(self) -> int:
        return len(self._styles)

    def get(self, name: str | None) -> Style | None:
        return None if name is None else self._styles.get(name)

    def find(self, word: str) -> Style | None:
        """By name or by any of its titles, ignoring case: `--style акварель` works too."""
        wanted = word.strip().casefold()
        for style in self._styles.values():
            if wanted == style.name or wanted in (t.casefold() for t in style.titles.values()):
                return style
        return None

    @property
    def names(self) -> list[str]:
        return list(self._styles)

    def merged(self, extra: Mapping[str, Style]) -> StyleCatalog:
        """These styles with `extra` over them; a `StylesError` past STYLES_MAX in all."""
        styles = {**self._styles, **extra}
        if len(styles) > STYLES_MAX:
            raise StylesError(
                f"at most {STYLES_MAX} styles with the built-in ones; this file makes {len(styles)}"
            )
        return StyleCatalog(styles)


def _style(name: str, en: str, ru: str, prompt: str) -> Style:
    return Style(name, {"en": en, "ru": ru}, prompt)


BUILTIN = StyleCatalog(
    {
        s.name: s
        for s in (
            _style("photo", "Photo", "Фото", "realistic photograph, natural light, sharp focus"),
            _style("anime", "Anime", "Аниме", "anime illustration, clean line art, cel shading"),
            _style(
                "watercolor",
                "Watercolor",
                "Акварель",
                "watercolor painting, soft washes of color, paper texture",
            ),
            _style("oil", "Oil", "Масло", "oil painting, visible brush strokes, rich colors"),
            _style(
                "sketch", "Pencil sketch", "Карандаш", "pencil sketch, graphite lines, hatching"
            ),
            _style(
                "pixel", "Pixel art", "Пиксель-арт", "pixel art, 16-bit retro game, crisp pixels"
            ),
            _style("3d", "3D render", "3D", "3D render, soft global illumination, octane render"),
            _style(
                "cinematic",
                "Cinematic",
                "Кино",
                "cinematic film still, dramatic lighting, shallow depth of field",
            ),
            _style("neon", "Neon", "Неон", "neon lights, glowing colors, dark background"),
            _style(
                "minimal",
                "Minimalism",
                "Минимализм",
                "minimalist, simple shapes, flat colors, lots of empty space",
            ),
        )
    }
)


def parse_styles(text: str) -> dict[str, Style]:
    """Styles from TOML: one table per style, e.g.

    [noir]
    en = "Film noir"
    ru = "Нуар"
    prompt = "black and white film noir, hard shadows"
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StylesError(f"not valid TOML ({exc})") from None
    styles = {}
    for name, table in data.items():
        if not _NAME.match(name):
            raise StylesError(f"style name {name[:30]!r}: use 1-24 of a-z, 0-9, _ and -")
        if name == NO_STYLE:
            raise StylesError(f"style name {NO_STYLE!r} is reserved")
        if not isinstance(table, dict):
            raise StylesError(f"[{name}] must be a table")
        prompt = table.get("prompt")
        if not isinstance(prompt, str) or not 0 < len(prompt.strip()) <= STYLE_PROMPT_MAX:
            raise StylesError(f"[{name}] needs prompt, 1-{STYLE_PROMPT_MAX} characters")
        titles = {k: v for k, v in table.items() if k != "prompt"}
        if not all(
            isinstance(v, str) and 0 < len(v.strip()) <= STYLE_TITLE_MAX for v in titles.values()
        ):
            raise StylesError(f"[{name}]: titles must be 1-{STYLE_TITLE_MAX} characters")
        styles[name] = Style(name, {k: v.strip() for k, v in titles.items()}, prompt.strip())
    return styles
