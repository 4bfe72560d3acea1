"""Before serving: Telegram must accept the token (waited for while it cannot be reached) and
Yandex the credentials (a warning while it cannot be reached). Each failure an operator can
fix stops start-up with one line naming the setting."""

from __future__ import annotations

import asyncio
import logging
import random
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import User

from bot.core.netcause import network_cause, where
from bot.ops.app import create_yandex_http
from bot.ops.settings import Settings, StartupError
from bot.yandex.probe import probe_art

log = logging.getLogger(__name__)

TELEGRAM_TIMEOUT = 10
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 30.0
YANDEX_PROBE_TIMEOUT = 10.0


def backoff_delay(attempt: int, rng: random.Random) -> float:
    """Exponential backoff with jitter: the `attempt`-th wait (from 1) lies in [base/2, base]."""
    base = min(BACKOFF_CAP, BACKOFF_FIRST * 2.0 ** (attempt - 1))
    return base / 2 + rng.uniform(0, base / 2)


@contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set `stop` while the block runs (before aiogram installs its own)."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def wait_for_telegram(
    bot: Bot, stop: asyncio.Event, rng: random.Random | None = None
) -> User | None:
    """The bot's own user once Telegram answers `getMe`; None when stopped while waiting.

    Network errors, timeouts, 5xx, 429 and unreadable answers (a proxy's error page) are
    retried forever, with one log line per attempt; a refused token stops start-up."""
    rng = rng or random.Random()
    attempt = 0
    while not stop.is_set():
        attempt += 1
        try:
            return await bot.get_me(request_timeout=TELEGRAM_TIMEOUT)
        except TelegramUnauthorizedError:
            raise StartupError("BOT_TOKEN: Telegram refused the token (401 Unauthorized)") from None
        except TelegramNotFound:
            raise StartupError(
                "BOT_TOKEN or TELEGRAM_API_URL: Telegram answered getMe with 404 Not Found"
            ) from None
        except (
            TelegramNetworkError,
            TelegramServerError,
            TelegramRetryAfter,
            ClientDecodeError,
        ) as exc:
            delay = backoff_delay(attempt, rng)
            if isinstance(exc, TelegramRetryAfter):
                delay = max(delay, float(exc.retry_after))
            # The exception text may quote the URL, which holds the token: fixed words only.
            log.warning(
                "Telegram unreachable, attempt %d; cannot reach %s: %s; next try in %.1f s",
                attempt,
                where(str(bot.session.api.base)),
                network_cause(exc),
                delay,
            )
        except TelegramAPIError as exc:
            raise StartupError(
                f"TELEGRAM_API_URL: Telegram refused getMe ({type(exc).__name__})"
            ) from None
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
    return None


async def check_yandex(settings: Settings) -> None:
    """Refused credentials stop start-up; Yandex out of reach is only a warning (it may come
    back before the first request, and requests wait out outages anyway)."""
    http = create_yandex_http(settings, timeout=min(settings.http_timeout, YANDEX_PROBE_TIMEOUT))
    try:
        probe = await probe_art(http)
    finally:
        await http.close()
    if probe.accepted is False:
        name = settings.yandex_credential
        hint = "; IAM tokens expire after 12 h" if name == "YANDEX_IAM_TOKEN" else ""
        raise StartupError(f"{name}: Yandex refused the credentials ({probe.detail}){hint}")
    if probe.accepted is None:
        log.warning("Yandex unreachable at start (%s); starting anyway", probe.detail)
