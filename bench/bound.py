"""The least polls any poll schedule needs for a given p95 delivery lag, on the benchmarks'
generation times (log-normal, median 20 s, sigma 0.75, capped at 5 minutes): the yardstick
for `bench.lag`. No bot runs here; it is arithmetic on the distribution.

A schedule is a list of poll times after submit, t1 < t2 < ... (on a `--step` grid). A job
that finishes at T is seen by the first poll at or after T, so it costs one poll for each
poll time before that one, and

    polls per job = sum over i of P(T > t(i-1))                   (t0 = 0: the first poll)
    P(lag > L)    = sum over i of P(t(i-1) < T < t(i) - L)

and p95 lag <= L means P(lag > L) <= 5 %. Minimising the polls under that constraint is a
shortest path over the grid once the constraint is priced in with a multiplier `price`
(Lagrange): for every price, (least polls + price * misses) - price * 5 % is a lower bound
on the polls of every schedule whose p95 lag is at most L, and the path found is a
schedule that reaches it. `bound` searches the price for the best bound.

    .venv/bin/python -m bench.bound [--step 0.1] [--lags 1.0 1.4 1.5 1.6 1.7 2.0]
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from statistics import NormalDist

from bench.common import CAP_SECONDS, MEDIAN_SECONDS, SIGMA, table

MISS_SHARE = 0.05  # p95
# No gap in the search is longer than this (the bot's own gaps stop at 30 s).
LONGEST_GAP = 30.0


def finished_by(t: float) -> float:
    """P(T <= t) for the benchmarks' generation times."""
    if t >= CAP_SECONDS:
        return 1.0
    if t <= 0:
        return 0.0
    return NormalDist().cdf((math.log(t) - math.log(MEDIAN_SECONDS)) / SIGMA)


@dataclass(frozen=True)
class Schedule:
    polls: float  # per job
    misses: float  # share of jobs with lag > L
    times: list[float]


def cheapest(lag: float, price: float, grid: list[float], done: list[float]) -> Schedule:
    """The schedule minimising polls + price * misses (dynamic programming, last poll first)."""
    n, step = len(grid), grid[1]
    lag_steps, max_steps = round(lag / step), round(LONGEST_GAP / step)
    value, nxt = [0.0] * n, [n - 1] * n
    for i in range(n - 2, -1, -1):
        pending, done_i = 1.0 - done[i], done[i]
        best, best_j = math.inf, n - 1
        for j in range(i + 1, min(n, i + max_steps + 1)):
            missed = done[j - lag_steps] - done_i if j - lag_steps > i else 0.0
            cost = pending + price * missed + value[j]
            if cost < best:
                best, best_j = cost, j
        value[i], nxt[i] = best, best_j
    times, i = [], 0
    while i < n - 1:
        i = nxt[i]
        times.append(grid[i])
    polls = misses = 0.0
    previous = 0
    for t in times:
        j = round(t / step)
        polls += 1.0 - done[previous]
        if j - lag_steps > previous:
            misses += done[j - lag_steps] - done[previous]
        previous = j
    return Schedule(polls, misses, times)


@dataclass(frozen=True)
class Bound:
    lower: float  # no schedule with p95 lag <= L polls less per job
    best: Schedule  # a schedule found with p95 lag <= L


def bound(lag: float, step: float, rounds: int = 24) -> Bound:
    grid = [k * step for k in range(round(CAP_SECONDS / step) + 1)]
    done = [finished_by(t) for t in grid]
    low, high = 0.0, 4096.0
    lower, best = 0.0, cheapest(lag, high, grid, done)
    for _ in range(rounds):
        price = (low + high) / 2
        path = cheapest(lag, price, grid, done)
        lower = max(lower, path.polls + price * (path.misses - MISS_SHARE))
        if path.misses > MISS_SHARE:
            low = price
        else:
            high, best = price, path
    return Bound(lower, best)


def fixed_poller_polls(interval: float) -> float:
    """Polls per job of a poller asking every `interval` seconds from submit."""
    return sum(1.0 - finished_by(k * interval) for k in range(int(CAP_SECONDS / interval) + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--step", type=float, default=0.1, help="grid of poll times, seconds")
    parser.add_argument("--lags", type=float, nargs="+", default=[1.0, 1.4, 1.5, 1.6, 1.7, 2.0])
    args = parser.parse_args()
    one_second = fixed_poller_polls(1.0)
    print(
        f"generation times: log-normal, median {MEDIAN_SECONDS:.0f} s, sigma {SIGMA}, capped at"
        f" {CAP_SECONDS:.0f} s; grid {args.step} s; a 1 s poller: {one_second:.2f} polls/job"
    )
    rows = []
    for lag in args.lags:
        result = bound(lag, args.step)
        first = result.best.times[0]
        rows.append(
            [
                lag,
                result.lower,
                result.lower / one_second,
                result.best.polls,
                result.best.misses,
                first,
            ]
        )
    headers = [
        "p95 lag ≤ s",
        "least polls/job",
        "÷ 1 s poller",
        "schedule found: polls/job",
        "its P(lag > L)",
        "its first poll, s",
    ]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
