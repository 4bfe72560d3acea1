"""The learned poll schedule, the duration sketch behind it, and the bot using both."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from bot.core.schedule import MIN_SAMPLES, LearnedSchedule, PollSchedule, PollWindow, quantile
from bot.emulators.telegram import FakeTelegram
from bot.emulators.yandexart import FakeYandex
from bot.services.durations import REPLAN_EVERY, SAMPLES, DurationModel
from bot.storage.memory import MemoryJobStore
from bot.storage.redis_store import RedisJobStore
from tests.bot_process import FOLDER

FALLBACK = PollSchedule(first_delay=5, growth=1.5, max_interval=30)
LEARNED = LearnedSchedule(fallback=FALLBACK, target_lag=1.4, tail_growth=0.5)
Q = PollWindow(first=8.0, last=45.0)


def test_without_history_the_growing_schedule_is_used() -> None:
    assert [LEARNED.delay(0, a, None) for a in range(3)] == [5, 7.5, 11.25]


def test_no_poll_before_the_earliest_plausible_finish() -> None:
    assert LEARNED.delay(0, 0, Q) == 8.0
    assert LEARNED.delay(3.0, 0, Q) == 5.0


def test_dense_polls_where_finishes_are_likely() -> None:
    assert LEARNED.delay(8.0, 1, Q) == 1.4
    assert LEARNED.delay(44.9, 20, Q) == 1.4


def test_sparse_polls_in_the_long_tail_up_to_the_cap() -> None:
    assert LEARNED.delay(45.0, 30, Q) == 1.4
    assert LEARNED.delay(55.0, 31, Q) == 1.4 + 5.0
    assert LEARNED.delay(500.0, 40, Q) == 30


def test_never_past_the_deadline() -> None:
    assert LEARNED.next_poll_at(100.0, 99.0, 1, 101.0, Q) == 101.0


@given(
    elapsed=st.floats(0, 10_000),
    low=st.floats(0, 100),
    span=st.floats(0, 500),
    attempt=st.integers(0, 10_000),
)
def test_gaps_are_positive_and_bounded(
    elapsed: float, low: float, span: float, attempt: int
) -> None:
    window = PollWindow(low, low + span)
    gap = LEARNED.delay(elapsed, attempt, window)
    assert gap > 0 or math.isclose(elapsed, low)
    assert gap <= max(FALLBACK.max_interval, low - elapsed)
    # Inside the likely range the gap is the target lag: that bounds the delivery lag.
    if low <= elapsed < low + span:
        assert gap == LEARNED.target_lag


def test_quantiles_interpolate() -> None:
    ordered = [float(x) for x in range(101)]
    assert quantile(ordered, 0.02) == 2.0
    assert quantile(ordered, 0.97) == 97.0
    assert quantile([5.0], 0.5) == 5.0


def lognormal(n: int, seed: int) -> list[float]:
    """Generation times like the benchmarks': median 20 s, sigma 0.75, at most 5 minutes."""
    rng = random.Random(seed)
    return [min(300.0, rng.lognormvariate(math.log(20), 0.75)) for _ in range(n)]


def test_a_plan_needs_enough_history() -> None:
    assert LEARNED.plan([1.0] * (MIN_SAMPLES - 1)) is None
    assert LEARNED.plan([1.0] * MIN_SAMPLES) is not None


def test_the_plan_keeps_its_promise_on_new_generations_with_fewer_polls() -> None:
    """Planned on 512 past durations, checked on 20 000 new ones from the same distribution:
    about `late_share` are late, and it polls less than dense polls over the whole range
    (where nothing is late) and less than dense polls between fixed percentiles."""
    past, new = lognormal(SAMPLES, seed=1), sorted(lognormal(20_000, seed=2))
    window = LEARNED.plan(past)
    assert window is not None
    polls, late = LEARNED.replay(window, new)
    assert late / len(new) <= LEARNED.late_share + 0.01
    ordered = sorted(past)
    whole = PollWindow(ordered[0] + LEARNED.target_lag, ordered[-1])
    percentiles = PollWindow(quantile(ordered, 0.02), quantile(ordered, 0.97))
    for other in (whole, percentiles):
        other_polls, _ = LEARNED.replay(other, new)
        assert polls < 0.97 * other_polls, other


def test_without_a_late_share_nothing_past_is_late() -> None:
    strict = LearnedSchedule(fallback=FALLBACK, target_lag=1.4, late_share=0.0)
    past = sorted(lognormal(100, seed=3))
    window = strict.plan(past)
    assert window == PollWindow(past[0] + 1.4, past[-1])
    assert strict.replay(window, past)[1] == 0


@given(
    st.lists(st.floats(0, 1800), min_size=MIN_SAMPLES, max_size=200),
    st.floats(0, 0.3),
)
def test_the_plan_is_the_cheapest_within_the_late_share(
    durations: list[float], late_share: float
) -> None:
    schedule = LearnedSchedule(fallback=FALLBACK, target_lag=1.4, late_share=late_share)
    window = schedule.plan(durations)
    assert window is not None
    ordered = sorted(durations)
    polls, late = schedule.replay(window, ordered)
    assert late <= late_share * len(ordered)
    assert polls <= schedule.replay(PollWindow(ordered[0] + 1.4, ordered[-1]), ordered)[0]
    assert window.first >= ordered[0]


async def test_durations_are_shared_through_the_store_and_bounded() -> None:
    store = MemoryJobStore()
    now = [0.0]
    writer = DurationModel(store, LEARNED.plan, refresh=10, clock=lambda: now[0])
    reader = DurationModel(store, LEARNED.plan, refresh=10, clock=lambda: now[0])
    assert await reader.window("k") is None
    samples = [float(n % 50) for n in range(SAMPLES + 100)]
    for duration in samples:
        await writer.observe("k", duration)
    assert await writer.window("k") == LEARNED.plan(samples[-SAMPLES:])
    assert await reader.window("k") is None  # cached until the refresh interval passes
    now[0] = 10.0
    assert await reader.window("k") == await writer.window("k")
    assert len(await store.durations_get("k")) == SAMPLES


async def test_the_window_is_planned_again_after_enough_new_durations() -> None:
    store = MemoryJobStore()
    model = DurationModel(store, LEARNED.plan, refresh=3600, clock=lambda: 0.0)
    for _ in range(MIN_SAMPLES):
        await model.observe("k", 10.0)
    first = await model.window("k")
    assert first == LEARNED.plan([10.0] * MIN_SAMPLES)
    for _ in range(REPLAN_EVERY - 1):
        await model.observe("k", 100.0)
    assert await model.window("k") == first  # not yet: planning replays the whole sample
    await model.observe("k", 100.0)
    second = await model.window("k")
    assert first is not None
    assert second is not None
    assert second.last > first.last


@pytest.mark.parametrize(("schedule", "fewest", "most"), [("learned", 1, 1), ("growing", 4, 8)])
async def test_with_history_the_first_poll_comes_when_the_picture_is_due(
    start_bot: Any,
    telegram: FakeTelegram,
    yandex: FakeYandex,
    redis_url: str,
    schedule: str,
    fewest: int,
    most: int,
) -> None:
    """Past square pictures took 0.5–0.6 s (history in Redis, as a restarted bot finds it):
    the learned schedule's first poll waits for the earliest of them plus the target lag,
    so it sees a 0.5 s generation done at once; the growing schedule asks several times."""
    client = Redis.from_url(redis_url)
    history = RedisJobStore(client)
    for n in range(100):
        await history.durations_add(f"art://{FOLDER}/yandex-art/latest|1:1", 0.5 + n / 1000, 512)
    await client.aclose()
    yandex.duration = lambda body: 0.5
    await start_bot(redis_url=redis_url, poll_schedule=schedule, poll_target_lag=0.3)

    telegram.push_message("/art a red fox")
    await telegram.wait_for("sendPhoto")
    (operation,) = yandex.operations.values()
    assert fewest <= operation.polls <= most
