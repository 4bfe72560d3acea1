"""Inline keyboards. Callback data holds only an action and a job id (Telegram allows 64
bytes); the job itself stays in the store."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.texts import Texts


class Action(StrEnum):
    AGAIN = "again"
    ORIGINAL = "original"
    CANCEL = "cancel"


class JobAction(CallbackData, prefix="j"):
    action: Action
    job_id: str


def result_keyboard(texts: Texts, locale: str, job_id: str) -> InlineKeyboardMarkup:
    """Under a delivered picture: draw it again with a new seed, or get the original JPEG."""
    builder = InlineKeyboardBuilder()
    for action in (Action.AGAIN, Action.ORIGINAL):
        builder.button(
            text=texts.get(locale, f"button.{action}"),
            callback_data=JobAction(action=action, job_id=job_id),
        )
    return builder.as_markup()


def status_keyboard(texts: Texts, locale: str, job_id: str) -> InlineKeyboardMarkup:
    """Under "Generating…": cancel."""
    builder = InlineKeyboardBuilder()
    builder.button(
        text=texts.get(locale, "button.cancel"),
        callback_data=JobAction(action=Action.CANCEL, job_id=job_id),
    )
    return builder.as_markup()
