"""What only the Redis store does: leases between instances, retention, survival of restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from bot.core.errors import StoreUnavailable
from bot.core.jobs import JobState
from bot.storage.base import LeaseLost
from bot.storage.redis_store import RedisJobStore, _dump, migrate_layout, migrated_name
from tests.conftest import ClusterCheckedRedis
from tests.redis_server import free_port
from tests.test_store import make_job


@pytest.fixture
async def stores(redis_url: str) -> AsyncIterator[Callable[..., RedisJobStore]]:
    made: list[RedisJobStore] = []

    def make(lease_seconds: float = 60.0, retention_seconds: float = 0.0) -> RedisJobStore:
        store = RedisJobStore(
            Redis.from_url(redis_url),
            lease_seconds=lease_seconds,
            retention_seconds=retention_seconds,
        )
        made.append(store)
        return store

    yield make
    for store in made:
        await store.close()


async def test_two_instances_claim_disjoint_jobs(stores: Callable[..., RedisJobStore]) -> None:
    first, second = stores(), stores()
    for n in range(20):
        await first.add(make_job(f"j{n}", float(n)))
    a = await first.claim_due(100.0, 7)
    b = await second.claim_due(100.0, 100)
    assert len(a) == 7
    assert len(b) == 13
    assert not {j.id for j in a} & {j.id for j in b}


async def test_a_save_after_losing_the_lease_is_refused(
    stores: Callable[..., RedisJobStore],
) -> None:
    slow, other = stores(lease_seconds=10), stores(lease_seconds=10)
    await slow.add(make_job("a", 0.0))
    [mine] = await slow.claim_due(0.0, 1)
    [taken] = await other.claim_due(10.0, 1)  # our lease ran out; the other instance took over
    with pytest.raises(LeaseLost):
        await slow.save(mine.moved_to(JobState.DONE))
    await other.save(taken.moved_to(JobState.DONE))
    assert await other.active_count() == 0


async def test_renewal_by_another_instance_does_not_steal_the_lease(
    stores: Callable[..., RedisJobStore],
) -> None:
    owner, other = stores(lease_seconds=10), stores(lease_seconds=10)
    await owner.add(make_job("a", 0.0))
    await owner.claim_due(0.0, 1)
    await other.renew(["a"], now=100.0)
    assert await owner.next_due_at() == 10.0


async def test_finished_jobs_are_kept_for_the_retention_only(
    stores: Callable[..., RedisJobStore], redis_url: str
) -> None:
    store = stores(retention_seconds=30)
    await store.add(make_job("a", 0.0))
    [job] = await store.claim_due(0.0, 1)
    await store.save(job.moved_to(JobState.DONE))
    assert (await store.get("a")) == job.moved_to(JobState.DONE)
    redis = Redis.from_url(redis_url)
    ttl = await redis.pttl("art:{jobs}:job:a")
    await redis.aclose()
    assert 0 < ttl <= 30_000


async def test_finished_jobs_are_deleted_at_once_without_retention(
    stores: Callable[..., RedisJobStore],
) -> None:
    store = stores(retention_seconds=0)
    await store.add(make_job("a", 0.0))
    [job] = await store.claim_due(0.0, 1)
    await store.save(job.moved_to(JobState.FAILED))
    assert await store.get("a") is None


async def test_jobs_survive_a_new_connection(stores: Callable[..., RedisJobStore]) -> None:
    job = make_job("a", 5.0).but(status_message_id=77)
    await stores().add(job)
    assert await stores().get("a") == job
    assert await stores().claim_due(5.0, 1) == [job]


async def test_unreachable_redis_is_store_unavailable() -> None:
    store = RedisJobStore(Redis.from_url(f"redis://127.0.0.1:{free_port()}/0"))
    assert not await store.ping()
    with pytest.raises(StoreUnavailable):
        await store.claim_due(0.0, 1)
    with pytest.raises(StoreUnavailable):
        await store.add(make_job("a", 0.0))
    await store.close()


def test_old_key_names_map_to_hash_tagged_ones() -> None:
    assert migrated_name("art:job:abc", "art:") == "art:{jobs}:job:abc"
    assert migrated_name("art:quarantine:abc", "art:") == "art:{jobs}:quarantine:abc"
    assert migrated_name("art:userjobs:-42", "art:") == "art:{u-42}:jobs"
    assert migrated_name("art:usercache:42", "art:") == "art:{u42}:cache"
    assert migrated_name("art:slots:42", "art:") == "art:{u42}:slots"
    assert migrated_name("art:daily:42:20000", "art:") == "art:{u42}:daily:20000"
    assert migrated_name("art:lags:20000", "art:") == "art:lags:{20000}"
    for unchanged in ("art:user:42", "art:history:42", "art:cache:ff", "art:{jobs}:job:a"):
        assert migrated_name(unchanged, "art:") is None
    assert migrated_name("other:job:abc", "art:") is None


async def test_an_upgrade_keeps_the_jobs_in_flight_and_the_counts(redis_url: str) -> None:
    """Keys written by the version before hash tags are renamed once at start-up."""
    redis = Redis.from_url(redis_url)
    old = RedisJobStore(redis, lease_seconds=60.0)
    job = make_job("a", 10.0)
    try:
        # The old layout, as that version's scripts left it.
        await redis.hset("art:job:a", "data", _dump(job))
        await redis.zadd("art:due", {"a": 10.0})
        await redis.sadd("art:userjobs:200", "a")
        await redis.set("art:daily:200:7", 3)
        await redis.hset("art:stats:7", "delivered", 2)

        assert await migrate_layout(redis) == 5
        assert await migrate_layout(redis) == 0  # once
        assert await redis.exists("art:due", "art:job:a", "art:daily:200:7") == 0
        assert await old.get("a") == job
        assert [j.id for j in await old.claim_due(10.0, 10)] == ["a"]
        assert await old.count_day(200, day=7, daily_quota=4) is True
        assert await old.count_day(200, day=7, daily_quota=4) is False
        assert (await old.daily_stats(7)).counts == {"delivered": 2}
        assert await old.forget_user(200) is False  # job a is still active, and known
    finally:
        await old.close()


class RacingForget(RedisJobStore):
    """Runs `meanwhile` between /forget's steps (after the first deletions), as a request of
    the same user on another instance could."""

    meanwhile: Callable[[], Awaitable[None]] | None = None

    async def _delete_each(self, keys: list[str]) -> None:
        await super()._delete_each(keys)
        if self.meanwhile is not None:
            step, self.meanwhile = self.meanwhile, None
            await step()


@pytest.mark.parametrize("cluster", [False, True])
async def test_forget_spanning_slots_misses_nothing_added_meanwhile(
    request: pytest.FixtureRequest, redis_url: str, cluster: bool
) -> None:
    if cluster:
        redis: Redis = ClusterCheckedRedis.from_url(
            request.getfixturevalue("redis_cluster_node").url
        )
        await redis.flushall()
    else:
        redis = Redis.from_url(redis_url)
    store = RacingForget(redis, lease_seconds=60.0)
    try:
        await store.cache_put("old", "file-1", ttl=60, owner=200)

        async def picture_cached() -> None:
            await store.cache_put("late", "file-2", ttl=60, owner=200)

        store.meanwhile = picture_cached
        assert await store.forget_user(200) is True
        assert store.meanwhile is None  # it ran
        assert await store.cache_get("old") is None
        assert await store.cache_get("late") is None

        async def request_added() -> None:
            await store.add(make_job("new", 10.0))  # user 200

        store.meanwhile = request_added
        assert await store.forget_user(200) is False  # told: a picture is being made
        assert store.meanwhile is None
        assert await store.get("new") is not None
        assert [job.id for job in await store.claim_due(10.0, 10)] == ["new"]
        assert await store.forget_user(200) is False  # still known as the user's
    finally:
        await store.close()
