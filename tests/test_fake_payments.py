"""The fake Bot API refuses what Telegram refuses about Stars payments: invoices not in
XTR, with a provider token, two prices or a long payload; a pre-checkout answered late or
twice; a refund of an unknown or refunded charge."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.emulators.telegram import QUERY_INVALID, Call, FakeTelegram
from tests.test_fakes import CHAT, call, refusal

INVOICE: dict[str, Any] = {
    "chat_id": str(CHAT),
    "title": "2 credits",
    "description": "Two pictures",
    "payload": "pack:2:10:nonce",
    "currency": "XTR",
    "prices": [{"label": "Credits", "amount": 10}],
}


async def invoice(telegram: FakeTelegram, **changes: Any) -> dict[str, Any]:
    return await call(telegram, "sendInvoice", **{**INVOICE, **changes})


async def test_a_stars_invoice_is_sent(telegram: FakeTelegram) -> None:
    answer = await invoice(telegram)
    assert answer["ok"] is True
    assert answer["result"]["invoice"]["total_amount"] == 10


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"currency": "USD"}, "CURRENCY_INVALID"),
        ({"provider_token": "284685063:TEST:abc"}, "PROVIDER_TOKEN_INVALID"),
        (
            {"prices": [{"label": "a", "amount": 5}, {"label": "b", "amount": 5}]},
            "exactly one price",
        ),
        ({"payload": "p" * 129}, "INVOICE_PAYLOAD_INVALID"),
        ({"payload": ""}, "INVOICE_PAYLOAD_INVALID"),
        ({"title": "t" * 33}, "TITLE_INVALID"),
    ],
)
async def test_an_invoice_telegram_refuses(
    telegram: FakeTelegram, changes: dict[str, Any], error: str
) -> None:
    assert error in refusal(await invoice(telegram, **changes))


def sent_invoice() -> Call:
    params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in INVOICE.items()}
    return Call("sendInvoice", params, {})


async def test_a_pre_checkout_is_answered_once(telegram: FakeTelegram) -> None:
    query_id = telegram.push_pre_checkout(sent_invoice())
    answer = await call(
        telegram, "answerPreCheckoutQuery", pre_checkout_query_id=query_id, ok="true"
    )
    assert answer["ok"] is True
    again = await call(
        telegram, "answerPreCheckoutQuery", pre_checkout_query_id=query_id, ok="true"
    )
    assert refusal(again) == QUERY_INVALID


async def test_a_late_pre_checkout_answer_is_refused(telegram: FakeTelegram) -> None:
    query_id = telegram.push_pre_checkout(sent_invoice())
    telegram.open_pre_checkouts[query_id] -= 10.5  # pushed 10.5 s ago
    answer = await call(
        telegram, "answerPreCheckoutQuery", pre_checkout_query_id=query_id, ok="true"
    )
    assert refusal(answer) == QUERY_INVALID


async def test_a_pre_checkout_refusal_must_say_why(telegram: FakeTelegram) -> None:
    query_id = telegram.push_pre_checkout(sent_invoice())
    answer = await call(
        telegram, "answerPreCheckoutQuery", pre_checkout_query_id=query_id, ok="false"
    )
    assert "ERROR_TEXT_EMPTY" in refusal(answer)


async def test_refunds_of_unknown_or_refunded_charges_are_refused(telegram: FakeTelegram) -> None:
    payment = telegram.new_payment(sent_invoice())
    charge_id = payment["message"]["successful_payment"]["telegram_payment_charge_id"]
    unknown = await call(
        telegram, "refundStarPayment", user_id=str(CHAT), telegram_payment_charge_id="nope"
    )
    assert "CHARGE_NOT_FOUND" in refusal(unknown)
    someone_else = await call(
        telegram, "refundStarPayment", user_id="42", telegram_payment_charge_id=charge_id
    )
    assert "CHARGE_NOT_FOUND" in refusal(someone_else)
    params = {"user_id": str(CHAT), "telegram_payment_charge_id": charge_id}
    assert (await call(telegram, "refundStarPayment", **params))["ok"] is True
    assert "CHARGE_ALREADY_REFUNDED" in refusal(await call(telegram, "refundStarPayment", **params))
    listed = await call(telegram, "getStarTransactions", offset="0", limit="100")
    kinds = [("source" in t, t["id"]) for t in listed["result"]["transactions"]]
    assert kinds == [(True, charge_id), (False, charge_id)]
