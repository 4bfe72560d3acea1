"""/settings: default ratio, prompt enhancement, model (when there is a choice),
interface language and style, on buttons."""

import html
from contextlib import suppress

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.core.prefs import RATIO_CHOICES, UserPrefs
from bot.core.styles import NO_STYLE, StyleCatalog
from bot.services.art import ArtService
from bot.services.prefs import PrefsService
from bot.telegram.identity import may_act_for, sender_key
from bot.telegram.texts import Texts

AUTO = "auto"


class SettingsAction(CallbackData, prefix="s"):
    """A choice in the /settings of `owner` (the key they are kept under)."""

    key: str
    value: str
    owner: int


def languages(texts: Texts) -> dict[str, str]:
    """Each language by its own name, as people look for theirs."""
    return {code: texts.get(code, "language.name") for code in sorted(texts.locales)}


def label(texts: Texts, locale: str, text: str, chosen: bool) -> str:
    return texts.get(locale, "settings.chosen", label=text) if chosen else text


def render(
    texts: Texts,
    locale: str,
    prefs: UserPrefs,
    styles: StyleCatalog,
    default_model: str,
    owner: int,
) -> tuple[str, InlineKeyboardMarkup]:
    """The settings and their buttons; models only when MODELS offers more than one."""
    state = texts.get(locale, "settings.on" if prefs.enhance else "settings.off")
    names = languages(texts)
    language = names.get(prefs.language or "", texts.get(locale, "settings.auto"))
    text = texts.get(locale, "settings.text", ratio=prefs.ratio, enhance=state, language=language)
    models = texts.offered if len(texts.offered) > 1 else ()
    model = prefs.model if prefs.model in models else default_model
    if models:
        text += "\n" + texts.get(locale, "settings.model", model=model)
    style = styles.get(prefs.style)
    no_style = texts.get(locale, "settings.no_style")
    text += "\n" + texts.get(
        locale, "settings.style_line", style=html.escape(style.title(locale)) if style else no_style
    )
    text += "\n\n" + texts.get(locale, "settings.note")  # after every setting
    builder = InlineKeyboardBuilder()
    for ratio in RATIO_CHOICES:
        # ":" separates callback data fields, so "16:9" travels as "16x9".
        value = ratio.replace(":", "x")
        builder.button(
            text=label(texts, locale, ratio, ratio == prefs.ratio),
            callback_data=SettingsAction(owner=owner, key="ratio", value=value),
        )
    builder.button(
        text=texts.get(locale, "settings.enhance_button", state=state),
        callback_data=SettingsAction(
            owner=owner, key="enhance", value="off" if prefs.enhance else "on"
        ),
    )
    for name in models:
        builder.button(
            text=label(texts, locale, name, name == model),
            callback_data=SettingsAction(owner=owner, key="model", value=name),
        )
    choices = {AUTO: texts.get(locale, "settings.language_auto"), **names}
    for code, name in choices.items():
        builder.button(
            text=label(texts, locale, name, (prefs.language or AUTO) == code),
            callback_data=SettingsAction(owner=owner, key="language", value=code),
        )
    style_choices = {NO_STYLE: no_style, **{s.name: s.title(locale) for s in styles}}
    for name, title in style_choices.items():
        builder.button(
            text=label(texts, locale, title, (style.name if style else NO_STYLE) == name),
            callback_data=SettingsAction(owner=owner, key="style", value=name),
        )
    rows = [3, 3, 1, *([len(models)] if models else []), len(choices)]
    builder.adjust(*rows, *[3] * -(-len(style_choices) // 3))
    return text, builder.as_markup()


async def show(
    message: Message,
    prefs: PrefsService,
    styles: StyleCatalog,
    art_service: ArtService,
    texts: Texts,
    i18n: I18n,
) -> None:
    user_id = sender_key(message)
    user_prefs = await prefs.get(user_id)
    default_model = art_service.backends.default
    text, keyboard = render(texts, i18n.current_locale, user_prefs, styles, default_model, user_id)
    await message.answer(text, reply_markup=keyboard)


async def change(
    query: CallbackQuery,
    callback_data: SettingsAction,
    prefs: PrefsService,
    styles: StyleCatalog,
    art_service: ArtService,
    texts: Texts,
    i18n: I18n,
    bot: Bot,
) -> None:
    owner = callback_data.owner
    if not await may_act_for(bot, query, owner):
        await query.answer(
            texts.get(i18n.current_locale, "callback.someone_elses"), show_alert=True
        )
        return
    key, value = callback_data.key, callback_data.value.replace("x", ":")
    if key == "style" and (callback_data.value == NO_STYLE or styles.get(callback_data.value)):
        style = None if callback_data.value == NO_STYLE else callback_data.value
        updated = await prefs.update(owner, style=style)
    elif key == "ratio" and value in RATIO_CHOICES:
        updated = await prefs.update(owner, ratio=value)
    elif key == "enhance" and value in ("on", "off"):
        updated = await prefs.update(owner, enhance=value == "on")
    elif key == "model" and callback_data.value in texts.offered:
        updated = await prefs.update(owner, model=callback_data.value)
    elif key == "language" and (value == AUTO or value in texts.locales):
        updated = await prefs.update(owner, language=None if value == AUTO else value)
    else:
        await query.answer(texts.get(i18n.current_locale, "callback.stale"))
        return
    locale = updated.language or i18n.current_locale
    await query.answer(texts.get(locale, "settings.saved"))
    if isinstance(query.message, Message):
        default_model = art_service.backends.default
        text, keyboard = render(texts, locale, updated, styles, default_model, owner)
        # Pressing the choice already set changes nothing, which Telegram refuses as an edit.
        with suppress(TelegramBadRequest):
            await query.message.edit_text(text, reply_markup=keyboard)


def create_router() -> Router:
    router = Router(name="settings")
    router.message.register(show, Command("settings"))
    router.callback_query.register(
        change,
        SettingsAction.filter(F.key.in_({"ratio", "enhance", "model", "language", "style"})),
    )
    return router
