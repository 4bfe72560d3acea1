"""What only the memory store does: it stays bounded on a long run, forgetting what the
Redis store lets expire (cache entries, daily counters, daily stats, stale slots)."""

from __future__ import annotations

from bot.storage.memory import STATS_DAYS_KEPT, MemoryJobStore

DAY = 86400.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_cache_entries_leave_memory_at_their_ttl() -> None:
    clock = Clock()
    store = MemoryJobStore(clock=clock)
    for n in range(100):
        await store.cache_put(f"k{n}", "file", ttl=10)
    await store.cache_put("k0", "file again", ttl=30)  # a renewed entry outlives its first TTL
    clock.now += 11
    await store.cache_put("fresh", "file", ttl=10)
    # Internal sizes on purpose: nobody reads the 99 expired keys again, so only the
    # sweep can free them.
    assert set(store._cache) == {"k0", "fresh"}
    assert len(store._cache_expiry) <= 3
    assert await store.cache_get("k0") == "file again"
    assert await store.cache_get("k1") is None


async def _admit(store: MemoryJobStore, user_id: int, job_id: str, day: int) -> str | None:
    return await store.admit(
        user_id, job_id, day=day, max_concurrent=10, daily_quota=2, slot_ttl=3600
    )


async def test_daily_counters_and_stale_slots_are_dropped_on_a_new_day() -> None:
    clock = Clock()
    store = MemoryJobStore(clock=clock)
    for user in range(50):
        assert await _admit(store, user, f"job{user}", day=0) is None  # never released
    clock.now += 2 * DAY
    assert await _admit(store, 1000, "today", day=2) is None
    assert set(store._daily) == {2}
    assert set(store._slots) == {1000}  # the others' slots had expired
    # Today still counts: the quota of 2 holds.
    assert await _admit(store, 1000, "today-2", day=2) is None
    assert await _admit(store, 1000, "today-3", day=2) == "daily"


async def test_a_released_slot_leaves_no_empty_entry() -> None:
    store = MemoryJobStore(clock=Clock())
    assert await _admit(store, 7, "one", day=0) is None
    await store.release_slot(7, "one")
    assert 7 not in store._slots


async def test_daily_stats_keep_three_days() -> None:
    store = MemoryJobStore(clock=Clock())
    for day in range(10):
        await store.record(day, "submitted", lag=1.0)
    assert sorted(store._stats) == [7, 8, 9]
    assert len(store._stats) == STATS_DAYS_KEPT
    assert (await store.daily_stats(9)).counts == {"submitted": 1}
    assert (await store.daily_stats(0)).counts == {}


async def test_history_and_cache_owners_leave_memory_with_their_entries() -> None:
    """The per-user index of cache keys (for /forget) and the history shrink as their
    entries expire, as Redis's TTLs would do."""
    clock = Clock()
    store = MemoryJobStore(clock=clock)
    await store.cache_put("mine", "file", ttl=10, owner=7)
    await store.history_add(7, "e1", "{}", at=clock.now, keep=DAY)
    clock.now += 11
    await store.cache_put("other", "file", ttl=10, owner=8)
    assert 7 not in store._cache_owners
    assert store._cache_owners == {8: {"other"}}
    clock.now += 2 * DAY
    await _admit(store, 9, "j", day=int(clock.now // DAY))  # the first call of a new day
    assert store._history == {}
    assert await store.history_get(7, since=0, limit=10) == []
