"""The learned poll schedule and the duration sketch behind it."""

from __future__ import annotations

import math
import random

from hypothesis import given
from hypothesis import strategies as st

from bot.durations import MIN_SAMPLES, SAMPLES, DurationModel, quantile, summarize
from bot.schedule import LearnedSchedule, PollSchedule, Quantiles
from bot.store import MemoryJobStore

FALLBACK = PollSchedule(first_delay=5, growth=1.5, max_interval=30)
LEARNED = LearnedSchedule(fallback=FALLBACK, target_lag=1.4, tail_growth=0.5)
Q = Quantiles(low=8.0, high=45.0)


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
    quantiles = Quantiles(low, low + span)
    gap = LEARNED.delay(elapsed, attempt, quantiles)
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


def test_summary_needs_enough_history() -> None:
    assert summarize([1.0] * (MIN_SAMPLES - 1)) is None
    rng = random.Random(3)
    samples = [rng.lognormvariate(math.log(20), 0.6) for _ in range(2000)]
    q = summarize(samples)
    assert q is not None
    assert 5 < q.low < 8 < 20 < 45 < q.high < 70  # log-normal, median 20 s, sigma 0.6


async def test_durations_are_shared_through_the_store_and_bounded() -> None:
    store = MemoryJobStore()
    now = [0.0]
    writer = DurationModel(store, refresh=10, clock=lambda: now[0])
    reader = DurationModel(store, refresh=10, clock=lambda: now[0])
    assert await reader.quantiles("k") is None
    for n in range(SAMPLES + 100):
        await writer.observe("k", float(n % 50))
    assert await writer.quantiles("k") == summarize(
        [float(n % 50) for n in range(SAMPLES + 100)][-SAMPLES:]
    )
    assert await reader.quantiles("k") is None  # cached until the refresh interval passes
    now[0] = 10.0
    assert await reader.quantiles("k") == await writer.quantiles("k")
    assert len(await store.durations_get("k")) == SAMPLES
