"""Telegram Stars calls the ledger needs: refunds and the list of transactions.

Errors are reduced to their kind: an HTTP error's text can carry the bot token (in the
URL), so it is never logged or shown.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest

log = logging.getLogger(__name__)

CALL_TIMEOUT = 15.0
PAGE = 100  # getStarTransactions returns at most 100 a call


@dataclass(frozen=True)
class StarTransaction:
    id: str  # for a user's payment: its telegram_payment_charge_id
    user_id: int | None
    amount: int
    date: float
    incoming: bool  # a payment; False for a refund (to the user)
    payload: str = ""  # the invoice payload of a user's payment


class Stars:
    def __init__(self, bot: Bot, *, timeout: float = CALL_TIMEOUT) -> None:
        self._bot = bot
        self._timeout = timeout

    async def refund(self, user_id: int, charge_id: str) -> str | None:
        """None when Telegram refunded the payment, else why not: "refunded" (it was
        refunded already) or "failed"."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._bot.refund_star_payment(
                    user_id=user_id, telegram_payment_charge_id=charge_id
                )
        except TelegramBadRequest as exc:
            if "REFUNDED" in exc.message.upper():
                return "refunded"
            log.warning("refundStarPayment refused (%s)", type(exc).__name__)
            return "failed"
        except (TelegramAPIError, TimeoutError) as exc:
            log.warning("refundStarPayment failed (%s)", type(exc).__name__)
            return "failed"
        return None

    async def transactions(
        self, since: float = 0.0, offset: int = 0
    ) -> tuple[list[StarTransaction], int]:
        """The transactions since `since` from the `offset`-th on (Telegram lists them all
        in chronological order, in pages of 100), and the offset after the last one."""
        found: list[StarTransaction] = []
        while True:
            async with asyncio.timeout(self._timeout):
                page = await self._bot.get_star_transactions(offset=offset, limit=PAGE)
            for item in page.transactions:
                incoming = item.source is not None
                partner = item.source if incoming else item.receiver
                user = getattr(partner, "user", None)
                payload = getattr(partner, "invoice_payload", None) if incoming else None
                found.append(
                    StarTransaction(
                        id=item.id,
                        user_id=None if user is None else user.id,
                        amount=item.amount,
                        date=item.date.timestamp(),
                        incoming=incoming,
                        payload=payload or "",
                    )
                )
            offset += len(page.transactions)
            if len(page.transactions) < PAGE:
                return [t for t in found if t.date >= since], offset
