"""The in-memory token bucket (GCRA) on a fake clock whose sleeps end late, as on a busy
event loop: a queue is served at the full rate, never faster, whatever the lateness."""

from __future__ import annotations

import asyncio

import pytest

from bot.storage.budget import MemoryBudget

RATE = 50.0
INTERVAL = 1 / RATE


class LateClock:
    """Model time: every sleep ends `late` seconds after it should."""

    def __init__(self, late: float) -> None:
        self.now = 0.0
        self.late = late
        self.slept = 0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept += 1
        self.now += seconds + self.late


def budget(clock: LateClock, burst: int = 1) -> MemoryBudget:
    return MemoryBudget(RATE, burst, clock=clock, sleep=clock.sleep)


async def takes(bucket: MemoryBudget, clock: LateClock, n: int) -> list[float]:
    """When each of `n` tokens taken one after another was had."""
    times = []
    for _ in range(n):
        await bucket.acquire()
        times.append(clock.now)
    return times


async def test_late_wake_ups_do_not_slow_a_queue_down() -> None:
    clock = LateClock(late=0.3 * INTERVAL)
    times = await takes(budget(clock), clock, 100)
    assert clock.slept == 99  # the lateness was injected on every token but the first
    # Never sooner than the rate allows …
    assert all(t >= k * INTERVAL - 1e-9 for k, t in enumerate(times))
    # … and the lateness is not added to every token: 100 take 99 intervals and one late.
    assert times[-1] == pytest.approx(99 * INTERVAL + clock.late)


async def test_a_burst_then_the_rate() -> None:
    clock = LateClock(late=0.0)
    times = await takes(budget(clock, burst=3), clock, 6)
    assert times == pytest.approx([0, 0, 0, INTERVAL, 2 * INTERVAL, 3 * INTERVAL])


async def test_available_says_whether_a_token_is_free_without_taking_it() -> None:
    clock = LateClock(late=0.0)
    bucket = budget(clock)
    assert await bucket.available()
    assert await bucket.available()
    await bucket.acquire()
    assert not await bucket.available()
    clock.now += INTERVAL
    assert await bucket.available()


async def test_a_cancelled_taker_gives_its_token_back() -> None:
    clock = LateClock(late=0.0)
    asked: list[float] = []

    async def hang(seconds: float) -> None:
        asked.append(seconds)
        await asyncio.Event().wait()

    bucket = MemoryBudget(RATE, clock=clock, sleep=hang)
    await bucket.acquire()
    for _ in range(2):  # the second waits for the token the first gave back, not the next
        waiter = asyncio.create_task(bucket.acquire())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    assert asked == pytest.approx([INTERVAL, INTERVAL])
