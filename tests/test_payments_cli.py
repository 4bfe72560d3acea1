"""`python -m bot payments --since DATE`: the ledger against Telegram's list."""

from __future__ import annotations

from typing import Any

from bot.__main__ import main
from bot.emulators.telegram import FakeTelegram
from bot.ops.payments_cli import parse_since, reconcile, report
from tests.test_e2e_payments import PAYMENTS, buy, told


def test_usage() -> None:
    assert parse_since(["--since", "2026-12-01"]) == 1796083200.0  # 2026-12-01T00:00Z
    assert parse_since(["--since", "yesterday"]) is None
    assert parse_since([]) is None
    assert main(["payments", "--since"]) == 2


async def test_differences_are_listed(
    start_bot: Any, telegram: FakeTelegram, make_settings: Any, redis_url: str
) -> None:
    await start_bot(**PAYMENTS, redis_url=redis_url)
    settings = make_settings(**PAYMENTS, redis_url=redis_url)
    await buy(telegram)
    await told(telegram, "Thank you")
    assert await reconcile(settings, 0.0) == []
    assert report([]) == ["ledger and Telegram agree"]

    invoice = telegram.sent("sendInvoice", ok=True)[-1]
    lost = telegram.new_payment(invoice)  # paid, but the bot never heard of it
    charge_id = lost["message"]["successful_payment"]["telegram_payment_charge_id"]
    found = await reconcile(settings, 0.0)
    assert [(d.charge_id, d.user_id, d.stars, d.ledger, d.telegram) for d in found] == [
        (charge_id, 7001, 10, "missing", "paid")
    ]
    assert report(found)[1] == f"{charge_id}\t7001\t10\tmissing\tpaid"
