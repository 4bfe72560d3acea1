"""`JobStore` in Redis: restart-safe, shared by several bot instances.

Layout (all keys under one prefix; `{...}` is a Redis Cluster hash tag, see `Keys`):
- `{jobs}:job:<id>`: hash with `data` (the job as JSON), while someone works on it `lease`
  (the owning instance's id), and `cancel` once the user asked to cancel;
- `{jobs}:due`: sorted set of active job ids scored by next-poll time. A claim moves the
  score to the lease's expiry, so a job whose instance died becomes due again by itself;
- `cache:<key>`: small values with a TTL (file_ids of delivered pictures);
- per user: `user:<id>` (preferences), `history:<id>` (sorted set of entries by time),
  `{u<id>}:jobs` and `{u<id>}:cache` (sets of their job ids and cache keys, for
  `forget_user`), `{u<id>}:slots` and `{u<id>}:daily:<day>` (admission);
- `picture:{<id>}:<index>`: a drawn picture whose delivery was put off, kept until it is
  delivered (or the job's `keep_until`), so it is never drawn again; at most
  `kept_max_bytes` each (the job's id as hash tag, for a cluster);
- `model:{<name>}:down` (the cool-off of a model Yandex refused, with a TTL) and
  `model:{<name>}:told` (set once until the model answers again: the admins were told).
- `{jobs}:quarantine:<id>`: a job record that could not be decoded, moved aside out of the
  schedule and kept as long as finished jobs are (`retention_seconds`), for the operator.

A job's hash expires by itself at its `keep_until` plus the retention even if no instance
ever finishes it, so no prompt outlives what /privacy promises.

Every change to a job is one Lua script, so there is no read-modify-write race between
instances, and a save by an instance that lost its lease is refused. `forget_user` spans
slots (the schedule's, the user's, each cached picture's), so it runs in steps that each
check what the previous one could have missed.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import AsyncIterator, Collection, Iterable
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.core.errors import StoreUnavailable
from bot.core.jobs import Job, job_from_dict, job_to_dict
from bot.storage.base import HISTORY_KEEP, LAG_SAMPLES, DailyStats, JobStore, LeaseLost

log = logging.getLogger(__name__)

STATS_TTL = 3 * 86400
# A model's "admins were told" mark is dropped after this even if it never answers again.
MODEL_TOLD_TTL = 30 * 86400

# Every key a script touches is passed in KEYS, never built from ARGV, and the keys of one
# script share a hash tag, so each script also runs on a Redis Cluster node (a script may
# only touch keys of one slot there). See `Keys` below for the tags.

# KEYS: due, then the job hashes of the ids in ARGV[4..]. ARGV: now, lease expiry,
# instance. The ids were read with ZRANGEBYSCORE just before: one taken by another instance
# meanwhile has a score past `now` again and is skipped here.
_CLAIM = """
local out = {}
for i = 2, #KEYS do
  local id = ARGV[i + 2]
  local score = redis.call('ZSCORE', KEYS[1], id)
  if score and tonumber(score) <= tonumber(ARGV[1]) then
    local data = redis.call('HGET', KEYS[i], 'data')
    if data then
      redis.call('ZADD', KEYS[1], ARGV[2], id)
      redis.call('HSET', KEYS[i], 'lease', ARGV[3])
      table.insert(out, data)
      table.insert(out, redis.call('HEXISTS', KEYS[i], 'cancel'))
      table.insert(out, redis.call('HGET', KEYS[i], 'status') or '')
      table.insert(out, id)
    else
      redis.call('ZREM', KEYS[1], id)
    end
  end
end
return out
"""

_SAVE = """
if redis.call('HGET', KEYS[2], 'lease') ~= ARGV[1] then return 0 end
local status = redis.call('HGET', KEYS[2], 'status') or ''
redis.call('HSET', KEYS[2], 'data', ARGV[2])
redis.call('HDEL', KEYS[2], 'lease')
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[1], ARGV[5])
  if tonumber(ARGV[4]) > 0 then
    redis.call('PEXPIRE', KEYS[2], ARGV[4])
  else
    redis.call('DEL', KEYS[2])
  end
elseif redis.call('HEXISTS', KEYS[2], 'cancel') == 1 then
  redis.call('ZADD', KEYS[1], 0, ARGV[5])
else
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[5])
end
return {1, status}
"""

# The user's list of jobs (another slot) is written before this, by `add`.
_ADD = """
if redis.call('HSETNX', KEYS[2], 'data', ARGV[2]) == 0 then return 0 end
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
"""

# /forget, step 1 (the schedule's slot). KEYS: due, then for each id in ARGV its job hash,
# then its quarantined record. Nothing is deleted while one of the jobs is active.
_FORGET_JOBS = """
local n = #ARGV
for i = 1, n do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then return 0 end
end
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
return 1
"""

# A user's history: add, drop what is past its retention or beyond the count kept, and let
# the key expire with its oldest entry, so that nothing outlives its retention even when
# the user never comes back (the newer entries go with it then: deleted early, never late).
_HISTORY_ADD = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (tonumber(ARGV[2]) - tonumber(ARGV[3])))
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[4]) - 1)
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local ends = (tonumber(oldest[2]) + tonumber(ARGV[3])) * 1000
redis.call('PEXPIREAT', KEYS[1], math.max(math.ceil(ends), 1))
return 1
"""

# /forget, last step (the user's slot). KEYS: the user's jobs and cached pictures. ARGV:
# the job ids and cache keys seen in step 1, as 'j:<id>' and 'c:<key>'. A job added since
# then refuses (the user is told a picture is still being made); cache keys added since are
# returned for the caller to delete.
_FORGET_USER = """
local seen = {}
for _, item in ipairs(ARGV) do seen[item] = true end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if not seen['j:' .. id] then return {0} end
end
local out = {1}
for _, key in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if not seen['c:' .. key] then table.insert(out, key) end
end
redis.call('DEL', KEYS[1], KEYS[2])
return out
"""

_QUARANTINE = """
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
if tonumber(ARGV[2]) > 0 then
  redis.call('RENAME', KEYS[2], KEYS[3])
  redis.call('PEXPIRE', KEYS[3], ARGV[2])
else
  redis.call('DEL', KEYS[2])
end
return 1
"""

_ATTACH_STATUS = """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'status', ARGV[2])
if redis.call('HEXISTS', KEYS[2], 'lease') == 0 then
  redis.call('ZADD', KEYS[1], 'LT', ARGV[3], ARGV[1])
end
return 1
"""

_CANCEL = """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return false end
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
redis.call('HSET', KEYS[2], 'cancel', '1')
if redis.call('HEXISTS', KEYS[2], 'lease') == 0 then
  redis.call('ZADD', KEYS[1], 0, ARGV[1])
end
return {redis.call('HGET', KEYS[2], 'data'), redis.call('HGET', KEYS[2], 'status') or ''}
"""

_RELEASE = """
if redis.call('HGET', KEYS[2], 'lease') ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[2], 'lease')
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
return 1
"""

# KEYS: due, then the job hashes of the ids in ARGV[3..]. ARGV: instance, lease expiry.
_RENEW = """
local renewed = 0
for i = 2, #KEYS do
  if redis.call('HGET', KEYS[i], 'lease') == ARGV[1] then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[2], ARGV[i + 1])
    renewed = renewed + 1
  end
end
return renewed
"""

_ADMIT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 'busy' end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 'concurrent' end
local counted = ARGV[3] ~= ''
if counted then
  local used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if used + tonumber(ARGV[5]) > tonumber(ARGV[3]) then
    if used >= tonumber(ARGV[3]) then return 'daily' end
    return 'pictures:' .. (tonumber(ARGV[3]) - used)
  end
end
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[4]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if counted then
  redis.call('INCRBY', KEYS[2], ARGV[5])
  redis.call('PEXPIRE', KEYS[2], 172800000)
end
return false
"""

_COUNT_DAY = """
if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], 172800000)
return 1
"""

_UNCOUNT_DAY = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local back = math.min(used, tonumber(ARGV[1]))
if back > 0 then redis.call('DECRBY', KEYS[1], back) end
return back
"""


# Every Redis error is an outage to the callers, not only a lost connection: OOM, READONLY
# after a failover, LOADING after a restart, a script refused. The bot backs off and retries.
_ERRORS = (RedisError, OSError)
# What decoding a damaged record raises (bad JSON, missing or unknown fields, bad values).
_CORRUPT = (ValueError, KeyError, TypeError, AttributeError)


class Keys:
    """Key names. One hash tag for the schedule, `{jobs}`: the due set, job hashes and
    quarantined records, because a claim takes several due jobs and their leases at once,
    atomically (on a cluster the schedule lives on one node; it holds only the active and
    recently finished jobs). One tag per user, `{u<id>}`, for the keys a script or a
    transaction touches together (admission; the lists `forget_user` works from). Keys only
    ever touched one at a time (preferences, history, cached pictures, stats) need none."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.due = f"{prefix}{{jobs}}:due"

    def job(self, job_id: str) -> str:
        return f"{self.prefix}{{jobs}}:job:{job_id}"

    def quarantine(self, job_id: str) -> str:
        return f"{self.prefix}{{jobs}}:quarantine:{job_id}"

    def user(self, kind: str, user_id: int) -> str:
        """`jobs`, `cache`, `slots` or `daily:<day>` of one user."""
        return f"{self.prefix}{{u{user_id}}}:{kind}"

    def stats(self, kind: str, day: int) -> str:
        """`stats` or `lags` of one day (one transaction writes both)."""
        return f"{self.prefix}{kind}:{{{day}}}"


# The layout before hash tags: old key's pattern → new name. Renamed once at start-up by
# `migrate_layout`, so an upgrade keeps the jobs in flight, counts and /forget's lists.
_OLD_LAYOUT = (
    (re.compile(r"job:([^:{]+)"), "{{jobs}}:job:{0}"),
    (re.compile(r"quarantine:([^:{]+)"), "{{jobs}}:quarantine:{0}"),
    (re.compile(r"userjobs:(-?\d+)"), "{{u{0}}}:jobs"),
    (re.compile(r"usercache:(-?\d+)"), "{{u{0}}}:cache"),
    (re.compile(r"slots:(-?\d+)"), "{{u{0}}}:slots"),
    (re.compile(r"daily:(-?\d+):(\d+)"), "{{u{0}}}:daily:{1}"),
    (re.compile(r"(stats|lags):(\d+)"), "{0}:{{{1}}}"),
)
LAYOUT = "2"  # hash-tagged keys


def migrated_name(key: str, prefix: str) -> str | None:
    """The new name of a key of the old layout; None for any other key."""
    if not key.startswith(prefix) or "{" in key:
        return None
    rest = key[len(prefix) :]
    for pattern, template in _OLD_LAYOUT:
        match = pattern.fullmatch(rest)
        if match:
            return prefix + template.format(*match.groups())
    return None


async def migrate_layout(redis: Redis, prefix: str = "art:") -> int:
    """Rename the keys of the layout before hash tags, once (a marker key remembers it); the
    number renamed. Run before this instance serves: instances of the old version must be
    stopped first (they would keep writing the old names)."""
    marker = prefix + "layout"
    renamed = 0
    async with _available():
        if _text(await redis.get(marker)) == LAYOUT:
            return 0
        async for raw in redis.scan_iter(match=prefix + "*", count=1000):
            key = _text(raw) or ""
            new = migrated_name(key, prefix)
            if new is not None and await redis.renamenx(key, new):
                renamed += 1
        old_due, new_due = prefix + "due", Keys(prefix).due
        if await redis.exists(old_due):
            # Merged, not renamed: a newer instance may already have scheduled jobs.
            await redis.zunionstore(new_due, [new_due, old_due], aggregate="MIN")
            await redis.delete(old_due)
            renamed += 1
        await redis.set(marker, LAYOUT)
    if renamed:
        log.info("Redis: %d keys renamed to the hash-tagged layout", renamed)
    return renamed


class RedisJobStore(JobStore):
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "art:",
        lease_seconds: float = 60.0,
        retention_seconds: float = 3600.0,
        kept_max_bytes: int = 256 * 2**20,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._keys = Keys(prefix)
        self._due = self._keys.due
        self.lease_seconds = lease_seconds
        self._retention_ms = int(retention_seconds * 1000)
        self.instance = secrets.token_hex(8)
        self._kept_max_bytes = kept_max_bytes
        self._add = redis.register_script(_ADD)
        self._claim = redis.register_script(_CLAIM)
        self._save = redis.register_script(_SAVE)
        self._release = redis.register_script(_RELEASE)
        self._renew = redis.register_script(_RENEW)
        self._cancel = redis.register_script(_CANCEL)
        self._attach_status = redis.register_script(_ATTACH_STATUS)
        self._admit = redis.register_script(_ADMIT)
        self._forget_jobs = redis.register_script(_FORGET_JOBS)
        self._forget_user = redis.register_script(_FORGET_USER)
        self._history_add = redis.register_script(_HISTORY_ADD)
        self._quarantine = redis.register_script(_QUARANTINE)
        self._count_day = redis.register_script(_COUNT_DAY)
        self._uncount_day = redis.register_script(_UNCOUNT_DAY)

    def _key(self, job_id: str) -> str:
        return self._keys.job(job_id)

    async def add(self, job: Job) -> bool:
        lifetime = self._lifetime_ms(job)
        owned = self._keys.user("jobs", job.user_id)
        async with _available():
            # First in the user's list (which lives as long as the newest of their jobs), so
            # a /forget meanwhile sees the job; an id left there by a refused add is harmless.
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.sadd(owned, job.id)
                pipe.pexpire(owned, lifetime)
                await pipe.execute()
            added = await self._add(
                keys=[self._due, self._key(job.id)],
                args=[job.id, _dump(job), job.next_poll_at, lifetime],
            )
        return bool(added)

    def _user_key(self, kind: str, user_id: int) -> str:
        """A key of one user used on its own (no hash tag needed), such as `history`."""
        return f"{self._prefix}{kind}:{user_id}"

    async def get(self, job_id: str) -> Job | None:
        async with _available():
            data, cancel, status = await self._redis.hmget(
                self._key(job_id), ["data", "cancel", "status"]
            )
        return None if data is None else self._decoded(job_id, data, cancel is not None, status)

    async def claim_due(self, now: float, limit: int) -> list[Job]:
        async with _available():
            found = await self._redis.zrangebyscore(self._due, "-inf", now, start=0, num=limit)
            due = [raw.decode() if isinstance(raw, bytes) else str(raw) for raw in found]
            if not due:
                return []
            rows = await self._claim(
                keys=[self._due, *map(self._key, due)],
                args=[now, now + self.lease_seconds, self.instance, *due],
            )
        jobs = []
        for data, cancel, status, job_id in zip(
            rows[::4], rows[1::4], rows[2::4], rows[3::4], strict=True
        ):
            job = self._decoded(_text(job_id) or "", data, bool(cancel), status)
            if job is not None:
                jobs.append(job)
                continue
            try:
                await self.quarantine(_text(job_id) or "")
            except StoreUnavailable:
                log.warning("record %s: not moved aside yet (store unavailable)", _text(job_id))
        return jobs

    async def quarantine(self, job_id: str) -> None:
        """Take a record out of the schedule and keep it aside (see the module docstring)."""
        async with _available():
            await self._quarantine(
                keys=[self._due, self._key(job_id), self._keys.quarantine(job_id)],
                args=[job_id, self._retention_ms],
            )

    def _decoded(
        self, job_id: str, data: bytes | str, cancelled: bool, status: bytes | str | None
    ) -> Job | None:
        """The job, or None (logged by id) when its record is damaged."""
        try:
            return _load(data, cancelled, status)
        except _CORRUPT as exc:
            log.error("record %s cannot be decoded (%s)", job_id, type(exc).__name__)
            return None

    def _lifetime_ms(self, job: Job) -> int:
        """A new job's hash lives at most this long (relative: the bot's clock may differ
        from the server's)."""
        return int(max(job.keep_until - job.created_at, 1.0) * 1000) + self._retention_ms

    async def save(self, job: Job) -> int | None:
        score = job.next_poll_at if job.active else ""
        async with _available():
            saved = await self._save(
                keys=[self._due, self._key(job.id)],
                args=[self.instance, _dump(job), score, self._retention_ms, job.id],
            )
        if not saved:
            raise LeaseLost(job.id)
        status = _text(saved[1])
        return int(status) if status and job.status_message_id is None else None

    async def release(self, job: Job) -> None:
        async with _available():
            await self._release(
                keys=[self._due, self._key(job.id)],
                args=[self.instance, job.next_poll_at, job.id],
            )

    async def attach_status(self, job_id: str, message_id: int, now: float) -> bool:
        async with _available():
            attached = await self._attach_status(
                keys=[self._due, self._key(job_id)], args=[job_id, message_id, now]
            )
        return bool(attached)

    async def request_cancel(self, job_id: str) -> Job | None:
        async with _available():
            found = await self._cancel(keys=[self._due, self._key(job_id)], args=[job_id])
        if not found:
            return None
        data, status = found
        return self._decoded(job_id, data, True, status)

    def _picture_key(self, job_id: str, index: int) -> str:
        return f"{self._prefix}picture:{{{job_id}}}:{index}"

    async def keep_picture(self, job_id: str, index: int, image: bytes, ttl: float) -> bool:
        if len(image) > self._kept_max_bytes:
            return False
        async with _available():
            await self._redis.set(
                self._picture_key(job_id, index), image, px=max(int(ttl * 1000), 1)
            )
        return True

    async def kept_picture(self, job_id: str, index: int) -> bytes | None:
        async with _available():
            image = await self._redis.get(self._picture_key(job_id, index))
        return image if isinstance(image, bytes) else None

    async def drop_pictures(self, job_id: str, indexes: Iterable[int]) -> None:
        keys = [self._picture_key(job_id, index) for index in indexes]
        if keys:
            async with _available():
                await self._redis.delete(*keys)  # one hash tag: one slot on a cluster

    async def cache_get(self, key: str) -> str | None:
        async with _available():
            value = await self._redis.get(self._prefix + "cache:" + key)
        return _text(value)

    async def cache_put(self, key: str, value: str, ttl: float, owner: int | None = None) -> None:
        ttl_ms = int(ttl * 1000)
        # Two slots: the owner's list first, so /forget never misses the entry.
        async with _available(), self._redis.pipeline(transaction=False) as pipe:
            if owner is not None:
                owned = self._keys.user("cache", owner)
                pipe.sadd(owned, key)
                pipe.pexpire(owned, ttl_ms)
            pipe.set(self._prefix + "cache:" + key, value, px=ttl_ms)
            await pipe.execute()

    async def history_add(
        self, user_id: int, entry_id: str, value: str, at: float, keep: float
    ) -> None:
        key = self._user_key("history", user_id)
        async with _available():
            await self._history_add(keys=[key], args=[value, repr(at), repr(keep), HISTORY_KEEP])

    async def history_get(self, user_id: int, since: float, limit: int) -> list[str]:
        key = self._user_key("history", user_id)
        async with _available():
            values = await self._redis.zrevrangebyscore(
                key, "+inf", f"({since}", start=0, num=limit
            )
        return [v.decode() if isinstance(v, bytes) else str(v) for v in values]

    async def forget_user(self, user_id: int) -> bool:
        owned_jobs, owned_cache = (
            self._keys.user("jobs", user_id),
            self._keys.user("cache", user_id),
        )
        async with _available():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.smembers(owned_jobs)
                pipe.smembers(owned_cache)
                raw_jobs, raw_cache = await pipe.execute()
            job_ids = sorted(_text(raw) or "" for raw in raw_jobs)
            cache_keys = sorted(_text(raw) or "" for raw in raw_cache)
            records = [*map(self._key, job_ids), *map(self._keys.quarantine, job_ids)]
            if not await self._forget_jobs(keys=[self._due, *records], args=job_ids):
                return False
            await self._delete_each(
                [
                    *(self._prefix + "cache:" + key for key in cache_keys),
                    self._user_key("history", user_id),
                    self._user_key("user", user_id),
                ]
            )
            seen = [f"j:{job_id}" for job_id in job_ids] + [f"c:{key}" for key in cache_keys]
            done, *late = await self._forget_user(keys=[owned_jobs, owned_cache], args=seen)
            await self._delete_each([self._prefix + "cache:" + (_text(k) or "") for k in late])
        return bool(done)

    async def _delete_each(self, keys: list[str]) -> None:
        """One DEL per key: on a cluster they are in different slots."""
        if not keys:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.delete(key)
            await pipe.execute()

    async def user_get(self, user_id: int) -> str | None:
        async with _available():
            value = await self._redis.get(f"{self._prefix}user:{user_id}")
        return _text(value)

    async def user_put(self, user_id: int, value: str) -> None:
        async with _available():
            await self._redis.set(f"{self._prefix}user:{user_id}", value)

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
        keys = [self._keys.user("slots", user_id), self._daily_key(user_id, day)]
        daily = "" if daily_quota is None else daily_quota
        args: list[str | int] = [job_id, max_concurrent, daily, int(slot_ttl * 1000), pictures]
        async with _available():
            verdict = await self._admit(keys=keys, args=args)
        return _text(verdict)

    async def count_day(self, user_id: int, *, day: int, daily_quota: int) -> bool:
        async with _available():
            counted = await self._count_day(
                keys=[self._daily_key(user_id, day)], args=[daily_quota]
            )
        return bool(counted)

    async def day_count(self, user_id: int, *, day: int) -> int:
        async with _available():
            used = await self._redis.get(self._daily_key(user_id, day))
        return int(used or 0)

    def _daily_key(self, user_id: int, day: int) -> str:
        return self._keys.user(f"daily:{day}", user_id)

    async def uncount_day(self, user_id: int, *, day: int, pictures: int) -> None:
        async with _available():
            await self._uncount_day(keys=[self._daily_key(user_id, day)], args=[pictures])

    async def release_slot(self, user_id: int, job_id: str) -> None:
        async with _available():
            await self._redis.zrem(self._keys.user("slots", user_id), job_id)

    async def record(self, day: int, event: str, lag: float | None = None) -> None:
        counts, lags = self._keys.stats("stats", day), self._keys.stats("lags", day)
        async with _available(), self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(counts, event, 1)
            pipe.expire(counts, STATS_TTL)
            if lag is not None:
                pipe.lpush(lags, lag)
                pipe.ltrim(lags, 0, LAG_SAMPLES - 1)
                pipe.expire(lags, STATS_TTL)
            await pipe.execute()

    async def daily_stats(self, day: int) -> DailyStats:
        async with _available():
            counts = await self._redis.hgetall(self._keys.stats("stats", day))
            lags = await self._redis.lrange(self._keys.stats("lags", day), 0, -1)
        return DailyStats(
            {_text(k) or "": int(v) for k, v in counts.items()}, [float(x) for x in lags]
        )

    async def durations_add(self, key: str, duration: float, keep: int) -> None:
        name = f"{self._prefix}durations:{key}"
        async with _available(), self._redis.pipeline(transaction=True) as pipe:
            pipe.lpush(name, duration)
            pipe.ltrim(name, 0, keep - 1)
            await pipe.execute()

    async def durations_get(self, key: str) -> list[float]:
        async with _available():
            values = await self._redis.lrange(f"{self._prefix}durations:{key}", 0, -1)
        return [float(v) for v in values]

    def _model_keys(self, model: str) -> tuple[str, str]:
        """Both in the model's hash slot: `down` lives for the cool-off, `told` until the
        model answers again (the admins' claim)."""
        base = f"{self._prefix}model:{{{model}}}"
        return f"{base}:down", f"{base}:told"

    async def model_set_aside(self, model: str, now: float, seconds: float) -> bool:
        down, told = self._model_keys(model)
        async with _available(), self._redis.pipeline(transaction=True) as pipe:
            pipe.set(down, repr(now + seconds), px=max(1, int(seconds * 1000)))
            pipe.set(told, "1", nx=True, ex=MODEL_TOLD_TTL)
            _, first = await pipe.execute()
        return bool(first)

    async def models_set_aside(self, models: Iterable[str], now: float) -> dict[str, bool]:
        names = list(models)
        async with _available(), self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.mget(*self._model_keys(name))
            answers = await pipe.execute()
        aside = {}
        for name, (down, told) in zip(names, answers, strict=True):
            if told is not None or down is not None:
                aside[name] = down is not None and float(down) > now
        return aside

    async def model_answered(self, model: str) -> None:
        async with _available():
            await self._redis.delete(*self._model_keys(model))

    async def renew(self, job_ids: Iterable[str], now: float) -> None:
        ids = list(job_ids)
        if not ids:
            return
        async with _available():
            await self._renew(
                keys=[self._due, *map(self._key, ids)],
                args=[self.instance, now + self.lease_seconds, *ids],
            )

    async def next_due_at(self) -> float | None:
        async with _available():
            first = await self._redis.zrange(self._due, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    async def active_among(self, job_ids: Collection[str]) -> set[str]:
        ids = list(job_ids)
        if not ids:
            return set()
        async with _available():
            scores = await self._redis.zmscore(self._due, ids)
        return {job_id for job_id, score in zip(ids, scores, strict=True) if score is not None}

    async def active_count(self) -> int:
        async with _available():
            return int(await self._redis.zcard(self._due))

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except _ERRORS:
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _dump(job: Job) -> str:
    return json.dumps(job_to_dict(job), separators=(",", ":"))


def _load(data: bytes | str, cancelled: bool, status: bytes | str | None) -> Job:
    """A job with the fields other callers may have set beside its data: a cancel request
    and the status message id."""
    job = job_from_dict(json.loads(data))
    if cancelled:
        job = job.but(cancel_requested=True)
    if job.status_message_id is None and status:
        job = job.but(status_message_id=int(status))
    return job


@asynccontextmanager
async def _available() -> AsyncIterator[None]:
    """Turn a lost Redis connection into `StoreUnavailable`, which callers retry."""
    try:
        yield
    except _ERRORS as exc:
        raise StoreUnavailable(type(exc).__name__) from None
