"""Inline keyboards. Callback data holds only an action and a job id (Telegram allows 64
bytes); the job itself stays in the store."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram.texts import Texts


class Action(StrEnum):
    AGAIN = "again"
    ORIGINAL = "original"
    CANCEL = "cancel"


# Bot API 9.4 button colours: what a press does, at a glance (Telegram refuses other names).
STYLES = {Action.CANCEL: "danger", Action.AGAIN: "primary"}


class JobAction(CallbackData, prefix="j"):
    action: Action
    job_id: str


def result_keyboard(
    texts: Texts, locale: str, job_id: str, original: bool = True
) -> InlineKeyboardMarkup:
    """Under a delivered picture: draw it again with a new seed, or get the original JPEG
    (only from a model that keeps its results)."""
    actions = (Action.AGAIN, Action.ORIGINAL) if original else (Action.AGAIN,)
    row = [_button(texts, locale, action, job_id) for action in actions]
    return InlineKeyboardMarkup(inline_keyboard=[row])


def status_keyboard(texts: Texts, locale: str, job_id: str) -> InlineKeyboardMarkup:
    """Under "Generating…": cancel. Sent with every /art, so built directly: aiogram's
    InlineKeyboardBuilder took twice as long."""
    return InlineKeyboardMarkup(inline_keyboard=[[_button(texts, locale, Action.CANCEL, job_id)]])


def _button(texts: Texts, locale: str, action: Action, job_id: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=texts.get(locale, f"button.{action}"),
        callback_data=JobAction(action=action, job_id=job_id).pack(),
        style=STYLES.get(action),
        icon_custom_emoji_id=texts.button_icons.get(action),
    )


class HistoryAction(CallbackData, prefix="h"):
    """Repeat a /history entry of `owner` (the key the list was made for); the entry id
    is its job id."""

    entry_id: str
    owner: int


class ForgetAction(CallbackData, prefix="forget"):
    """Confirm /forget; only the user who asked may press it (or, for a group's key, the
    group's admins)."""

    user_id: int


def history_keyboard(entry_ids: list[str], owner: int) -> InlineKeyboardMarkup:
    """🔁 1 … 🔁 N, numbered like the lines of the list, five to a row."""
    buttons = [
        InlineKeyboardButton(
            text=f"🔁 {n}", callback_data=HistoryAction(entry_id=i, owner=owner).pack()
        )
        for n, i in enumerate(entry_ids, 1)
    ]
    return InlineKeyboardMarkup(
        inline_keyboard=[buttons[i : i + 5] for i in range(0, len(buttons), 5)]
    )


def forget_keyboard(texts: Texts, locale: str, user_id: int) -> InlineKeyboardMarkup:
    button = InlineKeyboardButton(
        text=texts.get(locale, "forget.button"),
        callback_data=ForgetAction(user_id=user_id).pack(),
    )
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


class VariantAction(CallbackData, prefix="v"):
    """📄 N under an album: the original of variant `index` (0-based) of job `job_id`."""

    job_id: str
    index: int


def album_keyboard(job_id: str, indexes: list[int]) -> InlineKeyboardMarkup:
    """After an album (which cannot carry buttons): 📄 N for each variant sent, numbered
    from 1 like the caption, and 🔁 for all of them again with new seeds."""
    originals = [
        InlineKeyboardButton(
            text=f"📄 {i + 1}", callback_data=VariantAction(job_id=job_id, index=i).pack()
        )
        for i in indexes
    ]
    again = InlineKeyboardButton(
        text="🔁",
        callback_data=JobAction(action=Action.AGAIN, job_id=job_id).pack(),
        style=STYLES[Action.AGAIN],
    )
    return InlineKeyboardMarkup(inline_keyboard=[[*originals, again]])
