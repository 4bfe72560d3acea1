"""Message slots of the flood control: pure arithmetic on reserved times."""

from __future__ import annotations

import itertools
import math

from hypothesis import given
from hypothesis import strategies as st

from bot.telegram.flood import PRUNE_AT, SendSlots

GAP = 0.5  # two messages a second


def test_slots_are_taken_in_order_one_gap_apart() -> None:
    slots = SendSlots(per_second=2)
    assert [slots.take(0.0, now=0.0) for _ in range(3)] == [0.0, 0.5, 1.0]


def test_a_message_held_back_by_its_chat_leaves_earlier_slots_to_others() -> None:
    slots = SendSlots(per_second=2)
    assert slots.take(2.0, now=0.0) == 2.0  # its chat sent one a moment ago
    assert slots.take(0.0, now=0.0) == 0.0  # another chat's goes first
    assert slots.take(1.8, now=0.0) == 2.5  # 2.0 is taken: the next one
    assert slots.take(0.0, now=3.1) == 3.5  # never in the past


@given(
    st.lists(
        st.tuples(st.floats(0, 5), st.floats(0, 30)),  # (time passing, chat's own delay)
        min_size=1,
        max_size=300,
    )
)
def test_no_two_messages_closer_than_the_limit(requests: list[tuple[float, float]]) -> None:
    slots, now = SendSlots(per_second=1 / GAP), 0.0
    times: list[float] = []
    for passing, delay in requests:
        now += passing
        at = slots.take(now + delay, now)
        assert at >= now + delay - 1e-9
        assert at <= now + delay + GAP * (len(times) + 1) + 1e-9  # only taken slots push it
        times.append(at)
    ordered = sorted(times)
    assert all(b - a >= GAP - 1e-9 for a, b in itertools.pairwise(ordered))


def test_past_slots_are_forgotten() -> None:
    slots = SendSlots(per_second=1000)
    for n in range(10 * PRUNE_AT):
        slots.take(n / 1000, now=n / 1000)
    assert len(slots._next) <= 2 * PRUNE_AT
    assert math.isclose(slots.take(0.0, now=100.0), 100.0)
