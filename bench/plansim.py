"""The hazard planner alone on `bench.lag`'s scenarios, in simulated time: no processes, no
timers, no HTTP, so a change to the planning can be tried in seconds before the real
`bench.lag` (minutes, and noisy on a shared machine). Each scenario is bench.lag's (same
seed, arrivals, submit budget and sampled durations); a due job reaches the planner
`--claim` model seconds late (the tracker's claim loop), polls go through a token bucket
of POLL_RATE_LIMIT × POLL_MARGIN a second with no burst, as the bot's, and each takes
`--latency` (half to reach Yandex, half back). The quota bound is bench.bound's, as in
bench.lag (about a minute a scenario; `--bound 0.94` skips it). Also measured: the
planner's own cost with 10 000 pending jobs (bench.scale's load), per job planned and per
window in which the quota is shared out again (target: under 5 ms, so that it never
stalls the event loop).

    .venv/bin/python -m bench.plansim [--only burst] [--seed 1] [--claim 0.04] [--latency 0.04]
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import random
import statistics
import time
from dataclasses import dataclass
from typing import cast

from bench.bound import quota_bound
from bench.common import default, percentile, sliding_max, table
from bench.lag import SUBMIT_BURST, TARGET_RATIO, Scenario, plan, scenarios_named
from bench.shapes import SHAPES, submitted
from bot.core.hazard import FinishModel, HazardPolicy, Prior
from bot.core.jobs import Job
from bot.ops.app import POLL_MARGIN
from bot.services.durations import DurationModel
from bot.services.planner import HazardPlanner
from bot.storage.memory import MemoryJobStore

KEY = "model|1:1"
WINDOW_JOBS = 10_000  # pending jobs for the planning cost (bench.scale's)
WINDOW_TARGET_MS = 5.0


@dataclass
class SimJob:
    """The fields of a job the planner reads."""

    id: str
    submitted_at: float
    deadline_at: float
    next_poll_at: float = 0.0


def as_job(job: SimJob) -> Job:
    return cast(Job, job)


def new_planner() -> HazardPlanner:
    prior = Prior(median=default("poll_prior_median"))
    policy = HazardPolicy(
        min_gap=default("poll_min_gap"),
        max_gap=default("poll_max_interval"),
        rate=default("poll_rate_limit") * POLL_MARGIN,
    )
    durations = DurationModel(
        MemoryJobStore(), lambda past: FinishModel(prior, past), replan_every=1
    )
    return HazardPlanner(policy, durations, prior)


@dataclass
class Outcome:
    lags: list[float]
    polls: list[float]  # when each measured poll reached Yandex
    polls_per_job: float


async def simulate(
    scenario: Scenario, seed: int, latency: float, claim: float
) -> tuple[Outcome, list[float]]:
    """bench.lag's scenario through the planner and a token bucket, in simulated time; the
    outcome and the measured jobs' submit times (for the bound)."""
    shape = SHAPES[scenario.shape]
    rng = random.Random(seed)
    arrivals, warmup = plan(scenario, shape, rng)
    durations = [shape.sample(rng) for _ in arrivals]
    submits = submitted(arrivals, default("submit_rate_per_minute") / 60, SUBMIT_BURST)
    deadline = default("generation_deadline")
    gap = 1.0 / (default("poll_rate_limit") * POLL_MARGIN)
    planner = new_planner()
    jobs = [SimJob(str(i), at, at + deadline) for i, at in enumerate(submits)]
    events = [(at, i) for i, at in enumerate(submits)]  # (due, job): first the submit
    heapq.heapify(events)
    submitted_yet = [False] * len(jobs)
    free_at = -1.0  # the token bucket: when the next token is free
    lags: list[float] = []
    poll_times: list[float] = []
    counts = [0] * len(jobs)
    while events:
        now, i = heapq.heappop(events)
        job = jobs[i]
        if not submitted_yet[i]:
            submitted_yet[i] = True
            job.next_poll_at = await planner.next_poll_at(KEY, as_job(job), now)
            heapq.heappush(events, (job.next_poll_at, i))
            continue
        now += claim  # the tracker's claim loop and step
        later = await planner.recheck(KEY, as_job(job), now)
        if later is not None:
            job.next_poll_at = later
            heapq.heappush(events, (later, i))
            continue
        sent = max(now, free_at)
        free_at = sent + gap
        seen = sent + latency / 2
        counts[i] += 1
        finished = job.submitted_at + durations[i]
        if i >= warmup:
            poll_times.append(seen)
        if finished <= seen:
            if i >= warmup:
                lags.append(seen - finished)
            await planner.observe(KEY, job.id, durations[i])
            continue
        job.next_poll_at = await planner.next_poll_at(KEY, as_job(job), sent + latency)
        heapq.heappush(events, (job.next_poll_at, i))
    measured = counts[warmup:]
    outcome = Outcome(lags, poll_times, statistics.fmean(measured))
    return outcome, [at - submits[warmup] for at in submits[warmup:]]


async def planning_cost(seed: int) -> tuple[float, float, float]:
    """With 10 000 pending jobs submitted over the last 20 s and a model of 512 durations:
    the median time to plan one job (ms), and the median and worst time of a call that
    shares out a new window (ms)."""
    rng = random.Random(seed)
    planner = new_planner()
    shape = SHAPES["lognormal"]
    for n in range(512):
        await planner.observe(KEY, f"past{n}", shape.sample(rng))
    now = 1000.0
    deadline = default("generation_deadline")
    jobs = [
        SimJob(str(n), now - 20 + 20 * n / WINDOW_JOBS, now - 20 + deadline)
        for n in range(WINDOW_JOBS)
    ]
    for job in jobs:
        await planner.next_poll_at(KEY, as_job(job), job.submitted_at)
    singles, windows = [], []
    step = default("poll_min_gap")
    for window in range(10):
        t = now + window * step
        began = time.perf_counter()
        await planner.recheck(KEY, as_job(jobs[window]), t)
        windows.append(time.perf_counter() - began)
        for job in rng.sample(jobs, 50):
            began = time.perf_counter()
            await planner.recheck(KEY, as_job(job), t + 0.01)
            singles.append(time.perf_counter() - began)
    ms = 1000
    return statistics.median(singles) * ms, statistics.median(windows) * ms, max(windows) * ms


async def run(
    scenarios: list[Scenario], seed: int, latency: float, claim: float, bound: float | None
) -> None:
    rows = []
    cap = default("poll_rate_limit")
    met = 0
    for scenario in scenarios:
        outcome, submits = await simulate(scenario, seed, latency, claim)
        if bound is None:
            shape = SHAPES[scenario.shape]
            lag_bound = quota_bound(
                submits, shape.cdf, shape.longest, rate=cap, min_gap=default("poll_min_gap")
            ).lag
        else:
            lag_bound = bound
        p95 = percentile(outcome.lags, 95)
        # The bucket spaces polls exactly 1/rate apart: a window a hair under a second keeps
        # the float sum of 50 spacings from counting 51.
        busiest = sliding_max(outcome.polls, 1.0 - 1e-9)
        ok = p95 <= TARGET_RATIO * lag_bound and busiest <= cap
        met += ok
        rows.append(
            [
                scenario.name,
                percentile(outcome.lags, 50),
                p95,
                max(outcome.lags),
                outcome.polls_per_job,
                busiest,
                lag_bound,
                p95 / lag_bound,
                "MET" if ok else "NOT MET",
            ]
        )
    headers = [
        "scenario",
        "lag p50 s",
        "lag p95 s",
        "lag max s",
        "polls/op",
        "polls/s max",
        "bound p95 s",
        "p95 ÷ bound",
        "target",
    ]
    print(table(headers, rows))
    print(
        f"simulated: {met} of {len(scenarios)} within {TARGET_RATIO}× the quota bound with"
        f" polls ≤ {cap:g}/s: {'MET' if met == len(scenarios) else 'NOT MET'}"
    )
    single, window, worst = await planning_cost(seed)
    print(
        f"planning with {WINDOW_JOBS} pending: {single:.3f} ms a job; sharing the quota out"
        f" {window:.2f} ms a window (median), {worst:.2f} ms (worst); target median under"
        f" {WINDOW_TARGET_MS:g} ms: {'MET' if window < WINDOW_TARGET_MS else 'NOT MET'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.04, help="a poll's round trip, s")
    parser.add_argument(
        "--claim", type=float, default=0.04, help="from a job's due time to its step, s"
    )
    parser.add_argument(
        "--bound", type=float, default=None, help="use this bound instead of computing it"
    )
    parser.add_argument("--only", nargs="*", default=["burst"])
    args = parser.parse_args()
    asyncio.run(run(scenarios_named(args.only), args.seed, args.latency, args.claim, args.bound))


if __name__ == "__main__":
    main()
