"""`PollSchedule`: gaps between polls grow geometrically, capped and bounded by the deadline."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.schedule import PollSchedule


def test_defaults() -> None:
    schedule = PollSchedule()
    assert [schedule.delay(n) for n in range(7)] == [
        5.0,
        7.5,
        11.25,
        16.875,
        25.3125,
        30.0,
        30.0,
    ]


@pytest.mark.parametrize(
    "schedule",
    [PollSchedule(), PollSchedule(2.0, 3.0, 100.0), PollSchedule(0.05, 1.5, 0.2)],
)
def test_first_delay(schedule: PollSchedule) -> None:
    assert schedule.delay(0) == schedule.first_delay


def test_negative_attempt_is_treated_as_first() -> None:
    assert PollSchedule(2.0, 3.0, 100.0).delay(-5) == 2.0


def test_grows_by_growth_until_the_cap() -> None:
    schedule = PollSchedule(first_delay=1.0, growth=2.0, max_interval=100.0)
    assert [schedule.delay(n) for n in range(9)] == [1, 2, 4, 8, 16, 32, 64, 100, 100]


def test_monotonic_non_decreasing() -> None:
    schedule = PollSchedule(first_delay=0.3, growth=1.37, max_interval=47.0)
    delays = [schedule.delay(n) for n in range(200)]
    assert delays == sorted(delays)
    assert delays[-1] == 47.0


def test_capped_at_max_interval() -> None:
    schedule = PollSchedule(first_delay=5.0, growth=1.5, max_interval=30.0)
    assert max(schedule.delay(n) for n in range(1000)) == 30.0


@pytest.mark.parametrize("attempt", [10**4, 10**6, 10**9, 10**18])
def test_huge_attempts_do_not_overflow(attempt: int) -> None:
    assert PollSchedule(5.0, 1.5, 30.0).delay(attempt) == 30.0
    assert PollSchedule(0.001, 10.0, 86400.0).delay(attempt) == 86400.0


def test_slow_growth_does_not_overflow() -> None:
    schedule = PollSchedule(first_delay=1.0, growth=1.000001, max_interval=10.0)
    assert schedule.delay(10**9) == 10.0
    assert schedule.delay(1000) == pytest.approx(1.000001**1000)


@pytest.mark.parametrize("attempt", [0, 1, 2, 10, 10**9])
def test_growth_one_is_constant(attempt: int) -> None:
    assert PollSchedule(first_delay=4.0, growth=1.0, max_interval=30.0).delay(attempt) == 4.0


@pytest.mark.parametrize("attempt", [0, 1, 5, 10**9])
def test_first_delay_above_max_interval_is_capped(attempt: int) -> None:
    assert PollSchedule(first_delay=60.0, growth=2.0, max_interval=30.0).delay(attempt) == 30.0


def test_first_delay_equal_to_max_interval() -> None:
    schedule = PollSchedule(first_delay=30.0, growth=2.0, max_interval=30.0)
    assert [schedule.delay(n) for n in range(4)] == [30.0] * 4


def test_next_poll_at_adds_the_delay() -> None:
    schedule = PollSchedule(first_delay=1.0, growth=2.0, max_interval=100.0)
    assert schedule.next_poll_at(now=1000.0, attempt=3, deadline_at=5000.0) == 1008.0


def test_next_poll_at_never_past_deadline() -> None:
    schedule = PollSchedule(first_delay=5.0, growth=1.5, max_interval=30.0)
    assert schedule.next_poll_at(now=1000.0, attempt=0, deadline_at=1003.0) == 1003.0
    assert schedule.next_poll_at(now=1000.0, attempt=10, deadline_at=1010.0) == 1010.0
    # A deadline already passed is still the answer: the job is due at once.
    assert schedule.next_poll_at(now=1000.0, attempt=10, deadline_at=990.0) == 990.0


schedules = st.builds(
    PollSchedule,
    first_delay=st.floats(min_value=0.001, max_value=3600.0),
    growth=st.one_of(st.just(1.0), st.floats(min_value=1.0, max_value=10.0)),
    max_interval=st.floats(min_value=0.001, max_value=86400.0),
)
attempts = st.one_of(
    st.integers(min_value=0, max_value=100), st.integers(min_value=0, max_value=10**12)
)


@settings(max_examples=200)
@given(schedule=schedules, attempt=attempts)
def test_delay_properties(schedule: PollSchedule, attempt: int) -> None:
    delay = schedule.delay(attempt)
    assert math.isfinite(delay)
    assert delay > 0
    assert delay <= schedule.max_interval
    assert delay >= min(schedule.first_delay, schedule.max_interval)
    assert schedule.delay(attempt + 1) >= delay
    if attempt == 0:
        assert delay == min(schedule.first_delay, schedule.max_interval)
    # Below the cap, each gap is `growth` times the previous one.
    following = schedule.delay(attempt + 1)
    if following < schedule.max_interval:
        assert following == pytest.approx(delay * schedule.growth, rel=1e-9)


@settings(max_examples=200)
@given(
    schedule=schedules,
    attempt=attempts,
    now=st.floats(min_value=0.0, max_value=2e9),
    remaining=st.floats(min_value=-1e4, max_value=1e5),
)
def test_next_poll_at_properties(
    schedule: PollSchedule, attempt: int, now: float, remaining: float
) -> None:
    deadline = now + remaining
    at = schedule.next_poll_at(now, attempt, deadline)
    assert at <= deadline
    assert at <= now + schedule.max_interval
    if deadline >= now + schedule.max_interval:
        # Far from the deadline: exactly one gap after now.
        assert at - now == pytest.approx(schedule.delay(attempt), rel=1e-6, abs=1e-6)
    else:
        assert at >= min(deadline, now + min(schedule.first_delay, schedule.max_interval))
