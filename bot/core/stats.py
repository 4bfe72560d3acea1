"""The figures admins see in /stats, and how a percentile is taken."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class StatsReport:
    pending: int
    delivered: int
    submitted: int
    failures: dict[str, int]
    lag_mean: float | None
    lag_p95: float | None


def p95(values: list[float]) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[-1]
