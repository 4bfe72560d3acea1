"""The hazard poll policy: the finish model, when a job is polled next, how the quota is
shared out, and the planner that re-plans pending jobs as the model and the load change."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from typing import Any, cast

from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from bot.core.hazard import FinishModel, HazardPolicy, Prior
from bot.core.jobs import Job
from bot.emulators.telegram import FakeTelegram
from bot.emulators.yandexart import FakeYandex
from bot.services.durations import DurationModel
from bot.services.planner import HazardPlanner
from bot.storage.memory import MemoryJobStore
from bot.storage.redis_store import RedisJobStore
from tests.bot_process import FOLDER

durations = st.lists(st.floats(0.01, 600), max_size=60)
times = st.floats(0, 900)
POLICY = HazardPolicy(min_gap=1.0, max_gap=30.0, rate=50.0)


@given(durations, times, times)
def test_the_finish_model_is_a_distribution(past: list[float], a: float, b: float) -> None:
    model = FinishModel(Prior(), past)
    low, high = sorted((a, b))
    assert 0.0 <= model.done_by(low) <= model.done_by(high) <= 1.0
    assert 0.0 <= model.chance(low, high) <= 1.0


@given(durations, times, st.floats(0.001, 1.0), st.floats(0.001, 1.0))
def test_a_job_is_never_polled_sooner_than_the_least_gap_nor_later_than_the_longest(
    past: list[float], since: float, threshold: float, higher: float
) -> None:
    model = FinishModel(Prior(), past)
    at = POLICY.next_poll(model, since, threshold)
    assert since + POLICY.min_gap <= at <= since + POLICY.max_gap
    longest = since + POLICY.stretch * POLICY.min_gap
    stretched = POLICY.floor < threshold <= POLICY.stretch_until
    if stretched and model.chance(since, longest) >= POLICY.floor:
        # Short by a little: a job that may finish is not put off past the stretch.
        assert at <= longest
    # Where the threshold is reached inside the bounds, it is (to the bisection's precision).
    if since + POLICY.min_gap < at < since + POLICY.max_gap and at != longest:
        assert model.chance(since, at) >= threshold
        assert model.chance(since, at - POLICY.min_gap / 10) < threshold
    # A higher threshold never polls sooner.
    assert POLICY.next_poll(model, since, max(threshold, higher)) >= at


polls = st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), max_size=300)


@given(polls, st.floats(0.5, 400))
def test_sharing_the_horizon_fits_its_polls_in_the_slots_and_no_lower_threshold_would(
    ahead: list[tuple[float, float]], slots: float
) -> None:
    """A poll (chance it finds its job done, chance it is made at all) whose chance reaches
    the threshold is made; one below it is put off until its job's chance adds up to the
    threshold, so it counts as that share of a poll."""
    threshold = POLICY.share(ahead, slots)
    assert POLICY.floor <= threshold <= 1.0

    def made(level: float) -> float:
        return sum(w * min(1.0, c / level) for c, w in ahead)

    if threshold == POLICY.floor:
        assert made(POLICY.floor) <= slots * (1 + 1e-9)
    elif threshold < 1.0:
        assert made(threshold) <= slots * (1 + 1e-9)
        assert made(threshold * (1 - 1e-6)) > slots * (1 - 1e-9)


@given(polls, st.floats(0.5, 100), st.floats(0, 50), st.floats(0, 1))
def test_more_slots_never_raise_the_threshold_and_more_polls_never_lower_it(
    ahead: list[tuple[float, float]], slots: float, more: float, chance: float
) -> None:
    assert POLICY.share(ahead, slots + more) <= POLICY.share(ahead, slots)
    assert POLICY.share([*ahead, (chance, 1.0)], slots) >= POLICY.share(ahead, slots)


@given(durations, st.floats(0, 600), st.floats(0, 5), st.floats(0, 10))
def test_the_polls_ahead_are_a_least_gap_apart_and_their_chances_add_up(
    past: list[float], since: float, late: float, horizon: float
) -> None:
    """A job's polls in the horizon if it is polled as often as allowed: each is made only
    if the ones before found nothing, and together they see the job finish between its
    last poll and the last of them."""
    model = FinishModel(Prior(), past)
    now = since + late
    ahead = POLICY.polls_ahead(model, since, now, now + horizon)
    first = max(now, since + POLICY.min_gap)
    # Every poll that fits before the horizon's end, and no more.
    assert first + len(ahead) * POLICY.min_gap >= now + horizon
    assert not ahead or first + (len(ahead) - 1) * POLICY.min_gap < now + horizon
    pending = 1.0
    for chance, made in ahead:
        assert 0.0 <= chance <= 1.0
        assert abs(made - pending) < 1e-9
        pending *= 1.0 - chance
    if ahead:
        last = first + (len(ahead) - 1) * POLICY.min_gap
        assert abs((1.0 - pending) - model.chance(since, last)) < 1e-9


def test_a_few_finishes_move_the_model_from_the_prior() -> None:
    prior = Prior(median=60.0)
    assert FinishModel(prior, []).chance(0, 3) < 0.01
    learned = FinishModel(prior, [2.0, 2.2, 2.4, 2.6, 2.8])
    assert learned.chance(0, 3) > 0.6


@dataclass
class Pending:
    """The planner reads only these fields of a job (the tracker sets `next_poll_at` to
    what the planner planned, and claims the job then)."""

    id: str
    submitted_at: float
    deadline_at: float = 1e9
    next_poll_at: float = 0.0


def planner(prior: Prior, policy: HazardPolicy = POLICY) -> HazardPlanner:
    durations = DurationModel(
        MemoryJobStore(), lambda past: FinishModel(prior, past), replan_every=1
    )
    return HazardPlanner(policy, durations, prior)


def job(n: int, submitted_at: float = 0.0) -> Job:
    return as_job(Pending(str(n), submitted_at))


def as_job(pending: Pending) -> Job:
    return cast(Job, pending)


async def test_a_cold_start_re_plans_pending_jobs_on_the_first_finishes() -> None:
    """The prior (median 60 s) is far off: generations take 2–3 s. A pending job is looked
    at again within seconds, and once a few finishes are known it is polled at once
    instead of being put off by the prior."""
    hazard = planner(Prior(median=60.0))
    waiting = job(0)
    first = await hazard.next_poll_at("k", waiting, 0.0)
    assert first <= 2 * POLICY.min_gap  # a young model: looked at again soon
    assert await hazard.recheck("k", waiting, 2.5) is not None  # the prior: not yet
    for n in range(1, 6):
        await hazard.next_poll_at("k", job(n), 0.0)
        await hazard.observe("k", str(n), 2.0 + n / 5)
    assert await hazard.recheck("k", waiting, 2.5) is None  # likely done: poll now


async def test_a_poll_counts_from_when_it_was_due_not_from_its_answer() -> None:
    """The claim's delay and the round trip are not added to every gap: a job likely to
    have finished within any least gap is polled again a least gap after its last poll was
    due. A poll answered long after it was due (it waited for the token bucket) counts from
    its answer."""
    hazard = planner(Prior(median=10.0))
    for n in range(200):
        await hazard.observe("k", f"past{n}", 3 + 12 * n / 199)
    waiting = Pending("0", submitted_at=0.0)
    waiting.next_poll_at = await hazard.next_poll_at("k", as_job(waiting), 9.0)
    assert waiting.next_poll_at == 10.0
    assert await hazard.recheck("k", as_job(waiting), 10.04) is None  # claimed a little late
    waiting.next_poll_at = await hazard.next_poll_at("k", as_job(waiting), 10.1)  # answered
    assert waiting.next_poll_at == 11.0
    assert await hazard.recheck("k", as_job(waiting), 11.0) is None
    assert await hazard.next_poll_at("k", as_job(waiting), 11.9) == 12.9


async def test_thousands_pending_are_not_all_looked_at_again_every_few_seconds() -> None:
    """10 000 pending jobs on a contended quota: the planner has at most a few times the
    quota's polls of them come due in the next seconds (reviews included), not all."""
    hazard = planner(Prior(median=20.0))
    for n in range(200):
        await hazard.observe("k", f"past{n}", 3 + 30 * n / 199)
    jobs = [job(n, n / 500) for n in range(10_000)]
    for pending in jobs:
        await hazard.next_poll_at("k", pending, 20.0)
    # A min_gap later the quota is shared out on all of them; each is planned again.
    due = [await hazard.recheck("k", pending, 21.0) for pending in jobs]
    soon = sum(1 for at in due if at is None or at < 21.0 + 3 * POLICY.min_gap)
    assert soon <= 5 * POLICY.rate * 3 * POLICY.min_gap, soon


RATE = 30.0


async def test_under_a_burst_polls_stay_near_the_quota_and_every_job_is_seen() -> None:
    """300 jobs within 10 s, generation times 3–15 s known from history, a quota of 30 polls
    a second: every job is delivered, none is polled twice within the least gap, and the
    planner asks for no more than the quota on average and twice it in the busiest second
    (where plans made before the quota was contended come due). Simulated time: the
    planner alone."""
    policy = HazardPolicy(min_gap=1.0, max_gap=30.0, rate=RATE)
    hazard = planner(Prior(median=10.0), policy)
    for n in range(200):
        await hazard.observe("k", f"past{n}", 3 + 12 * n / 199)
    took = {str(n): 3 + (n * 37 % 300) / 25 for n in range(300)}
    jobs = {str(n): Pending(str(n), n / 30) for n in range(300)}
    # (time, 0: submitted / 1: due, job)
    submitted = {str(n): n / 30 for n in range(300)}
    events = [(at, 0, name) for name, at in submitted.items()]
    heapq.heapify(events)
    polls: dict[str, list[float]] = {name: [] for name in jobs}
    delivered = set()
    while events:
        now, kind, name = heapq.heappop(events)
        if kind == 1:
            later = await hazard.recheck("k", as_job(jobs[name]), now)
            if later is not None:
                jobs[name].next_poll_at = later
                heapq.heappush(events, (later, 1, name))
                continue
            polls[name].append(now)
            if now >= submitted[name] + took[name]:
                delivered.add(name)
                await hazard.observe("k", name, took[name])
                continue
        jobs[name].next_poll_at = await hazard.next_poll_at("k", as_job(jobs[name]), now)
        heapq.heappush(events, (jobs[name].next_poll_at, 1, name))
    assert delivered == set(jobs)
    for times in polls.values():
        assert all(b - a >= policy.min_gap - 1e-9 for a, b in itertools.pairwise(times))
    every = sorted(t for times in polls.values() for t in times)
    busiest = max(sum(1 for t in every if start <= t < start + 1.0) for start in every)
    # The token bucket in front of the polls is the hard cap; the plan keeps near it.
    assert busiest <= 2 * policy.rate, busiest
    assert len(every) / (every[-1] - every[0]) <= 1.1 * policy.rate


async def test_the_wait_in_line_for_the_submit_budget_is_not_generation_time(
    start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex, redis_url: str
) -> None:
    """13 requests at once, a submit budget of 1 a second after a bucket of 10: the last
    ones wait seconds in line. Each generation takes 0.3 s at Yandex, and that (not the
    wait) is the duration the poll policy learns."""
    yandex.duration = lambda body: 0.3
    await start_bot(redis_url=redis_url, submit_rate_per_minute=60.0)
    for n in range(13):
        telegram.push_message(f"/art fox {n}", chat_id=5000 + n)
    await telegram.wait_for("sendPhoto", 13, ok=True, timeout=30)
    client = Redis.from_url(redis_url)
    store = RedisJobStore(client)
    durations = await store.durations_get(f"art://{FOLDER}/yandex-art/latest|1:1")
    await client.aclose()
    assert len(durations) == 13
    assert max(durations) < 1.0, sorted(durations)
