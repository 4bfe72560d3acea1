"""What the Bot API refuses, for the fake: HTML parse mode, lengths, callback data.

Telegram parses `parse_mode=HTML` strictly: only its tags, properly nested, and only the
entities &lt; &gt; &amp; &quot; (and numeric ones); every other `<`, `>` or `&` must be
escaped. Lengths count UTF-16 code units of the text as shown, after parsing.
"""

from __future__ import annotations

import html
import re
from typing import Any

TEXT_MAX = 4096
CAPTION_MAX = 1024
CALLBACK_DATA_MAX = 64  # bytes
CALLBACK_ANSWER_MAX = 200

_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_TAG = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)"
    r"((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*>"
)
_ATTR = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_MARKUP = re.compile(r"[<&>]")


class Refused(Exception):
    """A 400 from the Bot API, with Telegram's description."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = f"Bad Request: {description}"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def visible_text(text: str, parse_mode: str | None) -> str:
    """The text as Telegram shows it; bad markup is refused as Telegram refuses it."""
    if parse_mode is None:
        return text
    if parse_mode != "HTML":
        raise Refused(f"unsupported parse_mode {parse_mode!r}")
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        # Plain text up to the next markup character, in one slice (a long /help text was
        # most of the fake's CPU when read a character at a time, in bench.throughput).
        special = _MARKUP.search(text, i)
        end = len(text) if special is None else special.start()
        if end > i:
            out.append(text[i:end])
            i = end
            continue
        char = text[i]
        if char == "<":
            match = _TAG.match(text, i)
            if match is None:
                raise Refused(f"can't parse entities: Unexpected start tag at byte offset {i}")
            closing, name, attrs = match.group(1), match.group(2).lower(), match.group(3)
            if name not in _TAGS:
                raise Refused(f'can\'t parse entities: Unsupported start tag "{name}"')
            if closing:
                if not stack or stack[-1] != name:
                    raise Refused(f'can\'t parse entities: Unmatched end tag "{name}"')
                stack.pop()
            else:
                _check_attributes(name, attrs)
                stack.append(name)
            i = match.end()
        elif char == "&":
            match = _ENTITY.match(text, i)
            if match is None:
                raise Refused(f"can't parse entities: Unsupported HTML entity at byte offset {i}")
            out.append(html.unescape(match.group(0)))
            i = match.end()
        else:
            raise Refused(f"can't parse entities: Unexpected end tag at byte offset {i}")
    if stack:
        raise Refused(
            f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1]}\""
        )
    return "".join(out)


def _check_attributes(name: str, attrs: str) -> None:
    values = {
        m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or ""
        for m in _ATTR.finditer(attrs)
    }
    if name == "a" and "href" not in values:
        raise Refused('can\'t parse entities: Tag "a" must have attribute "href"')
    if name == "span" and values.get("class") != "tg-spoiler":
        raise Refused('can\'t parse entities: Tag "span" must have class "tg-spoiler"')
    if name == "tg-emoji" and "emoji-id" not in values:
        raise Refused('can\'t parse entities: Tag "tg-emoji" must have attribute "emoji-id"')


def message_text(text: str, parse_mode: str | None) -> str:
    shown = visible_text(text, parse_mode)
    if not shown.strip():
        raise Refused("message text is empty")
    if utf16_len(shown) > TEXT_MAX:
        raise Refused("message is too long")
    return shown


def caption_text(caption: str, parse_mode: str | None) -> str:
    shown = visible_text(caption, parse_mode)
    if utf16_len(shown) > CAPTION_MAX:
        raise Refused("message caption is too long")
    return shown


# Bot API 9.4: a button's colour, one of these or none.
BUTTON_STYLES = frozenset({"danger", "success", "primary"})
# What a button is besides its text, icon and style: exactly one of these (10.3: `disabled`).
_BUTTON_KINDS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
        "disabled",
    }
)


def check_keyboard(markup: dict[str, Any] | None, *, custom_emoji: bool = False) -> None:
    """`custom_emoji`: the bot may show custom emoji on buttons (a Fragment username, or
    an owner with Telegram Premium)."""
    if not markup:
        return
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if "style" in button and button["style"] not in BUTTON_STYLES:
                raise Refused("BUTTON_STYLE_INVALID")
            if "icon_custom_emoji_id" in button and not custom_emoji:
                raise Refused("custom emoji on buttons are not available to this bot")
            if len(_BUTTON_KINDS & button.keys()) != 1 or not button.keys() <= _BUTTON_KINDS | {
                "text",
                "style",
                "icon_custom_emoji_id",
            }:
                raise Refused("BUTTON_TYPE_INVALID")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= CALLBACK_DATA_MAX:
                raise Refused("BUTTON_DATA_INVALID")
