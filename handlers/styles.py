"""/styles: the style presets `--style NAME` accepts, in the user's language."""

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import I18n

from bot.core.styles import StyleCatalog
from bot.telegram.notices import Notices
from bot.telegram.texts import Texts


async def styles_(
    message: Message, styles: StyleCatalog, texts: Texts, i18n: I18n, notices: Notices
) -> None:
    """Usage: in a group only the asker sees it; as many messages as Telegram needs."""
    for part in texts.styles(i18n.current_locale, styles):
        await notices.reply(message, part, quote=False)


def create_router() -> Router:
    router = Router(name="styles")
    router.message.register(styles_, Command("styles"))
    return router
