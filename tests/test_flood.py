"""Flood control: message slots (pure arithmetic on reserved times) and lanes (pictures
before other messages, chat actions only while few messages wait)."""

from __future__ import annotations

import asyncio
import itertools
import math
from typing import Any, cast

import pytest
from aiogram import Bot
from aiogram.methods import SendChatAction, SendMessage, SendPhoto, TelegramMethod
from aiogram.methods.base import Response
from hypothesis import given
from hypothesis import strategies as st

from bot.telegram.flood import PRUNE_AT, ChatActionSkipped, FloodControl, FloodLimits, SendSlots

GAP = 0.5  # two messages a second


def test_slots_are_taken_in_order_one_gap_apart() -> None:
    slots = SendSlots(per_second=2)
    assert [slots.take(0.0, now=0.0) for _ in range(3)] == [0.0, 0.5, 1.0]


def test_a_message_held_back_by_its_chat_leaves_earlier_slots_to_others() -> None:
    slots = SendSlots(per_second=2)
    assert slots.take(2.0, now=0.0) == 2.0  # its chat sent one a moment ago
    assert slots.take(0.0, now=0.0) == 0.0  # another chat's goes first
    assert slots.take(1.8, now=0.0) == 2.5  # 2.0 is taken: the next one
    assert slots.take(0.0, now=3.1) == 3.1  # the slot before (3.0) is free: at once
    assert slots.take(0.0, now=3.2) == 4.0  # 3.5 is taken: the next one, never in the past


def test_a_message_leaves_at_once_when_none_left_within_a_gap() -> None:
    """A quiet bot's reply does not wait for the next slot of the grid; the next message,
    right behind it, waits for its own slot."""
    slots = SendSlots(per_second=2)
    assert slots.take(10.2, now=10.2) == 10.2
    assert slots.take(10.2, now=10.2) == 11.0  # 10.5 is the first one's slot: the next
    assert slots.take(12.3, now=12.3) == 12.3
    assert slots.take(13.9, now=13.6) == 14.0  # its chat holds it: not at once


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


def test_the_backlog_is_the_time_to_the_first_free_slot() -> None:
    slots = SendSlots(per_second=2)
    assert slots.backlog(0.0) == 0.0
    for _ in range(3):
        slots.take(0.0, now=0.0)
    assert slots.backlog(0.0) == 1.5
    assert slots.backlog(1.0) == 0.5


def _recorder() -> tuple[list[TelegramMethod[Any]], Any]:
    sent: list[TelegramMethod[Any]] = []

    async def make_request(bot: Bot, method: TelegramMethod[Any]) -> Response[Any]:
        sent.append(method)
        return Response[Any](ok=True, result=True)

    return sent, make_request


async def test_pictures_go_before_status_messages_when_the_budget_is_contended() -> None:
    """100 status messages to 100 chats, then 10 pictures: the messages book at most a
    second of slots ahead, so the pictures leave before the rest of them (without lanes
    they would leave last)."""
    flood = FloodControl(FloodLimits(global_per_second=50, private_per_second=1000))
    sent, make_request = _recorder()
    bot = cast(Bot, None)
    messages = [
        asyncio.create_task(flood(make_request, bot, SendMessage(chat_id=n, text="…")))
        for n in range(1, 101)
    ]
    await asyncio.sleep(0)  # every message has booked its slot or waits for a short queue
    pictures = [
        asyncio.create_task(flood(make_request, bot, SendPhoto(chat_id=n, photo="file-id")))
        for n in range(201, 211)
    ]
    await asyncio.gather(*messages, *pictures)
    last_picture = max(i for i, m in enumerate(sent) if isinstance(m, SendPhoto))
    after = sum(isinstance(m, SendMessage) for m in sent[last_picture:])
    assert len(sent) == 110
    assert after >= 40, after


async def test_chat_actions_are_sent_only_while_few_messages_wait() -> None:
    """At 100 messages a second, 40 queued are 0.4 s of the overall budget booked ahead:
    more than ACTION_HORIZON, so a chat action then is skipped."""
    flood = FloodControl(FloodLimits(global_per_second=100, private_per_second=1000))
    sent, make_request = _recorder()
    bot = cast(Bot, None)
    action = SendChatAction(chat_id=1, action="upload_photo")
    await flood(make_request, bot, action)  # idle: sent, and it takes a slot
    assert sent == [action]
    waiting = [
        asyncio.create_task(flood(make_request, bot, SendMessage(chat_id=n, text="…")))
        for n in range(2, 42)
    ]
    await asyncio.sleep(0)
    with pytest.raises(ChatActionSkipped):
        await flood(make_request, bot, action)
    await asyncio.gather(*waiting)
    assert sum(isinstance(m, SendChatAction) for m in sent) == 1
