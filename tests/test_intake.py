"""Issue 24 item 1: updates are taken in at a bounded concurrency (UPDATES_IN_WORK), by
long polling and by the webhook; a burst is answered once per update with never more
than that many in work, and a shutdown in the middle of it loses none and answers none
twice. Counts only: no timings."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiogram import Bot, Dispatcher
from aiogram.types import Message, TelegramObject, Update

from bot.emulators.telegram import Call, FakeTelegram
from bot.ops.app import create_bot, create_dispatcher
from bot.ops.intake import Intake
from bot.ops.server import build_webhook_app, poll_updates, start_server
from bot.ops.settings import Settings
from tests.redis_server import free_port

IN_WORK = 4
BURST = 240
SECRET = "s3cret_Value-1"
FIRST_CHAT = 50_000
# Telegram's pace of 30 messages a second is tested on its own (test_flood.py).
UNPACED = {"updates_in_work": IN_WORK, "messages_per_second": 10_000.0}


class InWork:
    """An outer middleware on every update: how many are in work at once (and the most
    ever), and how often each update came in."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self.seen: Counter[int] = Counter()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        assert isinstance(event, Update)
        self.seen[event.update_id] += 1
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            return await handler(event, data)
        finally:
            self.now -= 1


def instrumented(settings: Settings) -> tuple[Bot, Dispatcher, InWork]:
    bot = create_bot(settings)
    dispatcher = create_dispatcher(settings, bot)
    in_work = InWork()
    dispatcher.update.outer_middleware(in_work)
    return bot, dispatcher, in_work


def answers_by_chat(telegram: FakeTelegram) -> Counter[int]:
    return Counter(int(call.params["chat_id"]) for call in telegram.sent("sendMessage", ok=True))


async def test_a_polling_burst_is_answered_once_each_with_at_most_n_in_work(
    telegram: FakeTelegram, make_settings: Callable[..., Settings]
) -> None:
    chats = range(FIRST_CHAT, FIRST_CHAT + BURST)
    for chat in chats:
        telegram.push_message("/help", chat_id=chat)
    settings = make_settings(**UNPACED)
    bot, dispatcher, in_work = instrumented(settings)
    stop = asyncio.Event()
    polling = asyncio.create_task(poll_updates(settings, bot, dispatcher, stop, polling_timeout=1))
    await telegram.wait_for("sendMessage", BURST)
    stop.set()
    await polling
    assert in_work.most == IN_WORK  # the bound was reached, never passed
    assert answers_by_chat(telegram) == Counter(chats)
    assert set(in_work.seen.values()) == {1}


async def test_polling_stopped_mid_burst_then_restarted_answers_each_update_once(
    telegram: FakeTelegram, make_settings: Callable[..., Settings]
) -> None:
    """SIGTERM in the middle of a burst: what the first instance took it answers; the rest
    Telegram hands to the next one; nobody hears twice."""
    settings = make_settings(**UNPACED)
    chats = range(FIRST_CHAT, FIRST_CHAT + BURST)
    for chat in chats:
        telegram.push_message("/help", chat_id=chat)
    first_bot, first, first_in_work = instrumented(settings)
    stop = asyncio.Event()
    polling = asyncio.create_task(poll_updates(settings, first_bot, first, stop, polling_timeout=1))
    await telegram.wait_for("sendMessage", 30)
    stop.set()
    await polling
    answered_first = sum(answers_by_chat(telegram).values())
    assert answered_first < BURST  # stopped in the middle of the burst

    second_bot, second, _ = instrumented(settings)
    stop = asyncio.Event()
    polling = asyncio.create_task(
        poll_updates(settings, second_bot, second, stop, polling_timeout=1)
    )
    await telegram.wait_for("sendMessage", BURST)
    stop.set()
    await polling
    assert answers_by_chat(telegram) == Counter(chats)
    assert first_in_work.most <= IN_WORK


async def post(
    http: aiohttp.ClientSession, url: str, update: dict[str, Any]
) -> aiohttp.ClientResponse:
    async with http.post(
        url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    ) as resp:
        await resp.read()
        return resp


async def deliver(http: aiohttp.ClientSession, url: str, update: dict[str, Any]) -> int:
    """As Telegram: the update again after each refusal, until it is taken; the refusals."""
    refused = 0
    while True:
        resp = await post(http, url, update)
        if resp.status == 200:
            return refused
        assert resp.status == 503
        assert resp.headers["Retry-After"].isdigit()
        refused += 1
        await asyncio.sleep(0.01)  # Telegram waits Retry-After; no need here


async def test_a_webhook_burst_is_answered_once_each_with_at_most_n_in_work(
    telegram: FakeTelegram, make_settings: Callable[..., Settings]
) -> None:
    """40 connections at once, as Telegram opens by default (max_connections)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    settings = make_settings(webhook_url=url, webhook_secret=SECRET, **UNPACED)
    bot, dispatcher, in_work = instrumented(settings)
    runner = await start_server(build_webhook_app(settings, bot, dispatcher), "127.0.0.1", port)
    chats = range(FIRST_CHAT, FIRST_CHAT + BURST)
    updates = [telegram.new_update("/help", chat_id=chat) for chat in chats]
    connections = asyncio.Semaphore(40)

    async def one(update: dict[str, Any]) -> int:
        async with connections:
            return await deliver(http, url, update)

    try:
        async with aiohttp.ClientSession() as http:
            refused = await asyncio.gather(*(one(update) for update in updates))
        await telegram.wait_for("sendMessage", BURST)
    finally:
        await runner.cleanup()
    assert in_work.most == IN_WORK
    assert answers_by_chat(telegram) == Counter(chats)
    assert set(in_work.seen.values()) == {1}
    # 40 at once against 4 in work and a line of 16: some were refused and came again.
    assert sum(refused) > 0


async def test_a_webhook_shutdown_works_off_every_update_it_took(
    telegram: FakeTelegram, make_settings: Callable[..., Settings]
) -> None:
    """Updates answered 200 and still waiting when SIGTERM comes are handled before the
    bot stops; one that finds the line full is refused with 503, and not handled."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    settings = make_settings(webhook_url=url, webhook_secret=SECRET, **UNPACED)
    bot, dispatcher, in_work = instrumented(settings)
    runner = await start_server(build_webhook_app(settings, bot, dispatcher), "127.0.0.1", port)
    released = asyncio.Event()
    held = 0

    async def hold(stage: str, call: Call) -> bool:
        nonlocal held
        if call.method == "sendMessage" and stage == "before":
            held += 1
            await released.wait()
        return False

    telegram.on_call = hold
    taken = IN_WORK + 4 * IN_WORK  # in work, and the line (WEBHOOK_LINE times as many)
    chats = range(FIRST_CHAT, FIRST_CHAT + taken)
    async with aiohttp.ClientSession() as http:
        for chat in chats:
            resp = await post(http, url, telegram.new_update("/help", chat_id=chat))
            assert resp.status == 200
        refused = await post(http, url, telegram.new_update("/help", chat_id=FIRST_CHAT - 1))
        assert refused.status == 503
    while held < IN_WORK:  # the workers are all waiting for Telegram
        await asyncio.sleep(0.01)
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as resp,
    ):
        metrics = await resp.text()
    assert f"bot_updates_in_work {IN_WORK}.0" in metrics
    assert f"bot_updates_waiting {taken - IN_WORK}.0" in metrics
    stopping = asyncio.create_task(runner.cleanup())
    await asyncio.sleep(0.05)
    assert not stopping.done()  # it waits for the updates taken
    released.set()
    await stopping
    assert answers_by_chat(telegram) == Counter(chats)
    assert in_work.most == IN_WORK


async def test_a_shutdown_whose_grace_runs_out_names_the_updates_not_finished() -> None:
    """For polling to leave them to Telegram: the one cut off in work and those waiting."""
    released = asyncio.Event()
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def stuck(message: Message) -> None:
        await released.wait()

    bot = Bot("1:unused")
    intake = Intake(dispatcher, bot, workers=1, line=5)
    intake.start()
    for n in (7, 8, 9):
        assert intake.offer(FakeTelegram().new_update("/x", chat_id=n) | {"update_id": n})
    while not intake.in_work:
        await asyncio.sleep(0.01)
    assert await intake.close(grace=0.05) == [7, 8, 9]
    assert not intake.offer({"update_id": 10})  # closed
    await bot.session.close()
