"""When to poll an operation next: pure functions of the attempt number and the clock."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class PollSchedule:
    """First poll after `first_delay`; each later gap is `growth` times the previous one,
    never above `max_interval`, and never past the job's deadline."""

    first_delay: float = 5.0
    growth: float = 1.5
    max_interval: float = 30.0

    def delay(self, attempt: int) -> float:
        """Gap before poll number `attempt` (0 = the first poll after submit)."""
        if attempt <= 0 or self.growth == 1 or self.first_delay >= self.max_interval:
            return min(self.first_delay, self.max_interval)
        # Compare exponents, not powers, so a job polled for hours never overflows a float.
        if attempt >= math.log(self.max_interval / self.first_delay, self.growth):
            return self.max_interval
        return min(self.first_delay * self.growth**attempt, self.max_interval)

    def next_poll_at(self, now: float, attempt: int, deadline_at: float) -> float:
        return min(now + self.delay(attempt), deadline_at)


@dataclass(frozen=True)
class Quantiles:
    """Where observed generation times fall: the earliest plausible finish (`low`) and the
    end of the likely range (`high`), seconds after submit."""

    low: float
    high: float


@dataclass(frozen=True)
class LearnedSchedule:
    """Polls placed by when generations actually finish, learned from past ones.

    Delivery lag is the gap between the poll that sees a job done and the moment it was done,
    so it is bounded by the gap between polls at that moment. Hence: no poll before the
    earliest plausible finish, polls every `target_lag` where finishes are likely, then gaps
    that grow in the long tail. Without enough history the growing schedule is used.
    """

    fallback: PollSchedule = PollSchedule()
    target_lag: float = 1.4
    # Past `high` the gap grows by this share of the time spent past it.
    tail_growth: float = 0.5

    def delay(self, elapsed: float, attempt: int, quantiles: Quantiles | None) -> float:
        """Gap before the next poll of a job submitted `elapsed` seconds ago."""
        if quantiles is None:
            return self.fallback.delay(attempt)
        if elapsed < quantiles.low:
            return quantiles.low - elapsed
        if elapsed < quantiles.high:
            return self.target_lag
        tail = self.target_lag + (elapsed - quantiles.high) * self.tail_growth
        return min(max(tail, self.target_lag), self.fallback.max_interval)

    def next_poll_at(
        self,
        now: float,
        submitted_at: float,
        attempt: int,
        deadline_at: float,
        quantiles: Quantiles | None,
    ) -> float:
        return min(now + self.delay(now - submitted_at, attempt, quantiles), deadline_at)
