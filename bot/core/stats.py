"""The figures admins see in /stats, and how a percentile is taken."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelFigures:
    submitted: int = 0
    delivered: int = 0
    failed: int = 0


@dataclass(frozen=True)
class StatsReport:
    pending: int
    delivered: int
    submitted: int
    failures: dict[str, int]
    lag_mean: float | None
    lag_p95: float | None
    # Today's figures of each model that had any, by name.
    by_model: dict[str, ModelFigures] = field(default_factory=dict)
    # Models set aside after Yandex refused them, until they draw again.
    models_aside: tuple[str, ...] = ()


def figures_by_model(counts: dict[str, int]) -> dict[str, ModelFigures]:
    """Per-model counters (`model:<name>:<event>`) summed into each model's figures."""
    totals: dict[str, dict[str, int]] = {}
    for key, count in counts.items():
        prefix, _, rest = key.partition(":")
        name, _, event = rest.partition(":")
        if prefix != "model" or not event:
            continue
        figures = totals.setdefault(name, {"submitted": 0, "delivered": 0, "failed": 0})
        if event == "submitted":
            figures["submitted"] += count
        elif event == "delivered:sent":
            figures["delivered"] += count
        elif event.startswith("failed:"):
            figures["failed"] += count
    return {name: ModelFigures(**figures) for name, figures in sorted(totals.items())}


def p95(values: list[float]) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[-1]
