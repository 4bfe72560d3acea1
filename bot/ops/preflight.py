"""`python -m bot check`: what an operator runs first. One line per dependency, ✓ or ✗ with
the reason; nothing is generated and nothing is changed at Telegram."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramServerError,
    TelegramUnauthorizedError,
)

from bot.core.netcause import network_cause, where
from bot.ops.app import REDIS_TIMEOUT, create_bot, create_yandex_http
from bot.ops.settings import Settings
from bot.ops.startup import TELEGRAM_TIMEOUT, YANDEX_PROBE_TIMEOUT
from bot.yandex.probe import Probe, probe_art, probe_gpt

# A webhook delivery error younger than this fails the check (older ones are history).
RECENT_ERROR = 3600.0


@dataclass(frozen=True)
class Line:
    ok: bool
    name: str
    detail: str

    def render(self) -> str:
        return f"{'✓' if self.ok else '✗'} {self.name}: {self.detail}"


async def run_checks(settings: Settings) -> list[Line]:
    """Every check, in the order an operator fixes things (settings were valid to get here)."""
    lines = [Line(True, "settings", "valid")]
    bot = create_bot(settings)
    try:
        lines.append(await check_telegram(bot, where(str(settings.telegram_api_url))))
        if settings.webhook_url is not None and lines[-1].ok:
            lines.append(await check_webhook(bot, str(settings.webhook_url)))
    finally:
        await bot.session.close()
    http = create_yandex_http(settings, timeout=min(settings.http_timeout, YANDEX_PROBE_TIMEOUT))
    try:
        art = await probe_art(http)
        gpt = await probe_gpt(http, settings.gpt_model_uri_resolved)
    finally:
        await http.close()
    lines.append(_probe_line("YandexART", art, settings.yandex_credential))
    lines.append(_probe_line("YandexGPT", gpt, f"{settings.yandex_credential} or GPT_MODEL_URI"))
    lines.append(await check_redis(settings.redis_url))
    return lines


async def check_telegram(bot: Bot, host: str) -> Line:
    try:
        me = await bot.get_me(request_timeout=TELEGRAM_TIMEOUT)
    except TelegramUnauthorizedError:
        return Line(False, "Telegram", "BOT_TOKEN refused (401 Unauthorized)")
    except TelegramNotFound:
        return Line(False, "Telegram", "404 Not Found: check BOT_TOKEN and TELEGRAM_API_URL")
    except TelegramNetworkError as exc:
        return Line(False, "Telegram", f"cannot reach {host}: {network_cause(exc)}")
    except TelegramServerError as exc:
        return Line(False, "Telegram", f"{host} answered a server error ({type(exc).__name__})")
    except TelegramAPIError as exc:
        return Line(False, "Telegram", f"{host} refused getMe ({type(exc).__name__})")
    inline = "on" if me.supports_inline_queries else "off (@BotFather: /setinline)"
    # getMe does not tell whether inline feedback is on; only @BotFather shows it.
    return Line(
        True,
        "Telegram",
        f"@{me.username}, inline mode {inline}; inline feedback: see @BotFather "
        "/setinlinefeedback (Bot API does not report it)",
    )


async def check_webhook(bot: Bot, url: str) -> Line:
    try:
        info = await bot.get_webhook_info(request_timeout=TELEGRAM_TIMEOUT)
    except TelegramAPIError as exc:
        return Line(False, "webhook", f"getWebhookInfo failed ({type(exc).__name__})")
    if not info.url:
        state = "not set yet (the bot sets WEBHOOK_URL when it starts)"
    elif info.url != url:
        state = f"set to another URL, {info.url} (the bot sets WEBHOOK_URL when it starts)"
    else:
        state = f"set, {info.pending_update_count} updates pending"
    error_at = info.last_error_date.timestamp() if info.last_error_date else None
    if error_at is not None and time.time() - error_at < RECENT_ERROR:
        return Line(False, "webhook", f"{state}; last delivery failed: {info.last_error_message}")
    return Line(True, "webhook", state)


def _probe_line(name: str, probe: Probe, setting: str) -> Line:
    if probe.accepted is False:
        return Line(False, name, f"{setting} refused ({probe.detail})")
    return Line(bool(probe.accepted), name, probe.detail)


async def check_redis(url: str | None) -> Line:
    if not url:
        return Line(True, "Redis", "not used (REDIS_URL unset): jobs live in memory")
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    host = where(url) if urlsplit(url).hostname else url.split("://", 1)[0]
    redis = Redis.from_url(url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT)
    try:
        await redis.ping()
        server = await redis.info("server")
        persistence = await redis.info("persistence")
    except (RedisError, OSError) as exc:
        return Line(False, "Redis", f"REDIS_URL: cannot reach {host}: {network_cause(exc)}")
    finally:
        await redis.aclose()
    if persistence.get("aof_enabled") == 1:
        saved = "append-only file on"
    else:
        saved = "append-only file off: pending jobs are lost if Redis restarts"
    return Line(True, "Redis", f"{host}, version {server.get('redis_version')}, {saved}")


async def check(settings: Settings) -> int:
    """Print the lines; 0 when every part is fine."""
    lines = await run_checks(settings)
    for line in lines:
        print(line.render(), flush=True)
    return 0 if all(line.ok for line in lines) else 1


def run_check(settings: Settings) -> int:
    return asyncio.run(check(settings))
