"""Where jobs live between polls: the `JobStore` interface and its in-memory implementation.

The tracker claims due jobs, works on them, and saves them back; a claimed job is invisible
to other claims until it is saved, released or its lease runs out, which is what lets a
shared (Redis) store split the work between several bot instances.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from bot.core.jobs import Job


class LeaseLost(Exception):
    """Another instance took this job over (our lease expired); our result is not saved."""


@dataclass(frozen=True)
class DailyStats:
    counts: dict[str, int]
    lags: list[float]  # the latest delivery lags of the day, seconds


LAG_SAMPLES = 1000
# Entries of one user's history kept at most (more than /history shows, fewer than a flood).
HISTORY_KEEP = 100


class JobStore(ABC):
    lease_seconds: float

    @abstractmethod
    async def add(self, job: Job) -> bool:
        """Store a new active job, due at its `next_poll_at`; False, storing nothing, when
        the store already knows its id (the same request delivered again)."""

    @abstractmethod
    async def get(self, job_id: str) -> Job | None: ...

    @abstractmethod
    async def claim_due(self, now: float, limit: int) -> list[Job]:
        """Take up to `limit` active jobs due by `now`, earliest first.

        A claim is a lease of `lease_seconds`: unless saved, released or renewed by then,
        the job is due again, so the work of an instance that died is picked up."""

    @abstractmethod
    async def save(self, job: Job) -> int | None:
        """Write back a claimed job: active ones are due again at `next_poll_at`,
        finished ones leave the schedule. Returns the id of a status message recorded
        meanwhile (by `attach_status` while the job was claimed) that `job` does not carry,
        so that whoever ends the job can clean it up."""

    @abstractmethod
    async def release(self, job: Job) -> None:
        """Hand back a claimed job unchanged, e.g. on shutdown."""

    @abstractmethod
    async def attach_status(self, job_id: str, message_id: int, now: float) -> bool:
        """Record the job's status message, even while another step holds the job, and
        make the job due by `now`; False when the job is no longer active (it ended
        before its status message came)."""

    @abstractmethod
    async def request_cancel(self, job_id: str) -> Job | None:
        """Flag an active job for cancelling and make it due at once (the tracker does the
        cancelling, as it may hold the job right now); None if the job is not active."""

    @abstractmethod
    async def keep_picture(self, job_id: str, index: int, image: bytes, ttl: float) -> bool:
        """Keep a drawn picture until it is delivered (a delivery put off for later), so it
        is never drawn again; False, keeping nothing, when over the store's size cap."""

    @abstractmethod
    async def kept_picture(self, job_id: str, index: int) -> bytes | None: ...

    @abstractmethod
    async def drop_pictures(self, job_id: str, indexes: Iterable[int]) -> None:
        """Forget a job's kept pictures (it ended)."""

    @abstractmethod
    async def cache_get(self, key: str) -> str | None:
        """A small remembered value (e.g. a Telegram file_id for a request), if not expired."""

    @abstractmethod
    async def cache_put(self, key: str, value: str, ttl: float, owner: int | None = None) -> None:
        """Remember a value; with `owner`, the key is also listed under that user, so that
        `forget_user` can find it (keys are hashes of requests)."""

    @abstractmethod
    async def history_add(
        self, user_id: int, entry_id: str, value: str, at: float, keep: float
    ) -> None:
        """Add an entry to the user's history; entries older than `keep` seconds go."""

    @abstractmethod
    async def history_get(self, user_id: int, since: float, limit: int) -> list[str]:
        """The user's latest entries made after `since`, newest first."""

    @abstractmethod
    async def forget_user(self, user_id: int) -> bool:
        """Delete everything kept about the user, atomically: history, preferences, finished
        jobs (prompts included) and the cache entries of their requests. False, deleting
        nothing, while one of the user's jobs is still active."""

    @abstractmethod
    async def user_get(self, user_id: int) -> str | None:
        """A user's saved preferences (JSON), kept until changed."""

    @abstractmethod
    async def user_put(self, user_id: int, value: str) -> None: ...

    @abstractmethod
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
        """Take the generation slot `job_id` for the user and count its `pictures` for the
        day, atomically: None when admitted, else why not: "busy" (the slot is held already,
        nothing counted), "concurrent", "daily", or "pictures:<remaining>" when fewer
        pictures than asked remain today. With `daily_quota` None the day is neither
        checked nor counted (a re-fetch costs nothing). Slots expire after `slot_ttl` as a
        safety net."""

    @abstractmethod
    async def release_slot(self, user_id: int, job_id: str) -> None: ...

    @abstractmethod
    async def count_day(self, user_id: int, *, day: int, daily_quota: int) -> bool:
        """Count one more generation of the day, atomically; False, counting nothing,
        when the quota is spent."""

    @abstractmethod
    async def uncount_day(self, user_id: int, *, day: int, pictures: int) -> None:
        """Give back pictures counted for the day that were never drawn (a voice that was
        not heard); the count never goes below zero."""

    @abstractmethod
    async def day_count(self, user_id: int, *, day: int) -> int:
        """The generations counted for the user on `day` (/balance: the free ones left)."""

    @abstractmethod
    async def record(self, day: int, event: str, lag: float | None = None) -> None:
        """Count an event of the day (shared by all instances), with a delivery lag."""

    @abstractmethod
    async def daily_stats(self, day: int) -> DailyStats: ...

    @abstractmethod
    async def durations_add(self, key: str, duration: float, keep: int) -> None:
        """Remember an observed generation time; only the latest `keep` are kept."""

    @abstractmethod
    async def durations_get(self, key: str) -> list[float]: ...

    @abstractmethod
    async def model_set_aside(self, model: str, now: float, seconds: float) -> bool:
        """Mark an image model unavailable for `seconds` from `now`, for every instance;
        True for the first to do so since the model last answered (it tells the admins)."""

    @abstractmethod
    async def models_set_aside(self, models: Iterable[str], now: float) -> dict[str, bool]:
        """The models set aside and not answering again since: True while their cool-off
        runs (do not call them), False once it is over (try them again)."""

    @abstractmethod
    async def model_answered(self, model: str) -> None:
        """The model drew again: it is no longer set aside."""

    @abstractmethod
    async def renew(self, job_ids: Iterable[str], now: float) -> None:
        """Keep the claims on jobs still being worked on."""

    @abstractmethod
    async def next_due_at(self) -> float | None:
        """When the earliest unclaimed active job is due; None when there is none."""

    @abstractmethod
    async def active_count(self) -> int: ...

    @abstractmethod
    async def active_among(self, job_ids: Collection[str]) -> set[str]:
        """Those of `job_ids` that are still active, whichever instance works on them."""

    @abstractmethod
    async def ping(self) -> bool:
        """Whether the store is reachable, for health checks."""

    @abstractmethod
    async def close(self) -> None:
        """Free connections."""
