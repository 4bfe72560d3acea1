"""Telegram's HTML (parse_mode=HTML) as safe HTML for the chat page: Telegram's own tags
mapped to plain ones, links only to http(s) and tg:, every other character escaped. The
emulator has already refused markup Telegram would refuse; this only renders it."""

from __future__ import annotations

import html
from html.parser import HTMLParser

# Telegram's tag -> the tag the page shows (spoilers and custom emoji become spans).
_TAGS = {
    "b": "b",
    "strong": "b",
    "i": "i",
    "em": "i",
    "u": "u",
    "ins": "u",
    "s": "s",
    "strike": "s",
    "del": "s",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "a": "a",
    "tg-spoiler": "span",
    "tg-emoji": "span",
    "span": "span",
}
_SCHEMES = ("http://", "https://", "tg://")


def to_html(text: str, parse_mode: str | None) -> str:
    """What the page shows for a message's text or caption as the bot sent it."""
    if (parse_mode or "").upper() != "HTML":
        return html.escape(text)
    parser = _Renderer()
    parser.feed(text)
    parser.close()
    return parser.result()


class _Renderer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        shown = _TAGS.get(tag)
        if shown is None:
            return
        values = dict(attrs)
        opening = f"<{shown}>"
        if tag == "a":
            href = values.get("href") or ""
            if href.startswith(_SCHEMES):
                opening = f'<a href="{html.escape(href)}" target="_blank" rel="noopener">'
        elif tag == "tg-spoiler" or (tag == "span" and values.get("class") == "tg-spoiler"):
            opening = '<span class="spoiler">'
        elif tag == "blockquote" and "expandable" in values:
            opening = '<blockquote class="expandable">'
        self._out.append(opening)
        self._open.append(shown)

    def handle_endtag(self, tag: str) -> None:
        shown = _TAGS.get(tag)
        if shown is not None and shown in self._open:
            while self._open:
                last = self._open.pop()
                self._out.append(f"</{last}>")
                if last == shown:
                    break

    def handle_data(self, data: str) -> None:
        self._out.append(html.escape(data))

    def result(self) -> str:
        return "".join(self._out) + "".join(f"</{tag}>" for tag in reversed(self._open))
