"""How long generations take, learned from the ones the bot has seen, per model and ratio.

A small sketch per key: the latest `SAMPLES` durations, kept in the store (so all instances
and restarts share them) and mirrored here, refreshed at most every `refresh` seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.schedule import Quantiles
from bot.store import JobStore, StoreUnavailable

log = logging.getLogger(__name__)

SAMPLES = 512
MIN_SAMPLES = 30
LOW_QUANTILE = 0.02
HIGH_QUANTILE = 0.97


def quantile(ordered: list[float], q: float) -> float:
    """Linear interpolation between closest ranks of an ordered sample."""
    position = q * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def summarize(samples: list[float]) -> Quantiles | None:
    if len(samples) < MIN_SAMPLES:
        return None
    ordered = sorted(samples)
    return Quantiles(quantile(ordered, LOW_QUANTILE), quantile(ordered, HIGH_QUANTILE))


class DurationModel:
    def __init__(
        self,
        store: JobStore,
        *,
        refresh: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._refresh = refresh
        self._clock = clock
        self._samples: dict[str, list[float]] = {}
        self._quantiles: dict[str, Quantiles | None] = {}
        self._loaded_at: dict[str, float] = {}

    async def quantiles(self, key: str) -> Quantiles | None:
        if self._clock() - self._loaded_at.get(key, -self._refresh) >= self._refresh:
            try:
                self._samples[key] = await self._store.durations_get(key)
            except StoreUnavailable:
                log.debug("durations unavailable, keeping what is known")
            self._loaded_at[key] = self._clock()
            self._quantiles[key] = summarize(self._samples.get(key, []))
        return self._quantiles.get(key)

    async def observe(self, key: str, duration: float) -> None:
        samples = self._samples.setdefault(key, [])
        samples.append(duration)
        del samples[:-SAMPLES]
        self._quantiles[key] = summarize(samples)
        try:
            await self._store.durations_add(key, duration, SAMPLES)
        except StoreUnavailable:
            log.debug("duration not stored: store unavailable")
