"""/history (repeat exactly, from the file_id cache when known) and /forget, which leaves
nothing of the user in either store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.emulators.telegram import Call, FakeTelegram
from bot.emulators.yandexart import FakeYandex
from bot.storage.base import JobStore
from bot.storage.memory import MemoryJobStore
from bot.storage.redis_store import RedisJobStore
from tests.conftest import RunningBot

USER = 7001
SECRET = "my secret garden"


def buttons(call: Call) -> dict[str, str]:
    keyboard = call.json("reply_markup")["inline_keyboard"]
    return {b["text"]: b["callback_data"] for row in keyboard for b in row}


async def last_message(telegram: FakeTelegram, count: int) -> Call:
    return (await telegram.wait_for("sendMessage", count))[-1]


async def message_with(telegram: FakeTelegram, fragment: str) -> Call:
    """The latest message the bot sent containing `fragment`, once there is one."""
    for _ in range(200):
        found = [c for c in telegram.sent("sendMessage") if fragment in c.params["text"]]
        if found:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no message with {fragment!r}")


async def test_history_lists_requests_and_repeats_one_from_the_cache(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_message("/art a red fox --seed 42 --ratio 16:9 --style oil")
    first = (await telegram.wait_for("sendPhoto"))[0]
    telegram.push_message("/art an owl")
    await telegram.wait_for("sendPhoto", 2)
    picked = yandex.submits[1][1]["generationOptions"]["seed"]
    telegram.push_message("/history")
    listing = await last_message(telegram, 3)
    text = listing.params["text"]
    assert text.index("1. an owl") < text.index("2. a red fox")
    assert f"seed {picked} · 1:1 · " in text
    assert "seed 42 · 16:9 · oil · 20" in text
    assert " UTC" in text
    assert list(buttons(listing)) == ["🔁 1", "🔁 2"]

    telegram.push_callback(buttons(listing)["🔁 2"], message=listing.result)
    repeated = (await telegram.wait_for("sendPhoto", 3))[-1]
    # The same request and seed: Telegram's copy, without asking Yandex again.
    assert repeated.params["photo"] == first.result["photo"][-1]["file_id"]
    assert repeated.params["caption"] == first.params["caption"]
    assert yandex.generations == 2
    telegram.push_callback(buttons(listing)["🔁 1"], message=listing.result)
    await telegram.wait_for("sendPhoto", 4)
    assert yandex.submits[-1][1]["generationOptions"]["seed"] == picked


async def test_history_buttons_are_their_owners(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.push_message("/art a fox --seed 1")
    await telegram.wait_for("sendPhoto")
    telegram.push_message("/history")
    listing = await last_message(telegram, 2)
    telegram.push_callback(buttons(listing)["🔁 1"], message=listing.result, user_id=7002)
    answer = (await telegram.wait_for("answerCallbackQuery"))[0]
    assert answer.params["text"] == "These buttons belong to someone else."
    assert yandex.generations == 1


def user_data(store: JobStore) -> str:
    """Everything a memory store holds, as text."""
    return repr(vars(store))


async def redis_dump(url: str) -> dict[str, str]:
    """Every key of the database and its value, as text."""
    client = Redis.from_url(url, decode_responses=True)
    dump = {}
    async for key in client.scan_iter():
        kind = await client.type(key)
        if kind == "string":
            value: Any = await client.get(key)
        elif kind == "hash":
            value = await client.hgetall(key)
        elif kind == "set":
            value = await client.smembers(key)
        elif kind == "zset":
            value = await client.zrange(key, 0, -1)
        else:
            value = await client.lrange(key, 0, -1)
        dump[str(key)] = repr(value)
    await client.aclose()
    return dump


def pictures_cached(where: dict[str, str] | JobStore) -> list[str]:
    """The picture cache's entries (their values name a file_id) in a Redis dump or a
    memory store."""
    if isinstance(where, MemoryJobStore):
        return [value for value, _ in where._cache.values() if '"file_id"' in value]
    assert isinstance(where, dict)
    return [k for k, v in where.items() if k.startswith("art:cache:") and "file_id" in v]


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_forget_leaves_nothing_of_the_user(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, redis_url: str, kind: str
) -> None:
    url = redis_url if kind == "redis" else None
    running: RunningBot = await start_bot(redis_url=url)
    store = running.dispatcher["store"]
    telegram.push_message("/settings")
    menu = await last_message(telegram, 1)
    telegram.push_callback(buttons(menu)["Anime"], message=menu.result)
    await telegram.wait_for("answerCallbackQuery")
    telegram.push_message(f"/art {SECRET} --seed 5")
    telegram.push_message(f"/art {SECRET} again")
    await telegram.wait_for("sendPhoto", 2)
    while await store.active_count():  # the jobs are saved as done after their photos
        await asyncio.sleep(0.05)
    before = await redis_dump(redis_url) if url else {"memory": user_data(store)}
    assert any(SECRET in value for value in before.values())
    assert any(str(USER) in key for key in before) or kind == "memory"
    assert pictures_cached(before if url else store)  # "--seed 5" is in the cache

    telegram.push_message("/forget")
    confirm = await message_with(telegram, "Delete everything I keep about you")
    telegram.push_callback(buttons(confirm)["🗑 Yes, delete it all"], message=confirm.result)
    done = (await telegram.wait_for("editMessageText", 2))[-1]
    assert done.params["text"].startswith("Done: I no longer keep anything about you.")

    if url:
        after = await redis_dump(redis_url)
        assert not any(SECRET in value for value in after.values()), after
        # Only the daily count, which must not be reset by forgetting, names the user.
        assert [k for k in after if str(USER) in k] == [
            k for k in after if k.startswith(f"art:{{u{USER}}}:daily:")
        ]
    else:
        assert isinstance(store, MemoryJobStore)
        assert SECRET not in user_data(store)
        assert USER not in store._users
        assert USER not in store._history
    if url:
        # Cache keys are hashes and their values file_ids: neither names the user.
        assert not pictures_cached(after), after
    else:
        assert not pictures_cached(store)
    telegram.push_message("/history")
    await message_with(telegram, "No requests yet")
    telegram.push_message("/settings")
    await message_with(telegram, "Style: No style")
    # Nothing remembers the picture either: the same request is drawn anew (issue 21 item 19).
    drawn = yandex.generations
    telegram.push_message(f"/art {SECRET} --seed 5")
    await telegram.wait_for("sendPhoto", 3)
    assert yandex.generations == drawn + 1


async def test_forget_waits_for_pictures_in_progress_and_is_the_senders(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    yandex.hold = True
    telegram.push_message(f"/art {SECRET} --seed 5")
    await telegram.wait_for("sendMessage")
    telegram.push_message("/forget")
    confirm = await message_with(telegram, "Delete everything I keep about you")
    telegram.push_callback(buttons(confirm)["🗑 Yes, delete it all"], message=confirm.result)
    busy = (await telegram.wait_for("answerCallbackQuery"))[0]
    assert busy.params["text"].startswith("A picture of yours is still being drawn.")
    telegram.push_callback(
        buttons(confirm)["🗑 Yes, delete it all"], message=confirm.result, user_id=7002
    )
    other = (await telegram.wait_for("answerCallbackQuery", 2))[-1]
    assert other.params["text"] == "Only the person who sent /forget can confirm it."
    yandex.hold = False
    await telegram.wait_for("sendPhoto")
    telegram.push_message("/history")
    await message_with(telegram, SECRET)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[JobStore]:
    job_store: JobStore = (
        MemoryJobStore() if request.param == "memory" else RedisJobStore(Redis.from_url(redis_url))
    )
    yield job_store
    await job_store.close()


async def test_history_keeps_entries_for_the_retention_newest_first(store: JobStore) -> None:
    t = time.time() - 30  # entries of the last half minute, kept for 50 s
    await store.history_add(1, "a", '"a"', at=t, keep=50.0)
    await store.history_add(1, "b", '"b"', at=t + 20, keep=50.0)
    await store.history_add(2, "c", '"c"', at=t + 21, keep=50.0)
    assert await store.history_get(1, since=0.0, limit=10) == ['"b"', '"a"']
    assert await store.history_get(1, since=t + 10, limit=10) == ['"b"']
    await store.history_add(1, "d", '"d"', at=t + 60, keep=50.0)  # "a" is older than 50 s
    assert await store.history_get(1, since=0.0, limit=1) == ['"d"']
    assert await store.history_get(1, since=0.0, limit=10) == ['"d"', '"b"']


async def stored_text(store: JobStore) -> str:
    """Everything the store holds, as text (every key of a Redis store's database)."""
    if isinstance(store, MemoryJobStore):
        return user_data(store)
    assert isinstance(store, RedisJobStore)
    client = store._redis
    dump = []
    async for key in client.scan_iter():
        if await client.type(key) == b"zset":
            dump.append(repr(await client.zrange(key, 0, -1)))
    return "".join(dump)


async def test_nothing_older_than_the_retention_is_kept(store: JobStore) -> None:
    """Issue 21 item 11: an entry goes when its retention is over, even if the user adds
    nothing more (pruning only on the next add kept it up to twice as long)."""
    start = time.time()
    await store.history_add(1, "a", '"old prompt"', at=start, keep=0.8)
    await asyncio.sleep(0.3)
    await store.history_add(1, "b", '"new prompt"', at=time.time(), keep=0.8)
    assert "old prompt" in await stored_text(store)
    await asyncio.sleep(max(0.0, start + 1.0 - time.time()))
    await store.history_get(2, since=0.0, limit=1)  # anybody's use (the memory store is lazy)
    assert "old prompt" not in await stored_text(store)
    assert await store.history_get(1, since=0.0, limit=10) in ([], ['"new prompt"'])


@pytest.mark.parametrize("storage_chat", [None, -100500])
async def test_forget_says_what_stays_in_the_inline_storage_chat(
    start_bot: Any, telegram: FakeTelegram, storage_chat: int | None
) -> None:
    """Issue 21 item 14: with INLINE_STORAGE_CHAT_ID the uploads of inline pictures stay
    in that chat; /forget must not promise otherwise."""
    await start_bot(inline_storage_chat_id=storage_chat)
    telegram.push_message("/forget")
    confirm = await message_with(telegram, "Delete everything I keep about you")
    telegram.push_callback(buttons(confirm)["🗑 Yes, delete it all"], message=confirm.result)
    done = (await telegram.wait_for("editMessageText"))[0].params["text"]
    note = "Pictures you shared inline stay in the bot's storage chat"
    assert (note in confirm.params["text"]) == (storage_chat is not None)
    assert (note in done) == (storage_chat is not None)
