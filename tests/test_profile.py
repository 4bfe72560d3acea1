"""What Telegram shows about the bot comes from the catalogs, per language, and is sent only
when it changed (a hash in the store), so restarts do not hit Telegram's limits."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram import Bot

from bot.core.errors import StoreUnavailable
from bot.core.prompt import Limits
from bot.emulators.telegram import FakeTelegram
from bot.ops.app import (
    COMMANDS,
    DEFAULT_LOCALE,
    EPHEMERAL_COMMANDS,
    connect_redis,
    create_bot,
    create_store,
)
from bot.ops.settings import Settings
from bot.services.profile import BotProfile
from bot.storage.base import JobStore
from bot.storage.memory import MemoryJobStore
from bot.telegram.catalogs import PackagedI18n
from bot.telegram.texts import Texts
from tests.bot_process import BOT_TOKEN, ROOT
from tests.conftest import RunningBot

PROFILE_METHODS = ("setMyCommands", "setMyDescription", "setMyShortDescription")


def _profile(store: JobStore, i18n: PackagedI18n | None = None) -> BotProfile:
    texts = Texts(i18n or PackagedI18n(), Limits(), 1800)
    return BotProfile(store, texts, commands=COMMANDS, default_locale=DEFAULT_LOCALE)


def _profile_calls(telegram: FakeTelegram) -> list[str]:
    return [c.method for c in telegram.calls if c.method in PROFILE_METHODS]


@pytest.fixture
async def bot(make_settings: Callable[..., Settings]) -> Any:
    instance = create_bot(make_settings())
    yield instance
    await instance.session.close()


async def test_the_profile_is_set_from_the_catalogs_in_both_languages(
    running: RunningBot, telegram: FakeTelegram
) -> None:
    await telegram.wait_for("setMyShortDescription", 2)
    i18n = PackagedI18n()
    for language, locale in (("", "en"), ("ru", "ru")):
        assert telegram.profile[("description", language)] == i18n.gettext(
            "bot.description", locale=locale
        )
        assert telegram.profile[("short_description", language)] == i18n.gettext(
            "bot.short_description", locale=locale
        )
        commands = telegram.profile[("commands", language)]
        assert [c["command"] for c in commands] == list(COMMANDS)
        assert commands[0]["description"] == i18n.gettext("cmd.art", locale=locale)
        # Answered to their sender alone in groups: marked so in the menu; /art is public.
        ephemeral = {c["command"] for c in commands if c.get("is_ephemeral")}
        assert ephemeral == set(EPHEMERAL_COMMANDS) == {"help", "history", "styles"}
    # Every call was accepted: the catalogs keep to Telegram's limits.
    assert all(c.result is True for c in telegram.calls if c.method in PROFILE_METHODS)
    assert len(_profile_calls(telegram)) == 6


async def test_a_restart_sends_nothing_that_did_not_change(
    bot: Bot, telegram: FakeTelegram, redis_url: str, make_settings: Callable[..., Settings]
) -> None:
    """Two starts over the same Redis: the second sends nothing."""
    settings = make_settings(redis_url=redis_url)
    for expected in (6, 0):
        redis = await connect_redis(redis_url)
        store = create_store(settings, redis)
        try:
            assert await _profile(store).apply(bot) == expected
        finally:
            await store.close()
    assert len(_profile_calls(telegram)) == 6


async def test_an_edited_catalog_resends_only_what_changed(
    bot: Bot, telegram: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MemoryJobStore(lease_seconds=60, retention_seconds=60)
    assert await _profile(store).apply(bot) == 6
    edited = tmp_path / "edited_locales"
    shutil.copytree(ROOT / "locales", edited, ignore=shutil.ignore_patterns("*.mo"))
    po = edited / "ru" / "LC_MESSAGES" / "messages.po"
    text = po.read_text(encoding="utf-8")
    po.write_text(
        text.replace('msgstr "Рисую картинки с помощью', 'msgstr "Рисую картины с помощью')
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert await _profile(store, PackagedI18n(package="edited_locales")).apply(bot) == 1
    assert _profile_calls(telegram)[-1] == "setMyShortDescription"
    assert telegram.profile[("short_description", "ru")].startswith("Рисую картины")


async def test_a_refused_call_is_tried_again_at_the_next_start(
    bot: Bot, telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    telegram.fail("setMyDescription", 429, "Too Many Requests: retry after 30", retry_after=30)
    store = MemoryJobStore(lease_seconds=60, retention_seconds=60)
    assert await _profile(store).apply(bot) == 5
    assert telegram.faults["setMyDescription"] == []
    assert "setMyDescription (default) not set: TelegramRetryAfter" in caplog.text
    assert await _profile(store).apply(bot) == 1
    assert ("description", "") in telegram.profile


class DownStore(MemoryJobStore):
    """The store is unreachable (Redis down at start)."""

    async def cache_get(self, key: str) -> str | None:
        raise StoreUnavailable

    async def cache_put(self, key: str, value: str, ttl: float, owner: int | None = None) -> None:
        raise StoreUnavailable


async def test_without_the_store_the_profile_is_sent_anyway(
    bot: Bot, telegram: FakeTelegram
) -> None:
    store = DownStore(lease_seconds=60, retention_seconds=60)
    assert await _profile(store).apply(bot) == 6
    assert await _profile(store).apply(bot) == 6


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("setMyDescription", {"description": "x" * 513}),
        ("setMyShortDescription", {"short_description": "😀" * 61}),
        ("setMyCommands", {"commands": '[{"command": "art", "description": "' + "x" * 257 + '"}]'}),
        ("setMyCommands", {"commands": '[{"command": "Art", "description": "draw"}]'}),
    ],
)
async def test_the_fake_refuses_what_telegram_refuses(
    telegram: FakeTelegram, method: str, params: dict[str, str]
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{telegram.url}/bot{BOT_TOKEN}/{method}", data=params) as response,
    ):
        body = await response.json()
    assert response.status == 400
    assert body["ok"] is False
    assert telegram.profile == {}
