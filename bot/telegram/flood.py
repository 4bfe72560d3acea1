"""Telegram flood limits, handled once for every request the bot makes.

Messages are paced per chat (groups about 20 a minute, private chats about 1 a second) and
overall (about 30 a second), so a burst is delayed rather than refused; a 429 that still
comes back is waited out and retried. A request middleware covers handlers' replies and
the tracker's deliveries alike.

Lanes share the overall budget when it is contended: pictures book the first free slot;
other messages (replies, status edits) book one only when the queue of booked slots ahead
is shorter than `CHATTER_HORIZON`, so pictures that come later still go first; chat actions
(whether they count against the limits is not documented, so they are assumed to) are sent
only while that queue is shorter than `ACTION_HORIZON`, and skipped otherwise: one older
than 5 s shows nothing.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter
from aiogram.methods import (
    EditMessageCaption,
    EditMessageMedia,
    EditMessageReplyMarkup,
    EditMessageText,
    SendChatAction,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.methods.base import Response, TelegramType

log = logging.getLogger(__name__)

MESSAGE_METHODS = (
    SendMessage,
    SendPhoto,
    SendDocument,
    EditMessageText,
    EditMessageMedia,
    EditMessageCaption,
    EditMessageReplyMarkup,
)
# What users wait for: these go first when the overall budget is contended.
PICTURE_METHODS = (SendPhoto, SendDocument, EditMessageMedia)
# Other messages book a slot only when no more than this many seconds of slots are booked.
CHATTER_HORIZON = 1.0
# Chat actions are sent only while the queue ahead is shorter than this, seconds.
ACTION_HORIZON = 0.2
MAX_CHATS = 10_000
# Past slots are forgotten when more than this many are kept.
PRUNE_AT = 4096
# Messages are spaced this much wider than the limits: spaced exactly at a limit, timer and
# network jitter bring some to Telegram too close together, and each 429 costs a whole
# retry_after. A chat's own limit is the one a burst hits hardest.
CHAT_MARGIN = 1.1
GLOBAL_MARGIN = 1.05


@dataclass(frozen=True)
class FloodLimits:
    group_per_minute: float = 20.0
    private_per_second: float = 1.0
    global_per_second: float = 30.0
    max_wait: float = 120.0  # a longer retry_after is passed to the caller
    retries: int = 5


class SendSlots:
    """The bot's message slots overall, `1 / per_second` apart. A message takes the first
    free slot at or after the moment its chat allows, so waiting for its chat and for the
    other chats overlap, and no two messages leave closer together than the limit."""

    def __init__(self, per_second: float) -> None:
        self._gap = 1 / per_second
        # Taken slot -> a later slot that may be free (path-compressed, so a long queue of
        # taken slots is skipped in a step or two).
        self._next: dict[int, int] = {}
        self._prune_at = PRUNE_AT

    def take(self, earliest: float, now: float) -> float:
        """Reserve a slot no sooner than `earliest` (and not in the past); when the message
        leaves: at the slot's time, or now when the slot is the next one and the one before
        it is free. Then no message left within a gap before, and the next one cannot leave
        before this slot's time, so the gap holds; and a reply to a quiet bot does not wait
        for the next tick of the grid (up to a gap: 35 ms at Telegram's 30 a second)."""
        current = math.ceil(now / self._gap)
        slot = self._free_from(max(current, math.ceil(earliest / self._gap)))
        self._next[slot] = slot + 1
        if len(self._next) > self._prune_at:
            # The slot before the current one stays: it says whether one may leave at once.
            self._next = {s: n for s, n in self._next.items() if s >= current - 1}
            self._prune_at = max(PRUNE_AT, 2 * len(self._next))
        if slot == current and earliest <= now and current - 1 not in self._next:
            return now
        return slot * self._gap

    def backlog(self, now: float) -> float:
        """How long the queue of booked slots ahead is, seconds (0: the next slot is free)."""
        current = math.ceil(now / self._gap)
        return (self._free_from(current) - current) * self._gap

    def _free_from(self, slot: int) -> int:
        path = []
        while slot in self._next:
            path.append(slot)
            slot = self._next[slot]
        for taken in path:
            self._next[taken] = slot
        return slot


class ChatActionSkipped(TelegramAPIError):
    """A chat action not sent: messages were queued for the overall budget."""


@dataclass
class ChatPace:
    interval: float
    next_at: float = 0.0  # the chat's next message leaves no sooner


class FloodControl(BaseRequestMiddleware):
    def __init__(self, limits: FloodLimits) -> None:
        self._limits = limits
        self._slots = SendSlots(limits.global_per_second / GLOBAL_MARGIN)
        self._chats: OrderedDict[int | str, ChatPace] = OrderedDict()

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        action = isinstance(method, SendChatAction)  # (no narrowing, as below)
        if action:
            loop = asyncio.get_running_loop()
            if self._slots.backlog(loop.time()) > ACTION_HORIZON:
                raise ChatActionSkipped(method, "messages are waiting")
            self._slots.take(loop.time(), loop.time())
            return await make_request(bot, method)
        paced = isinstance(method, MESSAGE_METHODS)  # (no narrowing: keeps `method` generic)
        if not paced:
            return await make_request(bot, method)
        if not isinstance(method, PICTURE_METHODS):
            await self._wait_for_short_queue()
        chat_id: Any = getattr(method, "chat_id", None)
        # An inline message (no chat_id) is paced overall only.
        pace = None if chat_id is None else self._chat_pace(chat_id)
        retries = 0
        while True:
            await self._wait_for_slot(pace)
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                retries += 1
                if exc.retry_after > self._limits.max_wait or retries > self._limits.retries:
                    raise
                log.info("flood limit on %s: waiting %ss", type(method).__name__, exc.retry_after)
                await asyncio.sleep(exc.retry_after)

    async def _wait_for_short_queue(self) -> None:
        """Let pictures booked meanwhile go first: book only behind a short queue."""
        loop = asyncio.get_running_loop()
        # The queue drains with the clock, not on an event; pictures may lengthen it meanwhile.
        while (backlog := self._slots.backlog(loop.time())) > CHATTER_HORIZON:  # noqa: ASYNC110
            await asyncio.sleep(backlog - CHATTER_HORIZON)

    async def _wait_for_slot(self, pace: ChatPace | None) -> None:
        now = asyncio.get_running_loop().time()
        earliest = now if pace is None else max(now, pace.next_at)
        at = self._slots.take(earliest, now)
        if pace is not None:
            pace.next_at = at + pace.interval
        # Leaving at once still yields (no timer): without it, a burst of /art cost more CPU
        # per reply (measured), the replies no longer queuing behind each other.
        await asyncio.sleep(max(at - now, 0.0))

    def _chat_pace(self, chat_id: int | str) -> ChatPace:
        pace = self._chats.get(chat_id)
        if pace is None:
            is_group = isinstance(chat_id, str) or chat_id < 0
            interval = CHAT_MARGIN * (
                60 / self._limits.group_per_minute
                if is_group
                else 1 / self._limits.private_per_second
            )
            pace = self._chats[chat_id] = ChatPace(interval)
            if len(self._chats) > MAX_CHATS:
                self._chats.popitem(last=False)
        self._chats.move_to_end(chat_id)
        return pace
