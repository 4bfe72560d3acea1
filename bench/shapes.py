"""Generation-time shapes and arrival processes for `bench.lag` and `bench.bound`: each
shape can be sampled (for the fakes) and has a distribution function (for the bound)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist


@dataclass(frozen=True)
class Shape:
    name: str
    sample: Callable[[random.Random], float]
    cdf: Callable[[float], float]
    longest: float  # no duration is longer (the bound's horizon)


def _lognormal(median: float, sigma: float, cap: float) -> Shape:
    dist = NormalDist(math.log(median), sigma)
    return Shape(
        f"log-normal (median {median:g} s, σ {sigma:g})",
        lambda rng: min(cap, rng.lognormvariate(math.log(median), sigma)),
        lambda t: 1.0 if t >= cap else 0.0 if t <= 0 else dist.cdf(math.log(t)),
        cap,
    )


def _uniform(low: float, high: float) -> Shape:
    return Shape(
        f"uniform {low:g}–{high:g} s",
        lambda rng: rng.uniform(low, high),
        lambda t: min(1.0, max(0.0, (t - low) / (high - low))),
        high,
    )


def _bimodal() -> Shape:
    fast, slow = NormalDist(4.0, 0.5), NormalDist(12.0, 1.0)
    floor, cap = 1.0, 18.0

    def sample(rng: random.Random) -> float:
        mode = fast if rng.random() < 0.5 else slow
        return min(cap, max(floor, rng.gauss(mode.mean, mode.stdev)))

    def cdf(t: float) -> float:
        if t < floor:
            return 0.0
        return 1.0 if t >= cap else (fast.cdf(t) + slow.cdf(t)) / 2

    return Shape("bimodal (half ~4 s, half ~12 s)", sample, cdf, cap)


# Generation times of 3–15 s, as the issue measured them, in three shapes.
SHAPES = {
    "lognormal": _lognormal(7.0, 0.4, 30.0),
    "uniform": _uniform(3.0, 15.0),
    "bimodal": _bimodal(),
}


def burst_arrivals(n: int, within: float, rng: random.Random) -> list[float]:
    """`n` users, each sending one request at a random moment within `within` seconds."""
    return sorted(rng.uniform(0, within) for _ in range(n))


def steady_arrivals(n: int, rate: float, rng: random.Random) -> list[float]:
    """Poisson arrivals at `rate` a second."""
    at, times = 0.0, []
    for _ in range(n):
        at += rng.expovariate(rate)
        times.append(at)
    return times


def submitted(arrivals: list[float], per_second: float, burst: int) -> list[float]:
    """When the requests reach Yandex through the submit budget (a token bucket)."""
    tokens, last, times = float(burst), 0.0, []
    for arrival in sorted(arrivals):
        at = max(arrival, last)  # in line behind the ones waiting for a token
        tokens = min(float(burst), tokens + (at - last) * per_second)
        last = at
        if tokens < 1:
            wait = (1 - tokens) / per_second
            at, last, tokens = at + wait, at + wait, 1.0
        tokens -= 1
        times.append(at)
    return times
