"""Credits for Telegram Stars, end to end on the strict fake Bot API: buying, paying once,
spending only for delivered pictures, refunds, and a crash between payment and reply."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from bot.emulators.speechkit import FakeSpeechKit
from bot.emulators.telegram import Call, FakeTelegram
from bot.emulators.yandexart import FakeYandex
from bot.storage.redis_credits import _PAY
from tests.bot_process import API_KEY, BotProcess, fast_settings
from tests.redis_proxy import RedisProxy, script_sha
from tests.test_e2e_voice import OGG

USER = 7001
ADMIN = 9001
GROUP = -100777
PAYMENTS: dict[str, Any] = {
    "credit_packs": "2:10,5:20",
    "paysupport_text": "Write to @operator",
    "daily_quota_per_user": 1,
    "admin_ids": str(ADMIN),
}


def buttons(call: Call) -> dict[str, str]:
    keyboard = call.json("reply_markup")["inline_keyboard"]
    return {b["text"]: b["callback_data"] for row in keyboard for b in row}


def texts_to(telegram: FakeTelegram, chat_id: int = USER) -> list[str]:
    return [c.params["text"] for c in telegram.sent("sendMessage", chat_id, ok=True)]


def edits_to(telegram: FakeTelegram, chat_id: int = USER) -> list[str]:
    return [c.params["text"] for c in telegram.sent("editMessageText", chat_id, ok=True)]


async def told(telegram: FakeTelegram, pattern: str, chat_id: int = USER) -> str:
    """The first message to the chat matching `pattern` (a regex), waiting for it."""
    for _ in range(200):
        seen = texts_to(telegram, chat_id) + edits_to(telegram, chat_id)
        found = [t for t in seen if re.search(pattern, t)]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no message like {pattern!r}; sent: {texts_to(telegram, chat_id)}")


async def invoice_for(telegram: FakeTelegram, button: str) -> Call:
    """/buy, then the pack's button: the invoice Telegram accepted."""
    telegram.push_message("/buy")
    await told(telegram, "Choose a pack")
    menus = [c for c in telegram.sent("sendMessage", USER, ok=True) if "pack" in c.params["text"]]
    menu = menus[-1]
    telegram.push_callback(buttons(menu)[button], message=menu.result)
    return (await telegram.wait_for("sendInvoice", ok=True))[-1]


async def buy(telegram: FakeTelegram, button: str = "2 credits for 10 ⭐") -> str:
    invoice = await invoice_for(telegram, button)
    charge_id = await telegram.pay(invoice)
    assert charge_id is not None
    return charge_id


async def balance(telegram: FakeTelegram, chat_id: int = USER, timeout: float = 10) -> str:
    before = len(texts_to(telegram, chat_id))
    telegram.push_message("/balance", chat_id=chat_id)
    await telegram.wait_for("sendMessage", before + 1, chat_id=chat_id, ok=True, timeout=timeout)
    return texts_to(telegram, chat_id)[before]


async def settled_balance(telegram: FakeTelegram) -> str:
    """/balance once no request holds credits (a job settles just after telling its end)."""
    for _ in range(20):
        text = await balance(telegram, timeout=30)
        if "Held" not in text:
            return text
        await asyncio.sleep(0.1)
    raise AssertionError(f"credits still held: {text}")


async def test_buy_pre_checkout_payment_balance(start_bot: Any, telegram: FakeTelegram) -> None:
    await start_bot(**PAYMENTS)
    invoice = await invoice_for(telegram, "5 credits for 20 ⭐")
    assert invoice.params["currency"] == "XTR"
    assert "provider_token" not in invoice.params
    assert len(invoice.json("prices")) == 1
    assert invoice.json("prices")[0]["amount"] == 20
    assert await telegram.pay(invoice) is not None
    assert "Your credits: 5" in await told(telegram, "Thank you")
    assert await balance(telegram) == "Free pictures left today: 1. Credits: 5."
    commands = telegram.sent("setMyCommands")[0].json("commands")
    assert {"buy", "balance", "paysupport"} <= {c["command"] for c in commands}
    # A memory ledger starts empty: it must not credit Telegram's past payments again.
    assert not telegram.sent("getStarTransactions")


async def test_nothing_of_payments_shows_while_off(running: Any, telegram: FakeTelegram) -> None:
    commands = telegram.sent("setMyCommands")[0].json("commands")
    assert "buy" not in {c["command"] for c in commands}
    telegram.push_message("/buy")
    telegram.push_message("/help")
    await telegram.wait_for("sendMessage", ok=True)
    await asyncio.sleep(0.3)
    assert len(telegram.sent("sendMessage")) == 1  # /help's answer only
    assert not telegram.sent("sendInvoice")


async def test_a_pre_checkout_for_a_repriced_pack_or_a_stranger_is_refused(
    start_bot: Any, telegram: FakeTelegram
) -> None:
    await start_bot(**PAYMENTS, allowed_user_ids=f"{USER},{ADMIN}")
    invoice = await invoice_for(telegram, "2 credits for 10 ⭐")
    stranger = await telegram.pay(invoice, user_id=4242)
    assert stranger is None
    repriced = Call(
        "sendInvoice",
        {**invoice.params, "prices": '[{"label": "Credits", "amount": 9}]'},
        {},
    )
    assert await telegram.pay(repriced) is None
    answers = list(telegram.pre_checkout_answers.values())
    assert [a["ok"] for a in answers] == ["false", "false"]
    assert "not open to you" in answers[0]["error_message"]
    assert "no longer sold" in answers[1]["error_message"]
    assert not telegram.star_transactions


async def test_the_same_payment_update_twice_credits_once(
    start_bot: Any, telegram: FakeTelegram
) -> None:
    await start_bot(**PAYMENTS)
    invoice = await invoice_for(telegram, "2 credits for 10 ⭐")
    telegram.push_pre_checkout(invoice)
    update = telegram.new_payment(invoice)
    telegram.push(update)
    telegram.push(update)
    await told(telegram, "Thank you")
    assert await balance(telegram) == "Free pictures left today: 1. Credits: 2."
    assert len([t for t in texts_to(telegram) if "Thank you" in t]) == 1


async def test_the_same_payment_at_two_instances_on_one_redis_credits_once(
    start_bot: Any, telegram: FakeTelegram, redis_url: str
) -> None:
    await start_bot(**PAYMENTS, redis_url=redis_url)
    await start_bot(**PAYMENTS, redis_url=redis_url)
    invoice = await invoice_for(telegram, "2 credits for 10 ⭐")
    update = telegram.new_payment(invoice)
    for _ in range(4):  # each instance polls: copies reach one and the other
        telegram.push(update)
    await told(telegram, "Thank you")
    await asyncio.sleep(0.5)
    assert len([t for t in texts_to(telegram) if "Thank you" in t]) == 1
    assert await balance(telegram) == "Free pictures left today: 1. Credits: 2."


async def draw_free_picture(telegram: FakeTelegram) -> None:
    telegram.push_message("/art a free fox")
    await telegram.wait_for("sendPhoto", ok=True)


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_a_paid_picture_costs_a_credit_and_a_failed_one_gives_it_back(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, redis_url: str, store: str
) -> None:
    await start_bot(**PAYMENTS, **({"redis_url": redis_url} if store == "redis" else {}))
    await draw_free_picture(telegram)
    await buy(telegram)
    await told(telegram, "Thank you")
    telegram.push_message("/art a paid fox")
    await telegram.wait_for("sendPhoto", 2, ok=True)
    assert any("Cost in credits: 1" in t for t in texts_to(telegram))
    assert await settled_balance(telegram) == "Free pictures left today: 0. Credits: 1."

    yandex.operation_error = {"code": 13, "message": "internal error", "details": []}
    telegram.push_message("/art a fox that fails")
    await told(telegram, "could not generate")
    assert await settled_balance(telegram) == "Free pictures left today: 0. Credits: 1."


async def test_an_album_of_three_with_two_credits_is_refused_before_any_submit(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    await start_bot(**PAYMENTS)
    await draw_free_picture(telegram)
    await buy(telegram)
    await told(telegram, "Thank you")
    submits = len(yandex.submits)
    telegram.push_message("/art three foxes --n 3")
    refusal = await told(telegram, "Credits this request needs: 3")
    assert "you have: 2" in refusal
    assert "/buy" in refusal
    await asyncio.sleep(0.3)
    assert len(yandex.submits) == submits
    assert await balance(telegram) == "Free pictures left today: 0. Credits: 2."


async def test_with_no_free_pictures_and_no_credits_the_refusal_offers_buy(
    start_bot: Any, telegram: FakeTelegram
) -> None:
    await start_bot(**PAYMENTS)
    await draw_free_picture(telegram)
    telegram.push_message("/art one more")
    assert "/buy" in await told(telegram, "used up")


async def test_refund_of_unspent_credits_once(start_bot: Any, telegram: FakeTelegram) -> None:
    await start_bot(**PAYMENTS)
    charge_id = await buy(telegram)
    await told(telegram, "Thank you")
    telegram.push_message(f"/refund {charge_id}", chat_id=ADMIN)
    assert "Credits removed: 2" in await told(telegram, "Refunded", ADMIN)
    assert telegram.refunded_charges == {charge_id}
    assert await balance(telegram) == "Free pictures left today: 1. Credits: 0."
    telegram.push_message(f"/refund {charge_id}", chat_id=ADMIN)
    await told(telegram, "refunded already", ADMIN)
    assert len(telegram.sent("refundStarPayment")) == 1
    telegram.push_message("/paysupport")
    support = await told(telegram, "Write to @operator")
    assert charge_id in support
    assert "(refunded)" in support


async def test_refund_refused_when_credits_are_spent(
    start_bot: Any, telegram: FakeTelegram
) -> None:
    running = await start_bot(**PAYMENTS)
    await draw_free_picture(telegram)
    charge_id = await buy(telegram)
    await told(telegram, "Thank you")
    telegram.push_message("/art a paid fox")
    await telegram.wait_for("sendPhoto", 2, ok=True)
    await settled_balance(telegram)
    telegram.push_message(f"/refund {charge_id}", chat_id=ADMIN)
    assert "Credits the user has left: 1" in await told(telegram, "Not refunded", ADMIN)
    assert not telegram.sent("refundStarPayment")
    telegram.push_message(f"/grant {USER} 3", chat_id=ADMIN)
    await told(telegram, "Granted to 7001: 3", ADMIN)
    assert await balance(telegram) == "Free pictures left today: 0. Credits: 4."
    telegram.push_message("/stats", chat_id=ADMIN)
    stats = await told(telegram, "Today: ", ADMIN)
    assert "Stars received: 10; credits sold: 2, spent: 1, refunded: 0, granted: 3" in stats
    metrics = running.dispatcher["metrics"].render().decode()
    assert "art_stars_total 10.0" in metrics
    assert 'art_credits_total{event="spent"} 1.0' in metrics
    assert 'art_credits_total{event="sold"} 2.0' in metrics


@pytest.mark.long
async def test_killed_between_payment_and_credit_the_credit_is_there_after_restart(
    tmp_path: Path, telegram: FakeTelegram, yandex: FakeYandex, redis_url: str
) -> None:
    """kill -9 as the bot sends the payment's credit to Redis (the script never runs):
    polling had confirmed the update when it took it, so it never comes again, and the
    restarted bot finds the payment in Telegram's list (getStarTransactions)."""
    first: BotProcess | None = None

    async def kill_at_credit(stage: str) -> bool:
        if stage == "before" and first is not None:
            first.kill()
            return True
        return False

    proxy = RedisProxy(redis_url, script_sha(_PAY), kill_at_credit)
    await proxy.start()
    try:
        env = fast_settings(
            telegram.url,
            yandex.url,
            proxy.url,
            CREDIT_PACKS="2:10",
            PAYSUPPORT_TEXT="Write to @operator",
        )
        first = BotProcess(env, tmp_path, "first")
        await first.start()
        await telegram.wait_for("setMyCommands", 2, timeout=30)
        invoice = await invoice_for(telegram, "2 credits for 10 ⭐")
        assert await telegram.pay(invoice) is not None
        assert await first.wait() != 0  # killed at the credit
        assert proxy.seen == 0  # the script never reached Redis
    finally:
        await proxy.stop()

    second = BotProcess({**env, "REDIS_URL": redis_url}, tmp_path, "second")
    await second.start()
    # Each start reads Telegram's list once: the first one's found nothing yet.
    await telegram.wait_for("getStarTransactions", 2, ok=True, timeout=30)
    assert "Your credits: 2" in await told(telegram, "Thank you")  # told late
    assert await settled_balance(telegram) == "Free pictures left today: 50. Credits: 2."
    assert await second.stop() == 0
    third = BotProcess({**env, "REDIS_URL": redis_url}, tmp_path, "third")
    await third.start()  # and a start after that credits nothing more
    calls = await telegram.wait_for("getStarTransactions", 3, ok=True, timeout=30)
    assert [c.params.get("offset") for c in calls] == ["0", "0", "1"]  # from where it ended
    assert await settled_balance(telegram) == "Free pictures left today: 50. Credits: 2."
    assert await third.stop() == 0
    assert "Traceback" not in second.log + third.log


async def test_a_store_outage_at_the_credit_is_ridden_out(
    start_bot: Any, telegram: FakeTelegram, redis_url: str
) -> None:
    """Redis unreachable when the payment comes: the bot keeps trying for a while rather
    than lose the credit (its update will not come again)."""
    cuts: list[str] = []

    async def cut(stage: str) -> bool:
        if stage == "before" and len(cuts) < CUTS:
            cuts.append(stage)
            return True  # the connection drops before the script reaches Redis
        return False

    proxy = RedisProxy(redis_url, script_sha(_PAY), cut)
    await proxy.start()
    try:
        await start_bot(**PAYMENTS, redis_url=proxy.url)
        await buy(telegram)
        assert "Your credits: 2" in await told(telegram, "Thank you")
        assert len(cuts) == CUTS
        assert await balance(telegram) == "Free pictures left today: 1. Credits: 2."
    finally:
        await proxy.stop()


# Connections dropped in a row as the credit goes to Redis (each an outage to the bot).
CUTS = 3


async def test_forget_keeps_payment_records_and_privacy_says_so(
    start_bot: Any, telegram: FakeTelegram
) -> None:
    await start_bot(**PAYMENTS)
    charge_id = await buy(telegram)
    await told(telegram, "Thank you")
    telegram.push_message("/forget")
    await told(telegram, "Delete everything I keep about you")
    confirm = next(
        c for c in telegram.sent("sendMessage", USER, ok=True) if "Delete" in c.params["text"]
    )
    telegram.push_callback(buttons(confirm)["🗑 Yes, delete it all"], message=confirm.result)
    await told(telegram, "^Done: I no longer keep")
    assert await balance(telegram) == "Free pictures left today: 1. Credits: 2."
    telegram.push_message("/paysupport")
    assert charge_id in await told(telegram, "Write to @operator")
    telegram.push_message("/privacy")
    assert "does not delete your payment records" in await told(telegram, "Payments: /forget")


async def test_a_voice_prompt_beyond_the_free_quota_is_paid_too(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    """The voice path admits before anything is heard: its hold is the job's, spent when
    the picture is delivered; a voice that yields no picture gives the credit back."""
    speechkit = FakeSpeechKit(api_key=API_KEY)
    await speechkit.start()
    try:
        await start_bot(**PAYMENTS, stt_api_url=speechkit.url)
        await draw_free_picture(telegram)
        await buy(telegram)
        await told(telegram, "Thank you")
        speechkit.text = "a fox at dawn"
        telegram.push_voice(OGG, size=len(OGG))
        await telegram.wait_for("sendPhoto", 2, ok=True)
        assert any("Cost in credits: 1" in t for t in edits_to(telegram))
        assert await settled_balance(telegram) == "Free pictures left today: 0. Credits: 1."
        speechkit.text = ""  # nothing heard: no picture, no cost
        telegram.push_voice(OGG, size=len(OGG))
        await told(telegram, "couldn't make out a prompt")
        assert await settled_balance(telegram) == "Free pictures left today: 0. Credits: 1."
        assert len(yandex.submits) == 2
    finally:
        await speechkit.stop()


async def test_in_a_group_nothing_personal_is_shown(start_bot: Any, telegram: FakeTelegram) -> None:
    await start_bot(**PAYMENTS)
    charge_id = await buy(telegram)
    await told(telegram, "Thank you")
    for command in ("/buy", "/balance", "/paysupport"):
        telegram.push_message(command, chat_id=GROUP, user_id=USER)
    await telegram.wait_for("sendMessage", 3, chat_id=GROUP, ok=True)
    shown = "\n".join(texts_to(telegram, GROUP))
    assert "Send /buy to me in a private chat." in shown
    assert "Send /balance to me in a private chat." in shown
    assert "Write to @operator" in shown
    assert charge_id not in shown
    assert "Credits" not in shown
    assert not telegram.sent("sendInvoice", GROUP)


async def test_with_payments_turned_off_an_old_invoice_is_refused(
    running: Any, telegram: FakeTelegram
) -> None:
    old = Call(
        "sendInvoice",
        {"currency": "XTR", "payload": "pack:2:10:abc", "prices": '[{"label": "C", "amount": 10}]'},
        {},
    )
    assert await telegram.pay(old) is None
    [answer] = telegram.pre_checkout_answers.values()
    assert "no longer sold" in answer["error_message"]


async def test_a_refund_telegram_refuses_keeps_the_credits(
    start_bot: Any, telegram: FakeTelegram
) -> None:
    await start_bot(**PAYMENTS)
    charge_id = await buy(telegram)
    await told(telegram, "Thank you")
    telegram.fail("refundStarPayment", 400, "Bad Request: BALANCE_TOO_LOW")
    telegram.push_message(f"/refund {charge_id}", chat_id=ADMIN)
    await told(telegram, "did not refund", ADMIN)
    assert await balance(telegram) == "Free pictures left today: 1. Credits: 2."
    telegram.push_message(f"/refund {charge_id}", chat_id=ADMIN)  # tried again later
    await told(telegram, "Refunded", ADMIN)
    assert telegram.refunded_charges == {charge_id}
    assert await balance(telegram) == "Free pictures left today: 1. Credits: 0."
