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
    )
