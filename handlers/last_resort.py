"""Answers of last resort, so that nothing ends in silence: a store outage under any
handler answers the message, or the press (within Telegram's callback window), with
"storage is unavailable, try again in a minute"; a press no handler knows (a keyboard of an
older release) is out of date. This router comes last."""

import logging
from contextlib import suppress

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import CallbackQuery, ErrorEvent
from aiogram.utils.i18n import I18n

from bot.core.errors import StoreUnavailable
from bot.telegram.texts import Texts

log = logging.getLogger(__name__)


async def store_unavailable(event: ErrorEvent, texts: Texts, i18n: I18n) -> None:
    update = event.update
    log.warning(
        "update %s: store unavailable (%s), told", update.update_id, type(event.exception).__name__
    )
    text = texts.get(i18n.current_locale, "store.unavailable")
    # Telegram may refuse (a press answered already, a chat gone): nothing more to do then.
    with suppress(TelegramAPIError):
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        elif update.message is not None:
            await update.message.reply(text)


async def unknown_press(query: CallbackQuery, texts: Texts, i18n: I18n) -> None:
    with suppress(TelegramAPIError):
        await query.answer(texts.get(i18n.current_locale, "callback.stale"))


def create_router() -> Router:
    router = Router(name="last_resort")
    router.errors.register(store_unavailable, ExceptionTypeFilter(StoreUnavailable))
    router.callback_query.register(unknown_press)
    return router
