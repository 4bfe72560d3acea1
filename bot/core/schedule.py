"""When to poll an operation next: pure functions of the attempt number and the clock."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

# Fewer past durations than this say too little about where the next ones will fall.
MIN_SAMPLES = 30
# A job polled exactly `target_lag` after it finished is on time, whatever the float rounding.
LAG_TOLERANCE = 1e-9


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
class PollWindow:
    """Where a learned schedule polls densely, in seconds after submit: its first poll, and
    the point after which gaps grow again."""

    first: float
    last: float


def quantile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks of an ordered sample."""
    position = q * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


@dataclass(frozen=True)
class LearnedSchedule:
    """Polls placed by when generations actually finish, learned from past ones.

    Delivery lag is the gap between the poll that sees a job done and the moment it was done,
    so it is bounded by the gap between polls at that moment. Hence: no poll before finishes
    are plausible, polls every `target_lag` where they are likely, then gaps that grow in
    the long tail. Without enough history the growing schedule is used.

    A poll costs every job still pending at that moment, so the first polls, which every job
    pays for, are the dear ones. `late_share` of the jobs may be delivered later than
    `target_lag` (the p95 target leaves that room), and `plan` spends that share where it
    saves the most polls: on the earliest finishes (the first poll waits) or on the long
    tail (dense polls end sooner).
    """

    fallback: PollSchedule = PollSchedule()
    target_lag: float = 1.4
    late_share: float = 0.04
    # Past the window the gap grows by this share of the time spent past it.
    tail_growth: float = 0.5
    # Ways of splitting `late_share` between the early finishes and the tail that `plan` tries.
    splits: int = 8

    def delay(self, elapsed: float, attempt: int, window: PollWindow | None) -> float:
        """Gap before the next poll of a job submitted `elapsed` seconds ago."""
        if window is None:
            return self.fallback.delay(attempt)
        if elapsed < window.first:
            return window.first - elapsed
        if elapsed < window.last:
            return self.target_lag
        tail = self.target_lag + (elapsed - window.last) * self.tail_growth
        return min(max(tail, self.target_lag), self.fallback.max_interval)

    def next_poll_at(
        self,
        now: float,
        submitted_at: float,
        attempt: int,
        deadline_at: float,
        window: PollWindow | None,
    ) -> float:
        return min(now + self.delay(now - submitted_at, attempt, window), deadline_at)

    def plan(self, durations: Sequence[float]) -> PollWindow | None:
        """The window that would have cost the fewest polls on these past durations with at
        most `late_share` of them (less a standard error) delivered later than `target_lag`;
        None with too few."""
        if len(durations) < MIN_SAMPLES:
            return None
        ordered = sorted(durations)
        n, share = len(ordered), self.late_share
        # The late share seen on n past jobs is an estimate, and the cheapest window is the
        # one it flatters most: keep a standard error of room for the jobs to come.
        allowed = max(0.0, share * n - math.sqrt(n * share * (1 - share)))
        best: tuple[int, PollWindow] | None = None
        for early in range(self.splits + 1):
            for tail in range(self.splits + 1 - early):
                window = PollWindow(
                    first=quantile(ordered, self.late_share * early / self.splits)
                    + self.target_lag,
                    last=quantile(ordered, 1 - self.late_share * tail / self.splits),
                )
                polls, late = self.replay(window, ordered)
                if late <= allowed and (best is None or polls < best[0]):
                    best = (polls, window)
        # Splitting nothing off (the window spans every duration) is never late.
        assert best is not None
        return best[1]

    def replay(self, window: PollWindow, ordered: Sequence[float]) -> tuple[int, int]:
        """Polls this window would have spent on these ordered durations, and how many of
        them it would have delivered later than `target_lag`."""
        polls_at = [0.0, self.delay(0.0, 0, window)]
        while polls_at[-1] < ordered[-1]:
            polls_at.append(polls_at[-1] + self.delay(polls_at[-1], len(polls_at) - 1, window))
        polls = late = 0
        for duration in ordered:
            seen = bisect.bisect_left(polls_at, duration, lo=1)
            polls += seen
            late += polls_at[seen] - duration > self.target_lag + LAG_TOLERANCE
        return polls, late
