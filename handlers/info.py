"""/start, /help and /privacy: static texts from locales/, with a word on voice prompts
when they are on (voice goes to Yandex SpeechKit)."""

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message
from aiogram.utils.i18n import I18n

from bot.services.voice import VoiceService
from bot.services.wallet import Wallet
from bot.telegram.notices import Notices
from bot.telegram.texts import Texts


def _with_voice(text: str, texts: Texts, locale: str, key: str, voice: VoiceService) -> str:
    return f"{text}\n\n{texts.get(locale, key)}" if voice.enabled else text


async def start(message: Message, texts: Texts, i18n: I18n, voice_service: VoiceService) -> None:
    locale = i18n.current_locale
    text = _with_voice(texts.start(locale), texts, locale, "start.voice", voice_service)
    await message.answer(text)


async def help_(
    message: Message, texts: Texts, i18n: I18n, voice_service: VoiceService, notices: Notices
) -> None:
    """In a group only the asker sees it."""
    locale = i18n.current_locale
    text = _with_voice(texts.help(locale), texts, locale, "help.voice", voice_service)
    await notices.reply(message, text, quote=False)


async def privacy(
    message: Message, texts: Texts, i18n: I18n, voice_service: VoiceService, wallet: Wallet
) -> None:
    locale = i18n.current_locale
    text = _with_voice(texts.privacy(locale), texts, locale, "privacy.voice", voice_service)
    if wallet.enabled:
        text += "\n\n" + texts.get(locale, "privacy.payments")
    await message.answer(text)


def create_router() -> Router:
    router = Router(name="info")
    router.message.register(start, CommandStart())
    router.message.register(help_, Command("help"))
    router.message.register(privacy, Command("privacy"))
    return router
