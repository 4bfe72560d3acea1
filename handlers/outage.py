"""A store outage ends in one answer, never in silence: whatever handler the store failed
under, the message is answered, or the press (within Telegram's callback window), with
"storage is unavailable, try again in a minute"."""

import logging
from contextlib import suppress

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent
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


def create_router() -> Router:
    router = Router(name="outage")
    router.errors.register(store_unavailable, ExceptionTypeFilter(StoreUnavailable))
    return router
