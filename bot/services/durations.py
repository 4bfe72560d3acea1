"""How long generations take, learned from the ones the bot has seen, per model and ratio.

A small sketch per key: the latest `SAMPLES` durations, kept in the store (so all instances
and restarts share them) and mirrored here, reloaded at most every `refresh` seconds. The
learned schedule's poll window is planned from them again after every `REPLAN_EVERY` new
durations, not on each one: planning replays the sample several dozen times. The hazard
policy's finish model is cheap to build and is rebuilt on every new duration, so a cold
start learns from its first finishes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from bot.core.errors import StoreUnavailable
from bot.storage.base import JobStore

log = logging.getLogger(__name__)

SAMPLES = 512
REPLAN_EVERY = 32

# What is planned on the durations: the learned schedule's window, or a finish model.
P = TypeVar("P")


class DurationModel(Generic[P]):
    def __init__(
        self,
        store: JobStore,
        plan: Callable[[Sequence[float]], P],
        *,
        refresh: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        replan_every: int = REPLAN_EVERY,
    ) -> None:
        self._store = store
        self._plan = plan
        self._refresh = refresh
        self._clock = clock
        self._replan_every = replan_every
        self._samples: dict[str, list[float]] = {}
        self._windows: dict[str, P | None] = {}
        self._unplanned: dict[str, int] = {}
        self._loaded_at: dict[str, float] = {}

    async def window(self, key: str) -> P | None:
        """The plan on the durations of this key (the learned schedule's: None until enough
        are known)."""
        if self._clock() - self._loaded_at.get(key, -self._refresh) >= self._refresh:
            try:
                self._samples[key] = await self._store.durations_get(key)
            except StoreUnavailable:
                log.debug("durations unavailable, keeping what is known")
            self._loaded_at[key] = self._clock()
            self._replan(key)
        elif self._unplanned.get(key, 0) >= self._replan_every or (
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
