"""Text rules Telegram imposes, as pure functions: lengths in UTF-16 units, shortening,
HTML captions that fit."""

from __future__ import annotations

import html

CAPTION_LIMIT = 1024
MESSAGE_LIMIT = 4096
ELLIPSIS = "…"


def utf16_len(text: str) -> int:
    """Telegram measures text in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-16 units, marked with an ellipsis when cut."""
    if utf16_len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    cut = text[: limit - 1]
    while utf16_len(cut) > limit - 1:
        cut = cut[:-1]
    return cut.rstrip() + ELLIPSIS


def split_lines(lines: list[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Lines joined into as few messages as fit `limit` UTF-16 units each (a line is never
    split, so each must fit on its own). Markup counts too: a safe bound for HTML."""
    parts: list[str] = []
    for line in lines:
        if parts and utf16_len(parts[-1]) + 1 + utf16_len(line) <= limit:
            parts[-1] += "\n" + line
        else:
            parts.append(line)
    return parts


def caption(prompt: str, meta: str, limit: int = CAPTION_LIMIT) -> str:
    """HTML caption: the prompt (escaped, shortened so the whole caption fits) and a meta
    part (a note and the seed line), which is never cut.

    The limit counts visible characters, so the prompt is shortened before escaping.
    """
    separator = "\n\n"
    budget = limit - utf16_len(separator) - utf16_len(meta)
    return html.escape(shorten(prompt, budget)) + separator + html.escape(meta)
