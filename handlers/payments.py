"""Credits for Telegram Stars: /buy, the invoice's pre-checkout and payment, /balance,
/paysupport, and for admins /refund and /grant. While payments are off (no CREDIT_PACKS)
the commands are unknown, as before."""

import html
import time

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    PreCheckoutQuery,
)
from aiogram.utils.i18n import I18n

from bot.core.ledger import STARS, new_payload
from bot.core.limits import AccessRules
from bot.services.wallet import Wallet
from bot.telegram.filters import Magic
from bot.telegram.notices import Notices
from bot.telegram.texts import Texts
from handlers.admins import refused_unless_admin

RECENT_PAYMENTS = 10


class BuyPack(CallbackData, prefix="buy"):
    credits: int


async def payments_on(_: object, wallet: Wallet) -> bool:
    return wallet.enabled


async def buy(message: Message, wallet: Wallet, texts: Texts, i18n: I18n, notices: Notices) -> None:
    locale = i18n.current_locale
    if message.chat.type != ChatType.PRIVATE:
        await notices.reply(message, texts.get(locale, "pay.private_only"))
        return
    buttons = [
        [
            InlineKeyboardButton(
                text=texts.get(locale, "pay.button", credits=p.credits, stars=p.stars),
                callback_data=BuyPack(credits=p.credits).pack(),
            )
        ]
        for p in wallet.packs
    ]
    await message.answer(
        texts.get(locale, "pay.choose"), reply_markup=InlineKeyboardMarkup(inline_keyboard=buttons)
    )


async def buy_pack(
    query: CallbackQuery, callback_data: BuyPack, bot: Bot, wallet: Wallet, texts: Texts, i18n: I18n
) -> None:
    """A pack pressed: its invoice, in Stars, with the pack and a nonce in the payload."""
    locale = i18n.current_locale
    pack = next((p for p in wallet.packs if p.credits == callback_data.credits), None)
    if pack is None or query.message is None:
        await query.answer(texts.get(locale, "pay.gone"), show_alert=True)
        return
    await query.answer()
    await bot.send_invoice(
        chat_id=query.message.chat.id,
        title=texts.get(locale, "pay.title", credits=pack.credits),
        description=texts.get(locale, "pay.description", credits=pack.credits),
        payload=new_payload(pack),
        currency=STARS,
        prices=[LabeledPrice(label=texts.get(locale, "pay.label"), amount=pack.stars)],
    )


async def pre_checkout(query: PreCheckoutQuery, wallet: Wallet, texts: Texts, i18n: I18n) -> None:
    """Answered at once (Telegram waits 10 s): the pack must still be sold at that price
    and the buyer let in by the access rules. Nothing is granted before the payment."""
    locale = i18n.current_locale
    pack = wallet.pack(query.invoice_payload)
    if not wallet.may_buy(query.from_user.id):
        await query.answer(ok=False, error_message=texts.get(locale, "pay.denied"))
    elif pack is None or query.currency != STARS or query.total_amount != pack.stars:
        await query.answer(ok=False, error_message=texts.get(locale, "pay.gone"))
    else:
        await query.answer(ok=True)


async def paid(message: Message, wallet: Wallet, texts: Texts, i18n: I18n) -> None:
    """Credited once per charge id: the same update again (or at another instance) is
    silent."""
    payment = message.successful_payment
    if payment is None or message.from_user is None:
        return
    balance = await wallet.pay(
        message.from_user.id, payment.telegram_payment_charge_id, payment.invoice_payload
    )
    if balance is not None:
        await message.answer(texts.get(i18n.current_locale, "pay.thanks", balance=balance))


async def balance(
    message: Message, wallet: Wallet, texts: Texts, i18n: I18n, notices: Notices
) -> None:
    """In a private chat only: a user's credits are nobody else's business."""
    locale = i18n.current_locale
    if message.chat.type != ChatType.PRIVATE:
        await notices.reply(message, texts.get(locale, "pay.private_balance"))
        return
    if message.from_user is None:
        return
    user_id = message.from_user.id
    credits = await wallet.balance(user_id)
    free = await wallet.free_left(user_id)
    key = "pay.balance_unlimited" if free is None else "pay.balance"
    text = texts.get(locale, key, free=free, credits=credits.available)
    if credits.reserved:
        text += "\n" + texts.get(locale, "pay.reserved", credits=credits.reserved)
    await message.answer(text)


async def paysupport(
    message: Message, wallet: Wallet, texts: Texts, i18n: I18n, paysupport_text: str
) -> None:
    """The operator's contact; in a private chat also the user's payments (charge ids are
    what support asks for, and nobody else's business)."""
    locale = i18n.current_locale
    lines = [html.escape(paysupport_text)]
    private = message.chat.type == ChatType.PRIVATE and message.from_user is not None
    payments = await wallet.payments(message.from_user.id) if private and message.from_user else []
    if payments:
        lines.append("\n" + texts.get(locale, "pay.recent"))
    for p in payments[:RECENT_PAYMENTS]:
        key = "pay.line_refunded" if p.refunded else "pay.line"
        day = time.strftime("%Y-%m-%d", time.gmtime(p.at))
        lines.append(
            texts.get(
                locale,
                key,
                date=day,
                credits=p.credits,
                stars=p.stars,
                charge=html.escape(p.charge_id),
            )
        )
    await message.answer("\n".join(lines))


async def refund(
    message: Message,
    command: CommandObject,
    wallet: Wallet,
    rules: AccessRules,
    texts: Texts,
    i18n: I18n,
) -> None:
    """/refund <charge id>, for admins: through Telegram, while the credits are unspent."""
    locale = i18n.current_locale
    if await refused_unless_admin(message, rules, texts, locale):
        return
    charge_id = (command.args or "").strip()
    owner = await wallet.owner_of(charge_id) if charge_id else None
    if owner is None:
        await message.answer(texts.get(locale, "pay.refund_unknown"))
        return
    result = await wallet.refund(owner, charge_id)
    await message.answer(
        texts.get(
            locale,
            f"pay.refund_{result.outcome}",
            credits=result.credits,
            available=result.available,
        )
    )


async def grant(
    message: Message,
    command: CommandObject,
    wallet: Wallet,
    rules: AccessRules,
    texts: Texts,
    i18n: I18n,
) -> None:
    """/grant <user id> <credits>, for admins: support cases."""
    locale = i18n.current_locale
    if await refused_unless_admin(message, rules, texts, locale):
        return
    args = (command.args or "").split()
    if len(args) != 2 or not args[0].isdigit() or not args[1].isdigit() or int(args[1]) < 1:
        await message.answer(texts.get(locale, "pay.grant_usage"))
        return
    user_id, credits = int(args[0]), int(args[1])
    balance = await wallet.grant(user_id, credits)
    await message.answer(
        texts.get(locale, "pay.granted", user=user_id, credits=credits, balance=balance)
    )


def create_router() -> Router:
    router = Router(name="payments")
    # Even with payments off, an invoice sent before is refused at its pre-checkout (no
    # pack is sold), and a payment made just before they were turned off is credited.
    router.pre_checkout_query.register(pre_checkout)
    router.message.register(paid, Magic(F.successful_payment))
    router.callback_query.register(buy_pack, BuyPack.filter(), payments_on)
    router.message.register(buy, Command("buy"), payments_on)
    router.message.register(balance, Command("balance"), payments_on)
    router.message.register(paysupport, Command("paysupport"), payments_on)
    router.message.register(refund, Command("refund"), payments_on)
    router.message.register(grant, Command("grant"), payments_on)
    return router
