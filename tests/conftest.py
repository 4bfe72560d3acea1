"""Fixtures: the fake Bot API and YandexART servers, and the real bot wired to them."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from hypothesis import settings as hypothesis_settings
from redis.asyncio import Redis

from bot.core.backend import ImageBackend
from bot.emulators.images import FakeImages
from bot.emulators.speechkit import FakeSpeechKit
from bot.emulators.telegram import FakeTelegram
from bot.emulators.yandexart import FakeYandex
from bot.ops.app import create_bot, create_dispatcher, open_redis
from bot.ops.server import poll_updates
from bot.ops.settings import Settings, load_settings
from tests.bot_process import API_KEY, BOT_TOKEN, FOLDER, close_zygote, zygote
from tests.redis_server import RedisServer

# Hypothesis fails an example slower than 200 ms by default: a timing in a pass/fail test,
# and one that a loaded machine (four workers on two cores) breaks. Off for the suite.
hypothesis_settings.register_profile("suite", deadline=None)
hypothesis_settings.load_profile("suite")

# Fast schedules so a whole generation takes a fraction of a second.
FAST = {
    "poll_first_delay": 0.05,
    "poll_growth": 1.5,
    "poll_max_interval": 0.2,
    "poll_min_gap": 0.05,
    "poll_prior_median": 0.2,
    "poll_rate_limit": 200.0,
    "generation_deadline": 30.0,
    "submit_patience": 10.0,
    "http_timeout": 5.0,
    # Pacing is tested on its own; elsewhere it would only slow the tests down.
    "chat_messages_per_second": 100.0,
    "group_messages_per_minute": 6000.0,
    # Likewise the fair-use limits and the submit budget, tested in test_e2e_limits.py.
    "max_concurrent_per_user": 1000,
    "daily_quota_per_user": 100000,
    "submit_rate_per_minute": 600000.0,
    # Private chats answer with the status message; live drafts are tested on their own
    # (test_e2e_telegram_features.py).
    "live_progress": False,
}
# The bot as most tests know it: YandexART alone, at the URI of the how-to it was built from
# (the defaults offer both models; tests that need both say so).
ONE_MODEL = {
    "models": "yandexart",
    "default_model": "yandexart",
    "art_model_uri": "art://{folder}/yandex-art/latest",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "long: a test of many seconds, run first so it does not end the run alone"
    )


def _forks_bots(item: pytest.Item) -> bool:
    """Whether the test's module starts bot processes (from the zygote)."""
    module = getattr(item, "module", None)
    return hasattr(module, "BotProcess") or hasattr(module, "run_command")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long tests first, those that start no bot process before those that do, so
    that they are spread over the workers from the start instead of forming the run's tail
    (xdist hands tests out in this order), while the zygote imports (tests/bot_process.py).
    The zygote starts here when any test will need it."""

    def order(item: pytest.Item) -> int:
        if item.get_closest_marker("long") is None:
            return 2
        return 1 if _forks_bots(item) else 0

    items.sort(key=order)
    if any(_forks_bots(item) for item in items):
        zygote()


def pytest_sessionfinish() -> None:
    close_zygote()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session; each test gets its own database via `redis_url`."""
    server = RedisServer(tmp_path_factory.mktemp("redis"), durable=False)
    server.start()
    yield server
    server.stop()


_databases = itertools.count(1)


@pytest.fixture
async def redis_url(redis_server: RedisServer) -> AsyncIterator[str]:
    """A URL to an empty Redis database, flushed after the test."""
    url = f"redis://127.0.0.1:{redis_server.port}/{next(_databases) % 16}"
    client = Redis.from_url(url)
    await client.flushdb()
    yield url
    await client.flushdb()
    await client.aclose()


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


ALICE_URI = f"art://{FOLDER}/aliceai-image-art-3.0"


@pytest.fixture
async def images() -> AsyncIterator[FakeImages]:
    """The Images API emulator (model `aliceai`), for tests that offer both models."""
    server = FakeImages(api_key=API_KEY, model_uri=ALICE_URI)
    await server.start()
    yield server
    server.hold.set()  # a held call must end before the server can stop
    await server.stop()


@pytest.fixture
async def speechkit() -> AsyncIterator[FakeSpeechKit]:
    """The SpeechKit emulator, for the voice tests and `check`."""
    server = FakeSpeechKit(api_key=API_KEY)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def yandex() -> AsyncIterator[FakeYandex]:
    server = FakeYandex(api_key=API_KEY)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def make_settings(telegram: FakeTelegram, yandex: FakeYandex) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "_env_file": None,
            "bot_token": BOT_TOKEN,
            "yandex_folder_id": FOLDER,
            "yandex_api_key": API_KEY,
            "telegram_api_url": telegram.url,
            "yandex_api_url": yandex.url,
            **FAST,
            **ONE_MODEL,
        }
        values.update(overrides)
        return load_settings(**values)

    return make


@dataclass
class RunningBot:
    bot: Bot
    dispatcher: Dispatcher
    task: asyncio.Task[None]
    stopping: asyncio.Event

    async def stop(self) -> None:
        """As SIGTERM: the updates taken are worked off, then the bot stops."""
        self.stopping.set()
        await self.task
        await close_session(self.bot)


async def close_session(bot: Bot) -> None:
    """Close the bot's HTTP session without aiogram's 250 ms wait for TLS connections to wind
    down (`AiohttpSession.close`): the fakes speak plain HTTP, and every test paid it."""
    assert isinstance(bot.session, AiohttpSession)
    if bot.session._session is not None:
        await bot.session._session.close()


@pytest.fixture
async def start_bot(
    telegram: FakeTelegram, make_settings: Callable[..., Settings]
) -> AsyncIterator[Callable[..., Any]]:
    """Start the real dispatcher, polling the fake Bot API as `python -m bot` does (at most
    UPDATES_IN_WORK updates in work); stopped after the test."""
    running: list[RunningBot] = []

    async def start(
        clock: Callable[[], float] = time.time,
        backend: ImageBackend | None = None,
        **overrides: Any,
    ) -> RunningBot:
        settings = make_settings(**overrides)
        redis = await open_redis(settings)
        bot = create_bot(settings)
        dispatcher = create_dispatcher(settings, bot, redis=redis, backend=backend, clock=clock)
        stopping = asyncio.Event()
        task = asyncio.create_task(
            poll_updates(
                settings, bot, dispatcher, stopping, polling_timeout=1, close_bot_session=False
            )
        )
        instance = RunningBot(bot, dispatcher, task, stopping)
        running.append(instance)
        await telegram.wait_for("setMyCommands", 2)
        return instance

    yield start
    for instance in running:
        await instance.stop()


@pytest.fixture
async def running(start_bot: Callable[..., Any]) -> RunningBot:
    result: RunningBot = await start_bot()
    return result


class ClusterCheckedRedis(Redis):
    """The real client, except that every script it registers is marked `#!lua`: on a
    cluster node Redis then refuses a script touching keys of two slots (it lets an
    unmarked one through, for old scripts' sake)."""

    def register_script(self, script: str | bytes | memoryview) -> Any:
        text = script if isinstance(script, str) else bytes(script).decode()
        return super().register_script("#!lua\n" + text)


@pytest.fixture(scope="session")
def redis_cluster_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A one-node Redis Cluster (all slots), for the session."""
    server = RedisServer(tmp_path_factory.mktemp("redis-cluster"), cluster=True, durable=False)
    server.start()
    yield server
    server.stop()
