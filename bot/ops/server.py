"""How the bot is served: long polling (default) or a webhook server, plus ops endpoints.

Both modes stop on SIGTERM/SIGINT: updates stop first, then the tracker hands back its jobs,
then sessions close.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import signal
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from aiohttp.web_log import AccessLogger

from bot.ops.app import create_bot, create_dispatcher, open_redis
from bot.ops.gc_tuning import tune_gc
from bot.ops.health import Ops
from bot.ops.settings import Settings
from bot.ops.startup import check_yandex, stop_on_signals, wait_for_telegram

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


async def run(settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT: long polling by default, a webhook when WEBHOOK_URL is set."""
    # Redis first: a wrong REDIS_URL is told at once, without waiting for Telegram.
    redis = await open_redis(settings)
    bot = create_bot(settings)
    try:
        stop = asyncio.Event()
        with stop_on_signals(stop):
            me = await wait_for_telegram(bot, stop)
            if me is not None:
                await check_yandex(settings)
    except BaseException:
        await _close(bot, redis)
        raise
    if me is None:
        log.info("stopped before Telegram answered")
        await _close(bot, redis)
        return
    log.info("Telegram accepted the token: @%s", me.username)
    dispatcher = create_dispatcher(settings, bot, redis=redis)
    tune_gc()
    # The ops endpoints on their own port (OPS_PORT; in polling mode also HEALTH_PORT), else
    # in webhook mode on the webhook listener.
    ops_port = settings.ops_port
    if ops_port is None and settings.webhook_url is None:
        ops_port = settings.health_port
    ops_runner = None
    if ops_port is not None:
        ops_runner = await start_server(
            build_ops_app(bot, dispatcher), settings.webhook_host, ops_port
        )
    try:
        if settings.webhook_url is not None:
            await serve(
                build_webhook_app(settings, bot, dispatcher),
                settings.webhook_host,
                settings.webhook_port,
            )
            return
        await bot.delete_webhook()
        await dispatcher.start_polling(bot, allowed_updates=dispatcher.resolve_used_update_types())
    finally:
        if ops_runner is not None:
            await ops_runner.cleanup()


async def _close(bot: Bot, redis: Redis | None) -> None:
    """What start-up opened, when it stops before serving."""
    await bot.session.close()
    if redis is not None:
        await redis.aclose()


def ops_for(bot: Bot, dispatcher: Dispatcher) -> Ops:
    return Ops(bot, dispatcher["store"], dispatcher["metrics"], dispatcher["tracker"])


def build_ops_app(bot: Bot, dispatcher: Dispatcher) -> web.Application:
    """/healthz and /metrics alone, for a port of their own."""
    app = web.Application()
    ops_for(bot, dispatcher).register(app)
    return app


class SecretWebhookHandler(SimpleRequestHandler):
    """Telegram's webhook with its secret checked first: a wrong, missing or malformed one
    gets 403; a body that is not JSON, 400."""

    async def handle(self, request: web.Request) -> web.Response:
        # Header values arrive decoded with surrogate escapes: compare them as bytes, since
        # compare_digest refuses non-ASCII text.
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        expected = (self.secret_token or "").encode()
        if not expected or not secrets.compare_digest(given, expected):
            return web.Response(status=403, text="Forbidden")
        try:
            json.loads(await request.read())
        except ValueError:  # malformed JSON or text that is not UTF-8
            return web.Response(status=400, text="Bad Request")
        return await super().handle(request)


def build_webhook_app(settings: Settings, bot: Bot, dispatcher: Dispatcher) -> web.Application:
    assert settings.webhook_url is not None
    assert settings.webhook_secret is not None
    url = str(settings.webhook_url)
    secret = settings.webhook_secret.get_secret_value()
    app = web.Application()
    # Dispatcher start-up and shutdown first, so the tracker stops before the Bot session
    # (closed by the webhook handler's own shutdown hook) goes away.
    setup_application(app, dispatcher, bot=bot)

    async def set_webhook(_: web.Application) -> None:
        await bot.set_webhook(
            url,
            secret_token=secret,
            allowed_updates=dispatcher.resolve_used_update_types(),
        )

    app.on_startup.append(set_webhook)
    SecretWebhookHandler(dispatcher, bot, secret_token=secret).register(
        app, path=urlsplit(url).path or "/"
    )
    if settings.ops_port is None:
        ops_for(bot, dispatcher).register(app)
    return app


# Paths polled by health checks and Prometheus: counted in /metrics, not logged.
QUIET_PATHS = frozenset({"/healthz", "/metrics"})


class QuietAccessLogger(AccessLogger):
    """aiohttp's access log, less the health checks and scrapes (one every few seconds)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if request.path not in QUIET_PATHS:
            super().log(request, response, time)


async def start_server(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, handle_signals=False, access_log_class=QuietAccessLogger)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("listening on %s:%s", host, port)
    return runner


async def serve(app: web.Application, host: str, port: int) -> None:
    """Run an aiohttp app until SIGTERM/SIGINT, then shut it down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = await start_server(app, host, port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
