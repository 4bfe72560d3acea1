"""/stats for admins: today's load, failures and delivery lag."""

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import I18n

from bot.core.limits import AccessRules
from bot.services.stats import StatsService
from bot.services.wallet import Wallet
from bot.telegram.texts import Texts
from handlers.admins import refused_unless_admin


async def stats(
    message: Message,
    stats: StatsService,
    rules: AccessRules,
    texts: Texts,
    i18n: I18n,
    wallet: Wallet,
) -> None:
    locale = i18n.current_locale
    if await refused_unless_admin(message, rules, texts, locale):
        return
    text = texts.stats(locale, await stats.today())
    if wallet.enabled:
        text += "\n" + texts.get(locale, "stats.payments", **await wallet.today())
    await message.answer(text)


def create_router() -> Router:
    router = Router(name="stats")
    router.message.register(stats, Command("stats"))
    return router
