"""The ledger's rules (bot/core/ledger.py) and the `CreditStore` contract, run against the
memory store and the Redis one (its Lua scripts): the balance is always the sum of the
entries, payments count once per charge id, holds settle once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from redis.asyncio import Redis

from bot.core.ledger import (
    PAYLOAD_MAX,
    EntryKind,
    Pack,
    balance,
    new_payload,
    pack_of,
    parse_packs,
    settle,
    split_cost,
)
from bot.core.limits import AccessRules
from bot.services.metrics import Metrics
from bot.services.quotas import Quotas
from bot.services.wallet import Wallet, differences
from bot.storage.credits import Balance, CreditStore, MemoryCreditStore, Payment
from bot.storage.memory import MemoryJobStore
from bot.storage.redis_credits import RedisCreditStore
from bot.telegram.stars import Stars, StarTransaction
from tests.conftest import ClusterCheckedRedis

PACK = Pack(10, 50)
USER = 7001


def test_packs_parse_and_refuse() -> None:
    assert parse_packs("10:50, 50:200,200:700") == (Pack(10, 50), Pack(50, 200), Pack(200, 700))
    assert parse_packs("") == ()
    for bad in ("10", "10:x", "0:5", "10:50,10:60", "-1:5"):
        with pytest.raises(ValueError, match=r"credits|packs"):
            parse_packs(bad)


def test_payload_names_the_pack_within_telegrams_limit() -> None:
    payload = new_payload(Pack(100_000, 100_000))
    assert len(payload.encode()) <= PAYLOAD_MAX
    assert new_payload(PACK) != new_payload(PACK)  # a nonce each
    assert pack_of(new_payload(PACK), [PACK]) == PACK
    assert pack_of(new_payload(PACK), [Pack(10, 60)]) is None  # repriced
    assert pack_of("garbage", [PACK]) is None


def test_settle_counts_free_pictures_as_delivered_first() -> None:
    assert split_cost(3, 1) == (1, 2)
    assert split_cost(1, 0) == (0, 1)
    assert settle(reserved=1, pictures=1, delivered=1) == (1, 0)
    assert settle(reserved=1, pictures=1, delivered=0) == (0, 1)
    # An album of 3, one free and two paid: two delivered costs one credit.
    assert settle(reserved=2, pictures=3, delivered=2) == (1, 1)
    assert settle(reserved=2, pictures=3, delivered=3) == (2, 0)
    assert settle(reserved=3, pictures=3, delivered=0) == (0, 3)


@pytest.fixture(params=["memory", "redis", "cluster"])
async def credits(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[CreditStore]:
    """The Redis store also on a one-node cluster, whose `#!lua` scripts must keep to one
    slot (docs/redis.md)."""
    if request.param == "memory":
        yield MemoryCreditStore()
        return
    if request.param == "cluster":
        client: Redis = ClusterCheckedRedis.from_url(
            request.getfixturevalue("redis_cluster_node").url
        )
        await client.flushall()
    else:
        client = Redis.from_url(redis_url)
    yield RedisCreditStore(client)
    await client.aclose()


async def consistent(store: CreditStore, user_id: int = USER, at: float = 100.0) -> int:
    """The balance, checked against the sum of the entries."""
    available = (await store.balance(user_id, at)).available
    assert available == balance(await store.entries(user_id))
    return available


async def test_a_payment_counts_once_per_charge(credits: CreditStore) -> None:
    assert await credits.pay(USER, "ch1", PACK, 10.0) == 10
    assert await credits.pay(USER, "ch1", PACK, 11.0) is None
    assert await credits.pay(USER, "ch2", PACK, 12.0) == 20
    assert await consistent(credits) == 20
    assert [p.charge_id for p in await credits.payments(USER)] == ["ch2", "ch1"]
    figures = await credits.day_figures(0)
    assert figures["stars"] == 100
    assert figures["sold"] == 20


async def test_reserve_spend_and_give_back(credits: CreditStore) -> None:
    await credits.pay(USER, "ch1", Pack(3, 15), 10.0)
    assert await credits.reserve(USER, "job1", 2, 2, 11.0, 1000.0) == "ok"
    assert await credits.reserve(USER, "job1", 2, 2, 11.0, 1000.0) == "exists"
    assert await credits.reserve(USER, "job2", 2, 2, 11.0, 1000.0) == "short:1"
    assert await credits.held(USER, "job1") == 2
    assert (await credits.balance(USER, 12.0)).reserved == 2
    assert await credits.settle(USER, "job1", 1, 13.0) == (1, 1)
    assert await credits.settle(USER, "job1", 1, 13.0) is None  # once
    assert await credits.held(USER, "job1") == 0
    assert await consistent(credits) == 2
    kinds = [e.kind for e in await credits.entries(USER)]
    assert kinds == [EntryKind.PAYMENT, EntryKind.RESERVE, EntryKind.SPEND, EntryKind.GIVE_BACK]


async def test_a_hold_nobody_settles_comes_back_after_its_time(credits: CreditStore) -> None:
    """A process killed between admission and storing the job leaves a hold behind."""
    await credits.pay(USER, "ch1", PACK, 10.0)
    assert await credits.reserve(USER, "lost", 4, 4, 11.0, until=50.0) == "ok"
    assert (await credits.balance(USER, 49.0)).available == 6
    assert (await credits.balance(USER, 50.0)).available == 10
    assert await credits.settle(USER, "lost", 4, 60.0) is None  # never charged late
    assert await consistent(credits) == 10


async def test_refunds(credits: CreditStore) -> None:
    await credits.pay(USER, "ch1", PACK, 10.0)
    await credits.pay(USER, "ch2", Pack(5, 30), 10.0)
    assert await credits.refund(USER, "nope", 11.0) == "unknown"
    assert await credits.refund(USER, "ch2", 11.0) == "ok:5:30"
    assert await credits.refund(USER, "ch2", 11.0) == "refunded:10"
    await credits.reserve(USER, "job", 1, 1, 12.0, 1000.0)
    await credits.settle(USER, "job", 1, 13.0)
    assert await credits.refund(USER, "ch1", 14.0) == "spent:9"
    assert await consistent(credits) == 9
    await credits.undo_refund(USER, "ch2", 15.0)  # Telegram refused it after all
    assert await consistent(credits) == 14
    assert not next(p for p in await credits.payments(USER) if p.charge_id == "ch2").refunded
    assert (await credits.day_figures(0))["refunded"] == 0


async def test_grants_and_users_apart(credits: CreditStore) -> None:
    assert await credits.grant(USER, 3, 10.0) == 3
    assert await credits.grant(USER + 1, 4, 10.0) == 4
    assert await consistent(credits) == 3
    assert await consistent(credits, USER + 1) == 4
    await credits.pay(USER + 1, "ch9", PACK, 10.0)
    assert set(await credits.all_payments()) >= {USER + 1}


def test_differences_between_the_ledger_and_telegram() -> None:
    ledger = {
        1: [Payment("same", 2, 10, 100.0), Payment("ours_refunded", 2, 10, 100.0, True)],
        2: [Payment("only_ours", 5, 20, 100.0), Payment("before", 5, 20, 1.0)],
    }
    told = [
        StarTransaction("same", 1, 10, 100.0, True),
        StarTransaction("ours_refunded", 1, 10, 100.0, True),
        StarTransaction("only_theirs", 3, 20, 100.0, True),
        StarTransaction("theirs_refunded", 1, 10, 100.0, True),
        StarTransaction("theirs_refunded", 1, 10, 101.0, False),
    ]
    found = {
        d.charge_id: (d.user_id, d.stars, d.ledger, d.telegram)
        for d in differences(ledger, told, since=50.0)
    }
    assert found == {
        "ours_refunded": (1, 10, "refunded", "paid"),
        "only_ours": (2, 20, "paid", "missing"),
        "only_theirs": (3, 20, "missing", "paid"),
        "theirs_refunded": (1, 10, "missing", "refunded"),
    }


async def test_a_request_admitted_twice_at_once_holds_credits_once() -> None:
    """Two copies of one update (two instances) past the free quota: one hold, and the
    second copy is a silent duplicate."""
    jobs = MemoryJobStore()
    credits = MemoryCreditStore()
    quotas = Quotas(jobs, AccessRules(), max_concurrent=5, daily_quota=1, slot_ttl=60.0)
    wallet = Wallet(
        credits,
        (PACK,),
        quotas=quotas,
        rules=AccessRules(),
        metrics=Metrics(),
        stars=cast(Stars, None),
        hold_seconds=100.0,
        clock=lambda: 10.0,
    )
    await credits.pay(USER, "ch1", PACK, 1.0)
    assert await quotas.admit(USER, "first", chat_id=None) is None  # the free picture
    daily = await quotas.admit(USER, "job", chat_id=None)
    assert daily is not None
    kwargs: dict[str, Any] = {"user_id": USER, "job_id": "job", "slot": "job", "chat_id": None}
    assert await wallet.cover(daily, pictures=1, **kwargs) is None
    again = await wallet.cover(daily, pictures=1, **kwargs)
    assert again is not None
    assert again.silent
    assert (await credits.balance(USER, 10.0)) == Balance(9, 1)
    assert await wallet.settle(USER, "job", 0) == 1
    assert await consistent(credits, at=10.0) == 10
