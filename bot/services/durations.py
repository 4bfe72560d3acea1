"""How long generations take, learned from the ones the bot has seen, per model and ratio.

A small sketch per key: the latest `SAMPLES` durations, kept in the store (so all instances
and restarts share them) and mirrored here, reloaded at most every `refresh` seconds. The
poll window is planned from them again after every `REPLAN_EVERY` new durations, not on
each one: planning replays the sample several dozen times.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from bot.core.errors import StoreUnavailable
from bot.core.schedule import PollWindow
from bot.storage.base import JobStore

log = logging.getLogger(__name__)

SAMPLES = 512
REPLAN_EVERY = 32

Plan = Callable[[Sequence[float]], PollWindow | None]


class DurationModel:
    def __init__(
        self,
        store: JobStore,
        plan: Plan,
        *,
        refresh: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._plan = plan
        self._refresh = refresh
        self._clock = clock
        self._samples: dict[str, list[float]] = {}
        self._windows: dict[str, PollWindow | None] = {}
        self._unplanned: dict[str, int] = {}
        self._loaded_at: dict[str, float] = {}

    async def window(self, key: str) -> PollWindow | None:
        """Where to poll jobs of this key densely; None until enough are known."""
        if self._clock() - self._loaded_at.get(key, -self._refresh) >= self._refresh:
            try:
                self._samples[key] = await self._store.durations_get(key)
            except StoreUnavailable:
                log.debug("durations unavailable, keeping what is known")
            self._loaded_at[key] = self._clock()
            self._replan(key)
        elif self._unplanned.get(key, 0) >= REPLAN_EVERY or (
            self._windows.get(key) is None and self._unplanned.get(key, 0)
        ):
            self._replan(key)
        return self._windows.get(key)

    async def observe(self, key: str, duration: float) -> None:
        samples = self._samples.setdefault(key, [])
        samples.append(duration)
        del samples[:-SAMPLES]
        self._unplanned[key] = self._unplanned.get(key, 0) + 1
        try:
            await self._store.durations_add(key, duration, SAMPLES)
        except StoreUnavailable:
            log.debug("duration not stored: store unavailable")

    def _replan(self, key: str) -> None:
        self._windows[key] = self._plan(self._samples.get(key, []))
        self._unplanned[key] = 0
