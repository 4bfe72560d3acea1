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

With `--quota`, the other question (`quota_bound`): the least p95 lag any policy can reach
when polls cost nothing but a quota (POLL_RATE_LIMIT a second, each job at most every
POLL_MIN_GAP), for bench.lag's burst on each of its shapes. It is the larger of two
bounds: the quota's (a relaxation on a quarter-second grid) and the least gap's alone
(`gap_bound`, exact to a hundredth of a second and never above the truth), which alone
says that no job polled at most every min_gap is seen within 95 % of min_gap at p95.

    .venv/bin/python -m bench.bound [--step 0.1] [--lags 1.0 1.4 1.5 1.6 1.7 2.0] [--quota]
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

from bench.common import CAP_SECONDS, MEDIAN_SECONDS, SIGMA, default, table

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
    parser.add_argument(
        "--quota", action="store_true", help="also the quota bounds of bench.lag's burst"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the burst's arrivals")
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
    if args.quota:
        print_quota_bounds(args.seed)


def print_quota_bounds(seed: int) -> None:
    """The quota bound for `bench.lag`'s burst (300 users within 10 s, through the submit
    budget) on each shape, at the default quota and at a fifth of it."""
    from bench.lag import BURST_USERS, BURST_WITHIN, SUBMIT_BURST
    from bench.shapes import SHAPES, burst_arrivals, submitted

    rng = random.Random(seed)
    submits = submitted(
        burst_arrivals(BURST_USERS, BURST_WITHIN, rng),
        default("submit_rate_per_minute") / 60,
        SUBMIT_BURST,
    )
    gap, cap = default("poll_min_gap"), default("poll_rate_limit")
    print(
        f"burst: {BURST_USERS} users within {BURST_WITHIN:g} s, submitted over"
        f" {submits[-1]:.0f} s (submit budget); least gap {gap:g} s"
    )
    rows = []
    for shape in SHAPES.values():
        for rate in (cap, cap / 5):
            result = quota_bound(submits, shape.cdf, shape.longest, rate=rate, min_gap=gap)
            rows.append([shape.name, rate, result.lag, result.quota, result.unconstrained])
    headers = [
        "generation times",
        "polls/s",
        "least p95 lag s",
        f"quota's bound ({STEP_Q} s grid)",
        f"least gap alone ({STEP_GAP} s grid)",
    ]
    print(table(headers, rows))


# ---- The quota-constrained case: the least p95 lag any poll policy can reach ----

STEP_Q = 0.25  # grid of the quota bound, seconds


STEP_GAP = 0.005  # grid of the least-gap bound, seconds


@dataclass(frozen=True)
class QuotaBound:
    lag: float  # no policy reaches a p95 lag below this: the larger of the two below
    quota: float  # the quota's bound, on STEP_Q's grid
    unconstrained: float  # the least gap's bound alone, no quota, on STEP_GAP's grid


def gap_bound(
    cdf: Callable[[float], float], longest: float, *, min_gap: float, step: float = STEP_GAP
) -> float:
    """The least p95 lag of any schedule whose polls are at least `min_gap` apart (the
    first `min_gap` after submit), however many polls it makes: with flat finish times
    near min_gap × 95 %, as a job polled every min_gap is seen within U(0, min_gap).

    On a grid of `step`, a schedule is counted as a relaxation of every continuous one:
    each poll at the grid point at or after it, with gaps one step shorter than min_gap
    and a reach (the finishes it sees within L) one step longer than L. So the grid can
    only make this bound lower than the truth, by at most two steps; the quota bound's
    coarser grid (STEP_Q) rounds both ways by up to a quarter second."""
    gap = max(1, math.floor(min_gap / step) - 1)

    def on_time(lag: float) -> float:
        """The largest P(seen within `lag` of its finish) of any such schedule (dynamic
        programming from the last poll; a gap longer than two least gaps plus the reach
        is never better, since a poll could be put in it)."""
        reach = math.ceil(lag / step) + 1
        n = math.ceil(longest / step) + 2 * gap + reach + 1
        done = [cdf(k * step) for k in range(n + 1)]
        best = [0.0] * (n + 1)
        for j in range(n - 1, -1, -1):
            value = 0.0
            for k in range(j + gap, min(n, j + 2 * gap + reach) + 1):
                seen = done[k] - done[max(j, k - reach)] + best[k]
                if seen > value:
                    value = seen
            best[j] = value
        return best[0]

    low, high = 0.0, 2 * min_gap
    for _ in range(12):
        middle = (low + high) / 2
        if on_time(middle) < 1 - MISS_SHARE:
            low = middle
        else:
            high = middle
    return low


def _job_plan(
    lag: float, done: list[float], prices: list[float], gap: int, longest: int
) -> tuple[float, list[tuple[int, float]]]:
    """For one job, with `prices[k]` the price of a poll k grid steps after its submit:
    the polls maximising P(seen within `lag` of its finish) − their expected price, as
    (step, probability the poll is made), and that value."""
    n = len(done)
    lag_steps = round(lag / STEP_Q)
    value, nxt = [0.0] * n, [-1] * n
    for j in range(n - 1, -1, -1):
        pending = 1.0 - done[j]
        if pending <= 1e-12:
            continue
        best, best_k = 0.0, -1  # 0: poll no more
        for k in range(j + gap, min(n, j + longest + 1)):
            gain = done[k] - done[max(j, k - lag_steps)] - prices[k] * pending + value[k]
            if gain > best:
                best, best_k = gain, k
        value[j], nxt[j] = best, best_k
    polls, j = [], 0
    while nxt[j] >= 0:
        polls.append((nxt[j], 1.0 - done[j]))
        j = nxt[j]
    return value[0], polls


def quota_bound(
    submits: list[float],
    cdf: Callable[[float], float],
    longest: float,
    *,
    rate: float,
    min_gap: float,
    max_gap: float = LONGEST_GAP,
    rounds: int = 30,
) -> QuotaBound:
    """Lagrangian relaxation of the quota per moment: for any prices per grid slot,
    sum over jobs of max(P(on time) − the price of its polls) + prices × quota is at least
    the expected number of jobs any policy (at most `rate` polls a second, no job polled
    twice within `min_gap`) sees within L of their finish. Where that falls below 95 % of
    the jobs for some prices, no policy reaches p95 ≤ L. Prices are searched by
    subgradient steps, L by bisection. Polls are on a 0.25 s grid, so the bound is good
    to about that."""
    step = STEP_Q
    groups: dict[int, int] = {}
    for s in submits:
        groups[round(s / step)] = groups.get(round(s / step), 0) + 1
    gap, longest_gap = max(1, round(min_gap / step)), round(max_gap / step)
    jobs, capacity = len(submits), rate * step

    def infeasible(lag: float, constrained: bool) -> bool:
        n = round((longest + lag) / step) + 2
        done = [cdf(k * step) for k in range(n)]
        prices = [0.0] * (max(groups) + n + 1)
        for r in range(rounds):
            total, usage = 0.0, [0.0] * len(prices)
            plans: dict[tuple[float, ...], tuple[float, list[tuple[int, float]]]] = {}
            for start, count in groups.items():
                window = prices[start : start + n]
                key = tuple(window)
                if key not in plans:
                    plans[key] = _job_plan(lag, done, window, gap, longest_gap)
                value, polls = plans[key]
                total += count * value
                for k, made in polls:
                    usage[start + k] += count * made
            if total + capacity * sum(prices) < (1 - MISS_SHARE) * jobs:
                return True
            over = [u - capacity for u in usage]
            if not constrained or max(over) <= 1e-9:
                return False  # these plans keep the quota: nothing better is possible
            size = 1.0 / (1 + r) ** 0.5
            prices = [max(0.0, p + size * o / jobs) for p, o in zip(prices, over, strict=True)]
        return False

    def least(constrained: bool) -> float:
        low, high = 0.0, max_gap
        for _ in range(9):
            middle = (low + high) / 2
            if infeasible(middle, constrained):
                low = middle
            else:
                high = middle
        return low

    quota = least(True)
    alone = gap_bound(cdf, longest, min_gap=min_gap)
    return QuotaBound(max(quota, alone), quota, alone)


if __name__ == "__main__":
    main()
