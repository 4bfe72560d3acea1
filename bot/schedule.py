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
