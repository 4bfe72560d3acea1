"""`JobStore` in one process's memory: the default, lost on restart."""

from __future__ import annotations

import heapq
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection, Iterable

from bot.core.jobs import Job
from bot.storage.base import HISTORY_KEEP, LAG_SAMPLES, DailyStats, JobStore

# The most bytes of drawn pictures kept awaiting delivery, all jobs together.
KEPT_MAX_BYTES = 256 * 2**20
# Days of counters kept, as the Redis store's TTLs do (daily: 2 days, stats: 3 days).
DAILY_DAYS_KEPT = 2
STATS_DAYS_KEPT = 3


class MemoryJobStore(JobStore):
    """The same model as the Redis store, in one process: `_due` maps each active job to the
    time it is due (its next poll, or the end of its claim), and a heap orders those times.

    Heap entries are never removed in place: an entry whose time no longer matches `_due`
    is skipped when it surfaces, so every operation is O(log n). Finished jobs expire in
    insertion order, which is also expiry order (a fixed retention). Nothing else grows
    without bound either, as in Redis: cache entries leave at their TTL (a heap of expiry
    times), daily counters after two days and daily stats after three (counted from the
    newest day seen, so the callers' clock decides), and expired generation slots with
    each new day.
    """

    def __init__(
        self,
        *,
        lease_seconds: float = 60.0,
        retention_seconds: float = 0.0,
        clock: Callable[[], float] = time.time,
        kept_max_bytes: int = KEPT_MAX_BYTES,
    ) -> None:
        self.lease_seconds = lease_seconds
        self._retention = retention_seconds
        self._clock = clock
        self._jobs: dict[str, Job] = {}
        self._due: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._leased: set[str] = set()
        self._finished: OrderedDict[str, float] = OrderedDict()
        self._cache: dict[str, tuple[str, float]] = {}
        self._cache_expiry: list[tuple[float, str]] = []
        self._users: dict[int, str] = {}
        self._cache_owners: dict[int, set[str]] = {}  # user -> cache keys of their requests
        self._cache_owner: dict[str, int] = {}
        self._history: dict[int, dict[str, tuple[float, str]]] = {}
        self._history_expiry: list[tuple[float, int, str]] = []  # (when, user, entry id)
        self._slots: dict[int, dict[str, float]] = {}
        self._daily: dict[int, Counter[int]] = {}  # day -> generations per user
        self._stats: dict[int, DailyStats] = {}
        self._newest_day = 0
        self._models_aside: dict[str, float] = {}  # model -> end of its cool-off
        self._durations: dict[str, list[float]] = {}
        # Drawn pictures awaiting delivery: (job id, index) -> (bytes, expiry); all of them
        # together at most `kept_max_bytes`.
        self._kept: dict[tuple[str, int], tuple[bytes, float]] = {}
        self._kept_max_bytes = kept_max_bytes

    async def add(self, job: Job) -> bool:
        self._expire()
        if job.id in self._jobs:
            return False
        self._jobs[job.id] = job
        self._schedule(job.id, job.next_poll_at)
        return True

    async def get(self, job_id: str) -> Job | None:
        self._expire()
        return self._jobs.get(job_id)

    async def claim_due(self, now: float, limit: int) -> list[Job]:
        self._expire_history()
        claimed: list[Job] = []
        while self._heap and len(claimed) < limit:
            due, job_id = self._heap[0]
            if self._due.get(job_id) != due:
                heapq.heappop(self._heap)
                continue
            if due > now:
                break
            heapq.heappop(self._heap)
            self._schedule(job_id, now + self.lease_seconds)
            self._leased.add(job_id)
            claimed.append(self._jobs[job_id])
        return claimed

    async def save(self, job: Job) -> int | None:
        self._leased.discard(job.id)
        stored = self._jobs.get(job.id)
        late_status = None
        if stored is not None and stored.cancel_requested and job.active:
            job = job.but(cancel_requested=True)
        if stored is not None and job.status_message_id is None:
            late_status = stored.status_message_id
            job = job.but(status_message_id=late_status)
        self._jobs[job.id] = job
        if job.active:
            self._schedule(job.id, 0.0 if job.cancel_requested else job.next_poll_at)
            return late_status
        self._due.pop(job.id, None)
        if self._retention > 0:
            self._finished[job.id] = self._clock() + self._retention
        else:
            del self._jobs[job.id]
        self._expire()
        return late_status

    async def release(self, job: Job) -> None:
        self._leased.discard(job.id)
        if job.id in self._due:
            self._schedule(job.id, self._jobs[job.id].next_poll_at)

    async def attach_status(self, job_id: str, message_id: int, now: float) -> bool:
        job = self._jobs.get(job_id)
        if job is None or job_id not in self._due:
            return False
        self._jobs[job_id] = job.but(status_message_id=message_id)
        if job_id not in self._leased:
            self._schedule(job_id, min(self._due[job_id], now))
        return True

    async def request_cancel(self, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None or job_id not in self._due:
            return None
        job = self._jobs[job_id] = job.but(cancel_requested=True)
        if job_id not in self._leased:  # the holder of a claim sees the flag when it saves
            self._schedule(job_id, 0.0)
        return job

    async def keep_picture(self, job_id: str, index: int, image: bytes, ttl: float) -> bool:
        now = self._clock()
        self._kept = {k: v for k, v in self._kept.items() if v[1] > now}
        held = sum(
            len(data) for (job, i), (data, _) in self._kept.items() if (job, i) != (job_id, index)
        )
        if held + len(image) > self._kept_max_bytes:
            return False
        self._kept[job_id, index] = (image, now + ttl)
        return True

    async def kept_picture(self, job_id: str, index: int) -> bytes | None:
        kept = self._kept.get((job_id, index))
        return kept[0] if kept is not None and kept[1] > self._clock() else None

    async def drop_pictures(self, job_id: str, indexes: Iterable[int]) -> None:
        for index in indexes:
            self._kept.pop((job_id, index), None)

    async def cache_get(self, key: str) -> str | None:
        self._expire_cache()
        value, expires_at = self._cache.get(key, ("", 0.0))
        if expires_at <= self._clock():
            self._cache.pop(key, None)
            return None
        return value

    async def cache_put(self, key: str, value: str, ttl: float, owner: int | None = None) -> None:
        self._expire_cache()
        expires_at = self._clock() + ttl
        self._cache[key] = (value, expires_at)
        heapq.heappush(self._cache_expiry, (expires_at, key))
        if owner is not None:
            self._cache_owners.setdefault(owner, set()).add(key)
            self._cache_owner[key] = owner

    async def history_add(
        self, user_id: int, entry_id: str, value: str, at: float, keep: float
    ) -> None:
        self._expire_history()
        entries = self._history.setdefault(user_id, {})
        entries[entry_id] = (at, value)
        heapq.heappush(self._history_expiry, (at + keep, user_id, entry_id))
        newest = sorted(entries, key=lambda i: entries[i][0], reverse=True)
        for old in newest[HISTORY_KEEP:] + [i for i in newest if entries[i][0] < at - keep]:
            entries.pop(old, None)

    async def history_get(self, user_id: int, since: float, limit: int) -> list[str]:
        self._expire_history()
        entries = sorted(self._history.get(user_id, {}).values(), reverse=True)
        return [value for at, value in entries if at > since][:limit]

    async def forget_user(self, user_id: int) -> bool:
        mine = [job for job in self._jobs.values() if job.user_id == user_id]
        if any(job.id in self._due for job in mine):
            return False
        for job in mine:
            del self._jobs[job.id]
            self._finished.pop(job.id, None)
        for key in self._cache_owners.pop(user_id, set()):
            self._cache.pop(key, None)
            self._cache_owner.pop(key, None)
        self._users.pop(user_id, None)
        self._history.pop(user_id, None)
        return True

    async def user_get(self, user_id: int) -> str | None:
        return self._users.get(user_id)

    async def user_put(self, user_id: int, value: str) -> None:
        self._users[user_id] = value

    async def admit(
        self,
        user_id: int,
        job_id: str,
        *,
        day: int,
        max_concurrent: int,
        daily_quota: int | None,
        slot_ttl: float,
        pictures: int = 1,
    ) -> str | None:
        now = self._clock()
        self._new_day(day)
        slots = {j: t for j, t in self._slots.get(user_id, {}).items() if t > now}
        if job_id in slots:
            return "busy"
        if len(slots) >= max_concurrent:
            return "concurrent"
        counts = self._daily.setdefault(day, Counter())
        if daily_quota is not None and counts[user_id] + pictures > daily_quota:
            used = counts[user_id]
            return "daily" if used >= daily_quota else f"pictures:{daily_quota - used}"
        slots[job_id] = now + slot_ttl
        self._slots[user_id] = slots
        if daily_quota is not None:
            counts[user_id] += pictures
        return None

    async def release_slot(self, user_id: int, job_id: str) -> None:
        slots = self._slots.get(user_id, {})
        slots.pop(job_id, None)
        if not slots:
            self._slots.pop(user_id, None)

    async def count_day(self, user_id: int, *, day: int, daily_quota: int) -> bool:
        self._new_day(day)
        counts = self._daily.setdefault(day, Counter())
        if counts[user_id] >= daily_quota:
            return False
        counts[user_id] += 1
        return True

    async def uncount_day(self, user_id: int, *, day: int, pictures: int) -> None:
        counts = self._daily.get(day)
        if counts is not None and counts[user_id]:
            counts[user_id] = max(counts[user_id] - pictures, 0)

    async def day_count(self, user_id: int, *, day: int) -> int:
        return self._daily.get(day, Counter())[user_id]

    async def record(self, day: int, event: str, lag: float | None = None) -> None:
        self._new_day(day)
        stats = self._stats.setdefault(day, DailyStats(Counter(), []))
        stats.counts[event] = stats.counts.get(event, 0) + 1
        if lag is not None:
            stats.lags.append(lag)
            del stats.lags[:-LAG_SAMPLES]

    async def daily_stats(self, day: int) -> DailyStats:
        stats = self._stats.get(day, DailyStats({}, []))
        return DailyStats(dict(stats.counts), list(stats.lags))

    async def durations_add(self, key: str, duration: float, keep: int) -> None:
        samples = self._durations.setdefault(key, [])
        samples.append(duration)
        del samples[:-keep]

    async def durations_get(self, key: str) -> list[float]:
        return list(self._durations.get(key, []))

    async def model_set_aside(self, model: str, now: float, seconds: float) -> bool:
        first = model not in self._models_aside
        self._models_aside[model] = now + seconds
        return first

    async def models_set_aside(self, models: Iterable[str], now: float) -> dict[str, bool]:
        return {m: self._models_aside[m] > now for m in models if m in self._models_aside}

    async def model_answered(self, model: str) -> None:
        self._models_aside.pop(model, None)

    async def renew(self, job_ids: Iterable[str], now: float) -> None:
        for job_id in job_ids:
            # Only a claim is renewed: a job already saved keeps the time it was planned for.
            if job_id in self._leased and job_id in self._due:
                self._schedule(job_id, now + self.lease_seconds)

    async def next_due_at(self) -> float | None:
        while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    async def active_among(self, job_ids: Collection[str]) -> set[str]:
        return {job_id for job_id in job_ids if job_id in self._due}

    async def active_count(self) -> int:
        return len(self._due)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        """Nothing to free: jobs in memory end with the process."""

    def _schedule(self, job_id: str, due: float) -> None:
        self._due[job_id] = due
        heapq.heappush(self._heap, (due, job_id))

    def _new_day(self, day: int) -> None:
        """On the first call of a new day, drop what Redis would have let expire by now."""
        self._expire_history()
        if day <= self._newest_day:
            return
        self._newest_day = day
        self._daily = {d: c for d, c in self._daily.items() if d >= day - DAILY_DAYS_KEPT + 1}
        self._stats = {d: s for d, s in self._stats.items() if d >= day - STATS_DAYS_KEPT + 1}
        now = self._clock()
        self._slots = {
            user: live
            for user, slots in self._slots.items()
            if (live := {j: t for j, t in slots.items() if t > now})
        }

    def _expire_cache(self) -> None:
        now = self._clock()
        while self._cache_expiry and self._cache_expiry[0][0] <= now:
            expires_at, key = heapq.heappop(self._cache_expiry)
            if self._cache.get(key, ("", None))[1] == expires_at:
                del self._cache[key]
                self._disown(key)

    def _expire_history(self) -> None:
        """Each entry goes when its own retention is over, as /privacy promises."""
        now = self._clock()
        while self._history_expiry and self._history_expiry[0][0] <= now:
            _, user_id, entry_id = heapq.heappop(self._history_expiry)
            entries = self._history.get(user_id, {})
            entries.pop(entry_id, None)
            if not entries:
                self._history.pop(user_id, None)

    def _disown(self, key: str) -> None:
        owner = self._cache_owner.pop(key, None)
        if owner is None:
            return
        keys = self._cache_owners.get(owner, set())
        keys.discard(key)
        if not keys:
            self._cache_owners.pop(owner, None)

    def _expire(self) -> None:
        now = self._clock()
        while self._finished:
            job_id, expires_at = next(iter(self._finished.items()))
            if expires_at > now:
                break
            del self._finished[job_id]
            self._jobs.pop(job_id, None)
