"""Updates taken in at a bounded concurrency, by long polling and by the webhook.

aiogram starts a task for every update as it comes: a burst of 10 000 `/art` was 10 000
handlers at once, each holding its objects and its call to Telegram (700 MB, the loop
stalled for seconds). Here at most `workers` updates are in work; the others wait as data:
at Telegram when polling (only what the line has room for is fetched), or as parsed JSON
in a short line for a webhook (when it is full the webhook answers 503 and Telegram sends
the update again later). A shutdown closes the line, works off what it holds within a
grace, and only then does polling tell Telegram which updates were taken, so that none is
dropped and none is handled twice (aiogram's own bound, `tasks_concurrency_limit`, stops
in the middle of a batch Telegram has not been told about: those it handled came again).
"""

from __future__ import annotations

import asyncio
import logging
import random
from contextlib import suppress
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import AiogramError
from aiogram.methods import TelegramMethod
from aiogram.types import Update

from bot.ops.startup import backoff_delay
from bot.services.metrics import Metrics

log = logging.getLogger(__name__)

# Telegram hands out at most 100 updates per getUpdates.
MAX_BATCH = 100
# The call that tells Telegram, at shutdown, which updates were taken.
CONFIRM_TIMEOUT = 10

Raw = Update | dict[str, Any]


def update_id(update: Raw) -> int | None:
    if isinstance(update, Update):
        return update.update_id
    value = update.get("update_id")
    return value if isinstance(value, int) else None


class Intake:
    """At most `workers` updates in work at once; up to `line` more wait, as data."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot, *, workers: int, line: int) -> None:
        assert workers >= 1
        assert line >= 1  # a Queue of size 0 has no bound at all
        self._dispatcher = dispatcher
        self._bot = bot
        self._line: asyncio.Queue[Raw] = asyncio.Queue(line)
        self._size = workers
        self._workers: set[asyncio.Task[None]] = set()
        self._room = asyncio.Event()
        self._working: dict[asyncio.Task[Any], int | None] = {}
        self.closed = False

    @property
    def in_work(self) -> int:
        return len(self._working)

    @property
    def waiting(self) -> int:
        return self._line.qsize()

    @property
    def room(self) -> int:
        """How many more updates the line takes now."""
        return self._line.maxsize - self._line.qsize()

    def start(self, metrics: Metrics | None = None) -> None:
        """The workers; `metrics`' intake gauges then read this intake."""
        if metrics is not None:
            metrics.updates_in_work.set_function(lambda: self.in_work)
            metrics.updates_waiting.set_function(lambda: self.waiting)
        for n in range(self._size):
            self._workers.add(asyncio.create_task(self._work(), name=f"intake-{n}"))

    def offer(self, update: Raw) -> bool:
        """Take an update into the line; False (not taken) once closed or when full."""
        if self.closed or self._line.full():
            return False
        self._line.put_nowait(update)
        return True

    async def wait_for_room(self, at_least: int = 1) -> None:
        at_least = min(at_least, self._line.maxsize)
        while self.room < at_least:
            self._room.clear()
            await self._room.wait()

    async def close(self, grace: float) -> list[int]:
        """Take no more; let the workers finish the line and what they hold, within
        `grace` seconds. Returned: the ids of the updates not finished by then (none,
        unless the grace ran out): still waiting, or cut off in work, for Telegram to hand
        out again (one cut off may have answered already: rather twice than never)."""
        self.closed = True
        with suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._line.join()
        unfinished = [i for i in self._working.values() if i is not None]
        while not self._line.empty():
            waiting = update_id(self._line.get_nowait())
            self._line.task_done()
            if waiting is not None:
                unfinished.append(waiting)
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        if unfinished:
            log.error("shutdown grace over: %d updates not finished here", len(unfinished))
        return sorted(unfinished)

    async def _work(self) -> None:
        while True:
            update = await self._line.get()
            self._room.set()
            worker = asyncio.current_task()
            assert worker is not None
            self._working[worker] = update_id(update)
            try:
                await self._handle(update)
            finally:
                del self._working[worker]
                self._line.task_done()

    async def _handle(self, update: Raw) -> None:
        """As aiogram's own polling does: an exception no error handler took is logged."""
        try:
            if not isinstance(update, Update):
                update = Update.model_validate(update, context={"bot": self._bot})
            result = await self._dispatcher.feed_update(self._bot, update)
            if isinstance(result, TelegramMethod):
                await self._dispatcher.silent_call_request(self._bot, result)
        except Exception:
            log.exception("update %s: not handled", update_id(update))


class Poller:
    """Long polling into an intake: each getUpdates asks for no more than the line has
    room for, so the rest stay at Telegram. `offset` is the next update not taken yet."""

    def __init__(
        self, bot: Bot, intake: Intake, *, allowed_updates: list[str], timeout: int
    ) -> None:
        self._bot = bot
        self._intake = intake
        self._allowed = allowed_updates
        self._timeout = timeout
        self._rng = random.Random()
        self.offset: int | None = None
        # The offset of the last getUpdates sent (Telegram confirmed what is below it).
        self._told: int | None = None

    async def run(self) -> None:
        """Never ends by itself: Telegram out of reach is retried with backoff."""
        failures = 0
        while True:
            # Half a line at a time, not one update per call while a backlog is worked off.
            await self._intake.wait_for_room(MAX_BATCH // 2)
            self._told = self.offset
            try:
                updates = await self._bot.get_updates(
                    offset=self.offset,
                    limit=min(MAX_BATCH, self._intake.room),
                    timeout=self._timeout,
                    allowed_updates=self._allowed,
                    request_timeout=int(self._bot.session.timeout + self._timeout),
                )
            except AiogramError as exc:  # network, 5xx, 429, 409, an unreadable answer
                failures += 1
                delay = backoff_delay(failures, self._rng)
                log.warning("getUpdates failed (%s); next try in %.1f s", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            for update in updates:
                if not self._intake.offer(update):
                    break  # closed: not taken, Telegram hands it out again
                self.offset = update.update_id + 1

    async def confirm(self, first_unfinished: int | None) -> None:
        """Tell Telegram which updates were taken (those below the offset), unless the
        last getUpdates did: the offset has moved since. Updates not finished (the grace
        ran out) are handed out again if they came in the last batch; earlier ones were
        confirmed when the next batch was asked for (a getUpdates confirms everything below
        its offset), and are lost (`Intake.close` logged them)."""
        offset = self.offset if first_unfinished is None else first_unfinished
        if offset is None or (self._told is not None and offset <= self._told):
            return
        try:
            await self._bot.get_updates(
                offset=offset, limit=1, timeout=0, request_timeout=CONFIRM_TIMEOUT
            )
        except AiogramError as exc:
            log.warning("taken updates not confirmed (%s): they come again", type(exc).__name__)
