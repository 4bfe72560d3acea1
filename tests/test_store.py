"""`JobStore` contract, run against every implementation listed in the `store` fixture."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.core.jobs import Job, JobState
from bot.core.prompt import ArtRequest, PromptPart
from bot.storage.base import JobStore
from bot.storage.memory import MemoryJobStore
from bot.storage.redis_store import RedisJobStore
from tests.conftest import ClusterCheckedRedis

FAR = 10.0**12
LEASE = 60.0


def make_job(
    job_id: str,
    next_poll_at: float,
    *,
    state: JobState = JobState.PENDING,
    created_at: float = 0.0,
) -> Job:
    return Job(
        id=job_id,
        chat_id=100,
        user_id=200,
        locale="en",
        request=ArtRequest(parts=(PromptPart(f"prompt {job_id}"),)),
        seed=12345,
        idempotency_key=f"key-{job_id}",
        created_at=created_at,
        deadline_at=created_at + 1800.0,
        next_poll_at=next_poll_at,
        state=state,
        operation_id=f"op-{job_id}" if state is not JobState.SUBMITTED else None,
    )


@pytest.fixture(params=["memory", "redis", "cluster"])
async def store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[JobStore]:
    """Every test in this file runs against both implementations, and the Redis one also on
    a one-node cluster whose scripts are checked to touch one slot each."""
    job_store: JobStore
    if request.param == "memory":
        job_store = MemoryJobStore(lease_seconds=LEASE)
    elif request.param == "redis":
        redis = Redis.from_url(redis_url)
        job_store = RedisJobStore(redis, lease_seconds=LEASE, retention_seconds=0)
    else:
        node = request.getfixturevalue("redis_cluster_node")
        redis = ClusterCheckedRedis.from_url(node.url)
        await redis.flushall()
        job_store = RedisJobStore(redis, lease_seconds=LEASE, retention_seconds=0)
    yield job_store
    await job_store.close()


def ids(jobs: list[Job]) -> list[str]:
    return [job.id for job in jobs]


class TestJobStore:
    async def test_empty(self, store: JobStore) -> None:
        assert await store.get("nope") is None
        assert await store.claim_due(FAR, 10) == []
        assert await store.next_due_at() is None
        assert await store.active_count() == 0

    async def test_add_and_get(self, store: JobStore) -> None:
        job = make_job("a", 10.0)
        await store.add(job)
        assert await store.get("a") == job
        assert await store.get("b") is None
        assert await store.active_count() == 1

    async def test_a_known_id_is_not_added_again(self, store: JobStore) -> None:
        """The same update delivered twice makes one job: the second add changes nothing."""
        first = make_job("a", 10.0)
        assert await store.add(first) is True
        assert await store.add(make_job("a", 5.0, state=JobState.SUBMITTED)) is False
        assert await store.get("a") == first
        assert await store.claim_due(5.0, 10) == []
        assert await store.active_count() == 1

    async def test_submitted_job_is_stored_too(self, store: JobStore) -> None:
        job = make_job("a", 10.0, state=JobState.SUBMITTED)
        await store.add(job)
        assert await store.get("a") == job
        assert await store.claim_due(10.0, 10) == [job]

    async def test_claim_due_returns_only_due_jobs(self, store: JobStore) -> None:
        for job_id, due in [("a", 10.0), ("b", 20.0), ("c", 30.0)]:
            await store.add(make_job(job_id, due))
        assert await store.claim_due(5.0, 10) == []
        # Due exactly at `now` counts as due.
        assert ids(await store.claim_due(20.0, 10)) == ["a", "b"]
        assert await store.claim_due(29.9, 10) == []
        assert ids(await store.claim_due(30.0, 10)) == ["c"]

    async def test_claim_due_returns_the_stored_jobs(self, store: JobStore) -> None:
        job = make_job("a", 10.0)
        await store.add(job)
        assert await store.claim_due(10.0, 1) == [job]

    async def test_claim_due_earliest_first(self, store: JobStore) -> None:
        for job_id, due in [("d", 40.0), ("b", 20.0), ("e", 50.0), ("a", 10.0), ("c", 30.0)]:
            await store.add(make_job(job_id, due))
        assert ids(await store.claim_due(FAR, 10)) == ["a", "b", "c", "d", "e"]

    async def test_claim_due_respects_limit(self, store: JobStore) -> None:
        for n in range(5):
            await store.add(make_job(f"j{n}", 10.0 + n))
        assert ids(await store.claim_due(FAR, 2)) == ["j0", "j1"]
        assert ids(await store.claim_due(FAR, 2)) == ["j2", "j3"]
        assert ids(await store.claim_due(FAR, 2)) == ["j4"]
        assert await store.claim_due(FAR, 2) == []

    async def test_claim_due_with_zero_limit(self, store: JobStore) -> None:
        await store.add(make_job("a", 10.0))
        assert await store.claim_due(FAR, 0) == []
        assert ids(await store.claim_due(FAR, 1)) == ["a"]

    async def test_claimed_job_is_not_claimed_again_while_leased(self, store: JobStore) -> None:
        await store.add(make_job("a", 10.0))
        assert ids(await store.claim_due(10.0, 10)) == ["a"]
        assert await store.claim_due(10.0, 10) == []
        assert await store.claim_due(10.0 + LEASE - 0.5, 10) == []

    async def test_expired_lease_makes_the_job_due_again(self, store: JobStore) -> None:
        """The instance that claimed it died: another one picks the job up."""
        job = make_job("a", 10.0)
        await store.add(job)
        await store.claim_due(10.0, 10)
        assert await store.claim_due(10.0 + LEASE, 10) == [job]

    async def test_renewed_lease_keeps_the_claim(self, store: JobStore) -> None:
        await store.add(make_job("a", 10.0))
        await store.claim_due(10.0, 10)
        await store.renew(["a", "unknown"], now=50.0)
        assert await store.claim_due(10.0 + LEASE, 10) == []
        assert await store.next_due_at() == 50.0 + LEASE
        assert ids(await store.claim_due(50.0 + LEASE, 10)) == ["a"]

    async def test_renewal_after_the_save_leaves_the_job_when_it_was_planned(
        self, store: JobStore
    ) -> None:
        """The tracker renews the leases of the steps in flight; a step that has saved its
        job may still be in flight (finishing) then. Its job is no longer leased: it stays
        due when the step planned it, not a lease later (found by bench.lag: a poll put off
        by a whole lease, 60 s)."""
        await store.add(make_job("a", 10.0))
        [job] = await store.claim_due(10.0, 10)
        await store.save(job.but(next_poll_at=11.0))
        await store.renew(["a"], now=10.5)
        assert await store.next_due_at() == 11.0
        assert ids(await store.claim_due(11.0, 10)) == ["a"]

    async def test_claimed_job_is_still_stored_and_counted(self, store: JobStore) -> None:
        job = make_job("a", 10.0)
        await store.add(job)
        await store.claim_due(10.0, 10)
        assert await store.get("a") == job
        assert await store.active_count() == 1

    async def test_save_active_job_reschedules_it(self, store: JobStore) -> None:
        await store.add(make_job("a", 10.0))
        [claimed] = await store.claim_due(10.0, 10)
        updated = claimed.but(next_poll_at=50.0, attempts=1)
        await store.save(updated)
        assert await store.get("a") == updated
        assert await store.next_due_at() == 50.0
        assert await store.claim_due(49.0, 10) == []
        assert await store.claim_due(50.0, 10) == [updated]

    async def test_save_with_same_due_time_makes_it_due_again(self, store: JobStore) -> None:
        await store.add(make_job("a", 10.0))
        [claimed] = await store.claim_due(10.0, 10)
        await store.save(claimed.but(attempts=1))
        [again] = await store.claim_due(10.0, 10)
        assert again.attempts == 1

    async def test_save_earlier_reorders(self, store: JobStore) -> None:
        await store.add(make_job("a", 10.0))
        await store.add(make_job("b", 20.0))
        [a] = await store.claim_due(10.0, 10)
        await store.save(a.but(next_poll_at=30.0))
        assert ids(await store.claim_due(FAR, 10)) == ["b", "a"]

    async def test_state_change_is_saved(self, store: JobStore) -> None:
        await store.add(make_job("a", 10.0, state=JobState.SUBMITTED))
        [claimed] = await store.claim_due(10.0, 10)
        pending = claimed.moved_to(JobState.PENDING, operation_id="op-1", next_poll_at=15.0)
        await store.save(pending)
        stored = await store.get("a")
        assert stored is not None
        assert stored.state is JobState.PENDING
        assert stored.operation_id == "op-1"
        assert await store.claim_due(15.0, 10) == [pending]

    @pytest.mark.parametrize("final", [JobState.DONE, JobState.FAILED, JobState.EXPIRED])
    async def test_save_finished_job_removes_it(self, store: JobStore, final: JobState) -> None:
        await store.add(make_job("a", 10.0))
        await store.add(make_job("b", 20.0))
        [claimed] = await store.claim_due(10.0, 1)
        await store.save(claimed.moved_to(final))
        assert await store.get("a") is None
        assert await store.active_count() == 1
        assert ids(await store.claim_due(FAR, 10)) == ["b"]

    async def test_save_finished_only_job_empties_the_schedule(self, store: JobStore) -> None:
        await store.add(make_job("a", 10.0))
        [claimed] = await store.claim_due(10.0, 1)
        await store.save(claimed.moved_to(JobState.DONE))
        assert await store.next_due_at() is None
        assert await store.claim_due(FAR, 10) == []
        assert await store.active_count() == 0

    async def test_release_returns_job_to_the_schedule(self, store: JobStore) -> None:
        job = make_job("a", 10.0)
        await store.add(job)
        [claimed] = await store.claim_due(10.0, 10)
        assert await store.next_due_at() == 10.0 + LEASE
        await store.release(claimed)
        assert await store.next_due_at() == 10.0
        assert await store.claim_due(10.0, 10) == [job]

    async def test_release_keeps_the_stored_job_unchanged(self, store: JobStore) -> None:
        job = make_job("a", 10.0)
        await store.add(job)
        [claimed] = await store.claim_due(10.0, 10)
        await store.release(claimed)
        assert await store.get("a") == job
        assert await store.active_count() == 1

    async def test_release_of_unclaimed_job_does_not_duplicate_it(self, store: JobStore) -> None:
        job = make_job("a", 10.0)
        await store.add(job)
        await store.release(job)
        assert await store.claim_due(FAR, 10) == [job]
        assert await store.claim_due(FAR, 10) == []

    async def test_next_due_at(self, store: JobStore) -> None:
        await store.add(make_job("b", 20.0))
        await store.add(make_job("a", 10.0))
        await store.add(make_job("c", 30.0))
        assert await store.next_due_at() == 10.0
        # Asking does not claim.
        assert await store.next_due_at() == 10.0
        assert ids(await store.claim_due(10.0, 10)) == ["a"]
        assert await store.next_due_at() == 20.0

    async def test_next_due_at_skips_claimed_jobs(self, store: JobStore) -> None:
        await store.add(make_job("a", 10.0))
        await store.add(make_job("b", 20.0))
        await store.claim_due(100.0, 1)
        assert await store.next_due_at() == 20.0
        await store.claim_due(100.0, 1)
        assert await store.next_due_at() == 100.0 + LEASE

    async def test_next_due_at_forgets_the_old_time_of_a_rescheduled_job(
        self, store: JobStore
    ) -> None:
        await store.add(make_job("a", 10.0))
        [claimed] = await store.claim_due(10.0, 10)
        await store.save(claimed.but(next_poll_at=99.0))
        assert await store.next_due_at() == 99.0

    async def test_active_count(self, store: JobStore) -> None:
        for n in range(4):
            await store.add(make_job(f"j{n}", 10.0 + n))
        assert await store.active_count() == 4
        claimed = await store.claim_due(FAR, 2)
        assert await store.active_count() == 4
        await store.save(claimed[0].moved_to(JobState.DONE))
        assert await store.active_count() == 3
        await store.save(claimed[1].but(next_poll_at=100.0))
        assert await store.active_count() == 3

    async def test_many_jobs_claimed_in_order(self, store: JobStore) -> None:
        dues = [(n * 7919) % 1000 + 0.5 for n in range(300)]
        for n, due in enumerate(dues):
            await store.add(make_job(f"j{n}", due))
        claimed: list[Job] = []
        while batch := await store.claim_due(FAR, 17):
            claimed.extend(batch)
        assert [job.next_poll_at for job in claimed] == sorted(dues)
        assert len({job.id for job in claimed}) == 300


class TestCancelAndCache:
    async def test_cancel_of_a_waiting_job_makes_it_due_at_once(self, store: JobStore) -> None:
        await store.add(make_job("a", 500.0))
        flagged = await store.request_cancel("a")
        assert flagged is not None
        assert flagged.cancel_requested
        [claimed] = await store.claim_due(1.0, 10)
        assert claimed.cancel_requested

    async def test_cancel_of_a_claimed_job_survives_the_holders_save(self, store: JobStore) -> None:
        await store.add(make_job("a", 10.0))
        [held] = await store.claim_due(10.0, 10)
        assert await store.request_cancel("a") is not None
        assert await store.claim_due(20.0, 10) == []  # still leased: the holder goes on
        await store.save(held.but(next_poll_at=500.0))  # the holder did not see the flag
        [again] = await store.claim_due(20.0, 10)
        assert again.cancel_requested

    async def test_cancel_of_an_unknown_or_finished_job_is_refused(self, store: JobStore) -> None:
        assert await store.request_cancel("nope") is None
        await store.add(make_job("a", 10.0))
        [held] = await store.claim_due(10.0, 10)
        await store.save(held.moved_to(JobState.DONE))
        assert await store.request_cancel("a") is None

    async def test_cache_values_expire(self, store: JobStore) -> None:
        assert await store.cache_get("k") is None
        await store.cache_put("k", "file-1", ttl=60)
        assert await store.cache_get("k") == "file-1"
        await store.cache_put("short", "x", ttl=0.05)
        await asyncio.sleep(0.1)
        assert await store.cache_get("short") is None


class TestSharedCounters:
    async def test_durations_keep_the_latest(self, store: JobStore) -> None:
        for n in range(10):
            await store.durations_add("art|1:1", float(n), keep=4)
        assert sorted(await store.durations_get("art|1:1")) == [6.0, 7.0, 8.0, 9.0]
        assert await store.durations_get("other") == []

    async def test_admission_counts_concurrent_and_daily(self, store: JobStore) -> None:
        async def admit(user_id: int, job_id: str, day: int = 100) -> str | None:
            return await store.admit(
                user_id, job_id, day=day, max_concurrent=2, daily_quota=3, slot_ttl=60.0
            )

        assert await admit(1, "a") is None
        assert await admit(1, "b") is None
        assert await admit(1, "b") == "busy"  # the same job again: not counted twice
        assert await admit(1, "c") == "concurrent"
        assert await admit(2, "x") is None  # another user
        await store.release_slot(1, "a")
        assert await admit(1, "c") is None
        await store.release_slot(1, "b")
        assert await admit(1, "d") == "daily"
        assert await admit(1, "d", day=101) is None  # a new UTC day

    async def test_a_refetch_takes_a_slot_but_no_quota_and_a_regeneration_counts(
        self, store: JobStore
    ) -> None:
        async def admit(job_id: str, daily_quota: int | None) -> str | None:
            return await store.admit(
                1, job_id, day=7, max_concurrent=2, daily_quota=daily_quota, slot_ttl=60.0
            )

        assert await admit("a", 1) is None
        assert await admit("b", 1) == "daily"
        assert await admit("b", None) is None  # a re-fetch: the day is not looked at
        assert await admit("c", None) == "concurrent"  # but it holds a slot
        assert not await store.count_day(1, day=7, daily_quota=1)  # the regeneration of "b"
        assert await store.count_day(1, day=7, daily_quota=2)
        assert not await store.count_day(1, day=7, daily_quota=2)
        assert await store.count_day(2, day=7, daily_quota=1)  # another user

    async def test_admission_counts_pictures_and_says_how_many_remain(
        self, store: JobStore
    ) -> None:
        async def admit(job_id: str, pictures: int, daily_quota: int | None = 5) -> str | None:
            return await store.admit(
                1,
                job_id,
                day=9,
                max_concurrent=3,
                daily_quota=daily_quota,
                slot_ttl=60.0,
                pictures=pictures,
            )

        assert await admit("album", 3) is None  # one slot, three pictures of the day
        assert await admit("more", 3) == "pictures:2"  # refused, nothing counted
        assert await admit("refetch", 4, None) is None  # re-fetches: no quota at all
        assert await admit("two", 2) is None
        assert await admit("one", 1) == "concurrent"
        await store.release_slot(1, "album")
        assert await admit("one", 1) == "daily"

    async def test_daily_stats(self, store: JobStore) -> None:
        await store.record(5, "submitted")
        await store.record(5, "delivered:sent", lag=1.5)
        await store.record(5, "delivered:sent", lag=0.5)
        await store.record(6, "submitted")
        stats = await store.daily_stats(5)
        assert stats.counts == {"submitted": 1, "delivered:sent": 2}
        assert sorted(stats.lags) == [0.5, 1.5]

    async def test_a_status_recorded_while_claimed_is_returned_when_the_job_ends(
        self, store: JobStore
    ) -> None:
        await store.add(make_job("late", 0.0))
        (claimed,) = await store.claim_due(FAR, 1)
        assert await store.attach_status("late", 555, 0.0)  # the job is still active
        assert await store.save(claimed.moved_to(JobState.DONE)) == 555
        assert not await store.attach_status("late", 556, 0.0)  # ended: not recorded

    async def test_a_save_that_knows_its_status_returns_none(self, store: JobStore) -> None:
        await store.add(make_job("known", 0.0))
        assert await store.attach_status("known", 7, 0.0)
        (claimed,) = await store.claim_due(FAR, 1)
        assert claimed.status_message_id == 7
        assert await store.save(claimed.moved_to(JobState.DONE)) is None

    async def test_a_kept_picture_is_there_until_dropped(self, store: JobStore) -> None:
        assert await store.keep_picture("job", 0, b"first", 60.0)
        assert await store.keep_picture("job", 2, b"third", 60.0)
        assert await store.kept_picture("job", 0) == b"first"
        assert await store.kept_picture("job", 1) is None
        assert await store.kept_picture("other", 0) is None
        await store.drop_pictures("job", range(3))
        assert [await store.kept_picture("job", i) for i in range(3)] == [None] * 3

    async def test_a_kept_picture_expires(self, store: JobStore) -> None:
        assert await store.keep_picture("job", 0, b"brief", 0.05)
        await asyncio.sleep(0.1)
        assert await store.kept_picture("job", 0) is None


async def test_the_memory_store_keeps_pictures_up_to_its_cap() -> None:
    store = MemoryJobStore(kept_max_bytes=10)
    assert await store.keep_picture("a", 0, b"123456", 60.0)
    assert not await store.keep_picture("b", 0, b"12345", 60.0)  # 11 bytes in all
    assert await store.kept_picture("b", 0) is None
    await store.drop_pictures("a", [0])
    assert await store.keep_picture("b", 0, b"12345", 60.0)


async def test_the_redis_store_keeps_pictures_up_to_its_cap_under_the_jobs_hash_tag(
    redis_url: str,
) -> None:
    redis = Redis.from_url(redis_url)
    store = RedisJobStore(redis, kept_max_bytes=5)
    assert not await store.keep_picture("a", 0, b"123456", 60.0)
    assert await store.keep_picture("a", 1, b"12345", 60.0)
    assert await redis.keys("art:picture:*") == [b"art:picture:{a}:1"]
    await store.close()


async def test_pictures_given_back_are_uncounted_down_to_zero(store: JobStore) -> None:
    async def admit(job_id: str, pictures: int) -> str | None:
        return await store.admit(
            1, job_id, day=5, max_concurrent=9, daily_quota=4, slot_ttl=60, pictures=pictures
        )

    assert await admit("four", 4) is None
    assert await admit("one", 1) == "daily"
    await store.uncount_day(1, day=5, pictures=4)
    await store.uncount_day(1, day=5, pictures=4)  # never below zero
    await store.uncount_day(1, day=6, pictures=4)  # another day: nothing counted there
    assert await admit("again", 4) is None
    assert await admit("more", 1) == "daily"


async def test_active_among_names_the_jobs_still_active(store: JobStore) -> None:
    await store.add(make_job("running", 0.0))
    await store.add(make_job("ending", 0.0))
    claimed = {job.id: job for job in await store.claim_due(FAR, 2)}
    await store.save(claimed["ending"].moved_to(JobState.DONE))
    assert await store.active_among(["running", "ending", "unknown"]) == {"running"}
    assert await store.active_among([]) == set()


class TestForgetAndCounters:
    """The operations whose keys span users, jobs and cached pictures: on the cluster node
    they prove each script and transaction touches one slot."""

    async def test_forget_user_waits_for_active_jobs_then_deletes_only_theirs(
        self, store: JobStore
    ) -> None:
        await store.add(make_job("a", 10.0))  # user 200
        await store.add(make_job("b", 10.0).but(user_id=300))
        await store.cache_put("mine", "file-1", ttl=60, owner=200)
        await store.cache_put("theirs", "file-2", ttl=60, owner=300)
        await store.history_add(200, "e1", "entry 1", at=1.0, keep=10.0**12)
        await store.history_add(300, "e2", "entry 2", at=1.0, keep=10.0**12)
        await store.user_put(200, "prefs 200")
        await store.user_put(300, "prefs 300")

        assert await store.forget_user(200) is False  # job a is still being made
        assert await store.get("a") is not None
        assert await store.cache_get("mine") == "file-1"
        for held in await store.claim_due(10.0, 10):
            if held.id == "a":
                await store.save(held.moved_to(JobState.DONE))
            else:
                await store.release(held)

        assert await store.forget_user(200) is True
        assert await store.get("a") is None
        assert await store.cache_get("mine") is None
        assert await store.history_get(200, 0.0, 10) == []
        assert await store.user_get(200) is None
        assert await store.get("b") is not None
        assert await store.cache_get("theirs") == "file-2"
        assert await store.history_get(300, 0.0, 10) == ["entry 2"]
        assert await store.user_get(300) == "prefs 300"

    async def test_stats_count_day_and_status(self, store: JobStore) -> None:
        await store.record(7, "delivered", lag=1.5)
        await store.record(7, "delivered")
        stats = await store.daily_stats(7)
        assert stats.counts == {"delivered": 2}
        assert stats.lags == [1.5]
        assert await store.count_day(1, day=7, daily_quota=1) is True
        assert await store.count_day(1, day=7, daily_quota=1) is False
        await store.add(make_job("a", 10.0))
        assert await store.attach_status("a", 55, now=5.0) is True
        assert await store.attach_status("nope", 55, now=5.0) is False
