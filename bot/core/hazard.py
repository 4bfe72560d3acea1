"""Which pending operations to poll: the ones most likely to have finished since their last
poll, as far as the poll quota reaches. Pure functions of a duration model and the clock.

Delivery lag is the time from a generation's finish to the poll that sees it, so a poll
is worth the chance that its job finished since the job's last poll. Polls cost no money,
only quota: each job is polled again as soon as that chance reaches a threshold, never
sooner than `min_gap` after its last poll and never later than `max_gap`. With quota to
spare the threshold is a small floor (a job is not polled where finishing is unlikely,
e.g. right after submit); when the pending jobs' polls over the next few `min_gap`s (the
horizon) would take more than the quota gives, the threshold rises until they fit: a
water-filling (`share`) in which a poll whose chance reaches the threshold is made and one
below it is put off until its job's chance adds up to it. The quota goes to the likeliest
finishes wherever they fall in the horizon, not one `min_gap` at a time. A poll is put off
by at most `stretch` min_gaps where its job could finish: the p95 lag is the longest gaps',
so while the quota is short by a little, every job is polled a little later rather than a
few put off far.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

# Past durations count this many times less than the prior until there are this many.
PRIOR_WEIGHT = 2.0
# Each past duration stands for durations within this factor (log-space half-width), so a
# handful already says where finishes are likely and none is treated as exact.
BANDWIDTH = 0.25
# Durations below this (seconds) are treated as this: logarithms need a positive time.
SHORTEST = 1e-3


@dataclass(frozen=True)
class Prior:
    """Log-normal generation times assumed before any are known."""

    median: float = 10.0
    sigma: float = 1.0

    def done_by(self, t: float) -> float:
        if t <= 0:
            return 0.0
        z = (math.log(t) - math.log(self.median)) / (self.sigma * math.sqrt(2))
        return 0.5 * math.erfc(-z)


class FinishModel:
    """P(a generation is done `t` seconds after submit): the prior blended with the past
    durations, which outweigh it as they accumulate. The past durations form a smoothed
    empirical distribution (linear in log-time between order statistics)."""

    __slots__ = ("_prior", "_weight", "_xs", "_ys", "samples")

    def __init__(self, prior: Prior, durations: Sequence[float]) -> None:
        self._prior = prior
        self.samples = len(durations)
        self._weight = PRIOR_WEIGHT / (PRIOR_WEIGHT + self.samples)
        logs = sorted(math.log(max(d, SHORTEST)) for d in durations)
        n = len(logs)
        self._xs = [logs[0] - BANDWIDTH, *logs, logs[-1] + BANDWIDTH] if logs else []
        self._ys = [0.0, *((k + 0.5) / n for k in range(n)), 1.0] if logs else []

    def done_by(self, t: float) -> float:
        prior = self._prior.done_by(t)
        if not self._xs or t <= 0:
            return prior
        x = math.log(t)
        i = bisect.bisect_right(self._xs, x)
        if i == 0:
            past = 0.0
        elif i == len(self._xs):
            past = 1.0
        else:
            x0, x1, y0, y1 = self._xs[i - 1], self._xs[i], self._ys[i - 1], self._ys[i]
            past = y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        return self._weight * prior + (1 - self._weight) * past

    def chance(self, since: float, until: float) -> float:
        """P(done by `until` | not done by `since`), times after submit."""
        before = self.done_by(since)
        if before >= 1.0:
            return 1.0
        return max(0.0, self.done_by(until) - before) / (1.0 - before)


@dataclass(frozen=True)
class HazardPolicy:
    min_gap: float = 1.0  # no job is polled more often (POLL_MIN_GAP)
    max_gap: float = 30.0  # nor less often (POLL_MAX_INTERVAL)
    rate: float = 50.0  # polls per second for all jobs (POLL_RATE_LIMIT)
    # A poll less likely than this to find its job done is not worth making, quota or not.
    floor: float = 0.02
    # Share of the quota planned; the token bucket in front of the polls is the hard cap.
    headroom: float = 0.96
    # While the quota is short by a little (the threshold above the floor but at most
    # `stretch_until`), a job that may finish (the floor) is polled at least every `stretch`
    # min_gaps: the shortfall is spread over every job alike instead of putting a few off
    # far, which sets the p95 lag. Short by far, the likeliest finishes keep the quota.
    stretch: float = 1.15
    stretch_until: float = 0.5

    def next_poll(self, model: FinishModel, since: float, threshold: float) -> float:
        """When (seconds after submit) to poll a job last polled (or submitted) at `since`:
        the first moment the chance it finished meanwhile reaches `threshold`, within
        [since + min_gap, since + max_gap]; while the quota is short by a little, no later
        than `stretch` min_gaps after `since` if the chance by then reaches the floor."""
        at = self._first(model, since, threshold)
        longest = since + self.stretch * self.min_gap
        if at <= longest or not self.floor < threshold <= self.stretch_until:
            return at
        return longest if model.chance(since, longest) >= self.floor else at

    def _first(self, model: FinishModel, since: float, chance: float) -> float:
        """The first moment in [since + min_gap, since + max_gap] at which the chance that
        a job pending at `since` finished meanwhile reaches `chance`."""
        low, high = since + self.min_gap, since + max(self.max_gap, self.min_gap)
        before = model.done_by(since)
        target = before + chance * (1.0 - before)
        if model.done_by(low) >= target:
            return low
        if model.done_by(high) < target:
            return high
        # Bisect to a twentieth of the least gap: finer than any timer it goes to.
        while high - low > self.min_gap / 20:
            middle = (low + high) / 2
            if model.done_by(middle) >= target:
                high = middle
            else:
                low = middle
        return high

    def polls_ahead(
        self, model: FinishModel, since: float, now: float, until: float
    ) -> list[tuple[float, float]]:
        """For a job last polled at `since`, each poll it can get between `now` and `until`
        (times after submit) if it is polled as often as allowed (the first as soon as it
        may be, then every `min_gap`): the chance that it finds the job done, and the chance
        that the job is still pending by then, so that the poll is made at all."""
        first = max(now, since + self.min_gap)
        before = model.done_by(since)
        pending = 1.0
        polls: list[tuple[float, float]] = []
        while (at := first + len(polls) * self.min_gap) < until:
            done = model.done_by(at)
            chance = 1.0 if before >= 1.0 else max(0.0, done - before) / (1.0 - before)
            polls.append((chance, pending))
            pending *= 1.0 - chance
            before = done
        return polls

    def share(self, polls: Sequence[tuple[float, float]], slots: float) -> float:
        """The least threshold that fits the `polls` in `slots` (water-filling). The polls
        are those the pending jobs can get in the planning horizon, as (chance it finds its
        job done, chance it is made at all): one whose chance reaches the threshold is made,
        one below it is put off until its job's chance adds up to it, so it counts as
        chance ÷ threshold of a poll."""
        ordered = sorted(((c, w) for c, w in polls if c > 0.0 and w > 0.0), reverse=True)
        if sum(w * min(1.0, c / self.floor) for c, w in ordered) <= slots:
            return self.floor
        rest = sum(c * w for c, w in ordered)  # counted in part: those from the r-th on
        made = 0.0  # counted whole: the r first
        for chance, weight in ordered:
            if made >= slots:
                break
            level = rest / (slots - made)
            if level >= chance:
                return max(self.floor, min(1.0, level))
            rest -= chance * weight
            made += weight
        return 1.0
