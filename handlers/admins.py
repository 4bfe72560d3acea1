"""The one check in front of every admin command (/stats, /refund, /grant)."""

from aiogram.types import Message

from bot.core.limits import AccessRules
from bot.telegram.texts import Texts


async def refused_unless_admin(
    message: Message, rules: AccessRules, texts: Texts, locale: str
) -> bool:
    """Answer "admins only" and say so when the sender is not in ADMIN_IDS."""
    if message.from_user is not None and rules.is_admin(message.from_user.id):
        return False
    await message.answer(texts.get(locale, "stats.admins_only"))
    return True
