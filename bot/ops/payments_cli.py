"""`python -m bot payments --since YYYY-MM-DD`: reconcile the credit ledger with Telegram's
list of Stars transactions (getStarTransactions) and print every difference.

Exit 0 when both agree, 1 when they differ, 2 when the check cannot run. The ledger must
be in Redis (REDIS_URL): the memory ledger lives and dies with the bot process."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from aiogram.exceptions import TelegramAPIError

from bot.core.errors import StoreUnavailable
from bot.ops.settings import Settings, StartupError, load_settings
from bot.services.wallet import Difference, differences

USAGE = "usage: python -m bot payments --since YYYY-MM-DD"
TIMEOUT = 300.0


def parse_since(args: list[str]) -> float | None:
    """The UTC midnight of `--since DATE`, or None when the arguments are wrong."""
    if len(args) != 2 or args[0] != "--since":
        return None
    try:
        day = datetime.strptime(args[1], "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return day.timestamp()


def main(args: list[str]) -> int:
    since = parse_since(args)
    if since is None:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        settings = load_settings()
        if not settings.uses_redis:
            raise StartupError(
                "REDIS_URL (or REDIS_SENTINELS): needed to read the ledger outside the bot"
            )
        found = asyncio.run(reconcile(settings, since))
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (TelegramAPIError, StoreUnavailable, TimeoutError) as exc:
        print(f"error: cannot reconcile now ({type(exc).__name__})", file=sys.stderr)
        return 2
    for line in report(found):
        print(line)
    return 1 if found else 0


async def reconcile(settings: Settings, since: float) -> list[Difference]:
    from bot.ops.app import connect_redis, connect_sentinel, create_bot
    from bot.storage.redis_credits import RedisCreditStore
    from bot.telegram.stars import Stars

    if settings.redis_sentinels:
        redis = await connect_sentinel(settings)
    else:
        assert settings.redis_url is not None
        redis = await connect_redis(settings.redis_url)
    bot = create_bot(settings)
    try:
        async with asyncio.timeout(TIMEOUT):
            told, _ = await Stars(bot).transactions(since)
            ledger = await RedisCreditStore(redis).all_payments()
    finally:
        await bot.session.close()
        await redis.aclose()
    return differences(ledger, told, since)


def report(found: list[Difference]) -> list[str]:
    if not found:
        return ["ledger and Telegram agree"]
    lines = [f"{len(found)} difference(s): charge id, user, Stars, ledger, Telegram"]
    lines += [f"{d.charge_id}\t{d.user_id}\t{d.stars}\t{d.ledger}\t{d.telegram}" for d in found]
    return lines
