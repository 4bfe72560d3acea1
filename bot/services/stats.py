"""Today's figures for admins' /stats, from the shared counters in the store."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

from bot.core.limits import day_of
from bot.core.stats import StatsReport, figures_by_model, p95
from bot.storage.base import JobStore


class StatsService:
    def __init__(
        self,
        store: JobStore,
        *,
        models: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._models = models
        self._clock = clock

    async def today(self) -> StatsReport:
        daily = await self._store.daily_stats(day_of(self._clock()))
        failures = {
            event.removeprefix("failed:"): count
            for event, count in sorted(daily.counts.items())
            if event.startswith("failed:")
        }
        return StatsReport(
            pending=await self._store.active_count(),
            delivered=daily.counts.get("delivered:sent", 0),
            submitted=daily.counts.get("submitted", 0),
            failures=failures,
            lag_mean=statistics.fmean(daily.lags) if daily.lags else None,
            lag_p95=p95(daily.lags),
            by_model=figures_by_model(daily.counts),
            models_aside=tuple(await self._store.models_set_aside(self._models, self._clock())),
        )
