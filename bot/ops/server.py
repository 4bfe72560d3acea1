"""How the bot is served: long polling (default) or a webhook server, plus ops endpoints.

Both take updates through a bounded intake (bot/ops/intake.py, docs/intake.md) and stop on
SIGTERM/SIGINT: no new updates are taken, those taken are worked off, then the tracker hands
back its jobs, then sessions close.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import secrets
import signal
import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from aiohttp.web_log import AccessLogger

from bot.ops.app import create_bot, create_dispatcher, open_redis
from bot.ops.gc_tuning import tune_gc
from bot.ops.health import Ops
from bot.ops.intake import MAX_BATCH, Intake, Poller
from bot.ops.settings import Settings, StartupError
from bot.ops.startup import check_yandex, stop_on_signals, wait_for_telegram

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
# A connection that completes no request in this long is closed (aiohttp's default: an hour).
IDLE_TIMEOUT = 75.0
# Seconds an update's body may take to arrive once its headers did (Telegram sends it at once).
READ_TIMEOUT = 10.0
# At shutdown, the updates taken are worked off within this many seconds (the tracker's
# own grace follows; Docker waits 30 s, docker-compose.yml).
INTAKE_GRACE = 15.0
# A webhook's line of updates waiting for a worker: this many times UPDATES_IN_WORK.
WEBHOOK_LINE = 4
# Seconds Telegram is asked to wait before sending again an update refused as the line is full.
RETRY_AFTER = 2


async def run(settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT: long polling by default, a webhook when WEBHOOK_URL is set."""
    # Every port first: one taken is told before Telegram hears of this instance.
    sockets = bind_ports(settings.webhook_host, settings.listeners)
    try:
        await _run(settings, sockets)
    finally:
        for sock in sockets.values():
            sock.close()


async def _run(settings: Settings, sockets: dict[str, socket.socket]) -> None:
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
    ops = sockets.get("OPS_PORT", sockets.get("HEALTH_PORT"))
    ops_runner = None
    if ops is not None:
        ops_runner = await start_server(build_ops_app(bot, dispatcher), sock=ops)
    try:
        if settings.webhook_url is not None:
            await serve(build_webhook_app(settings, bot, dispatcher), sockets["WEBHOOK_PORT"])
            return
        await bot.delete_webhook()
        stop = asyncio.Event()
        with stop_on_signals(stop):
            await poll_updates(settings, bot, dispatcher, stop)
    finally:
        if ops_runner is not None:
            await ops_runner.cleanup()


async def poll_updates(
    settings: Settings,
    bot: Bot,
    dispatcher: Dispatcher,
    stop: asyncio.Event,
    *,
    polling_timeout: int = 10,
    grace: float = INTAKE_GRACE,
    close_bot_session: bool = True,
) -> None:
    """Long polling until `stop` is set, at most UPDATES_IN_WORK updates in work; then the
    updates taken are worked off and confirmed before the dispatcher shuts down. The Bot
    session is closed at the end unless told not to (as aiogram's `start_polling`)."""
    intake = Intake(dispatcher, bot, workers=settings.updates_in_work, line=MAX_BATCH)
    poller = Poller(
        bot, intake, allowed_updates=dispatcher.resolve_used_update_types(), timeout=polling_timeout
    )
    await dispatcher.emit_startup(bot=bot, dispatcher=dispatcher, **dispatcher.workflow_data)
    try:
        # As aiogram's polling did: who polls is logged (and a getMe is the sign, to tests
        # that run `python -m bot`, that start-up is over).
        me = await bot.me()
        log.info("polling for @%s", me.username)
        intake.start(dispatcher["metrics"])
        polling = asyncio.create_task(poller.run(), name="polling")
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({polling, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (polling, stopped):
                task.cancel()
            ended = await asyncio.gather(polling, stopped, return_exceptions=True)
        unfinished = await intake.close(grace)
        await poller.confirm(min(unfinished, default=None))
        for outcome in ended:
            if isinstance(outcome, Exception):
                raise outcome  # a bug in the polling loop: after the updates taken are done
    finally:
        try:
            await dispatcher.emit_shutdown(
                bot=bot, dispatcher=dispatcher, **dispatcher.workflow_data
            )
        finally:
            if close_bot_session:
                await bot.session.close()


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
    gets 403; a body that is not a JSON object, 400; one that does not arrive in
    `read_timeout`, 408 (else a client could hold a connection open for ever). An update is
    answered 200 as soon as the intake's line takes it, and handled after; with the line
    full or closed (shutting down), 503 with Retry-After, and Telegram sends it again."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        bot: Bot,
        *,
        secret_token: str,
        read_timeout: float,
        intake: Intake,
    ) -> None:
        super().__init__(dispatcher, bot, secret_token=secret_token)
        self.read_timeout = read_timeout
        self.intake = intake

    async def handle(self, request: web.Request) -> web.Response:
        # Header values arrive decoded with surrogate escapes: compare them as bytes, since
        # compare_digest refuses non-ASCII text.
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        expected = (self.secret_token or "").encode()
        if not expected or not secrets.compare_digest(given, expected):
            return web.Response(status=403, text="Forbidden")
        try:
            async with asyncio.timeout(self.read_timeout):
                body = await request.read()
        except TimeoutError:
            return web.Response(status=408, text="Request Timeout")
        try:
            update = json.loads(body)
        except ValueError:  # malformed JSON or text that is not UTF-8
            return web.Response(status=400, text="Bad Request")
        if not isinstance(update, dict):
            return web.Response(status=400, text="Bad Request")
        if not self.intake.offer(update):
            return web.Response(status=503, text="Busy", headers={"Retry-After": str(RETRY_AFTER)})
        return web.json_response({})


def build_webhook_app(
    settings: Settings, bot: Bot, dispatcher: Dispatcher, *, read_timeout: float = READ_TIMEOUT
) -> web.Application:
    assert settings.webhook_url is not None
    assert settings.webhook_secret is not None
    url = str(settings.webhook_url)
    secret = settings.webhook_secret.get_secret_value()
    app = web.Application()
    intake = Intake(
        dispatcher,
        bot,
        workers=settings.updates_in_work,
        line=WEBHOOK_LINE * settings.updates_in_work,
    )

    async def close_intake(_: web.Application) -> None:
        await intake.close(INTAKE_GRACE)

    # On shutdown (once the listener stopped), the updates answered 200 are worked off
    # first; then the dispatcher stops, so the tracker stops before the Bot session
    # (closed by the webhook handler's own shutdown hook) goes away.
    app.on_shutdown.append(close_intake)
    setup_application(app, dispatcher, bot=bot)

    async def set_webhook(_: web.Application) -> None:
        await bot.set_webhook(
            url,
            secret_token=secret,
            allowed_updates=dispatcher.resolve_used_update_types(),
        )

    async def open_intake(_: web.Application) -> None:
        intake.start(dispatcher["metrics"])

    app.on_startup.append(open_intake)
    app.on_startup.append(set_webhook)
    SecretWebhookHandler(
        dispatcher, bot, secret_token=secret, read_timeout=read_timeout, intake=intake
    ).register(app, path=urlsplit(url).path or "/")
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


def bind_ports(host: str, ports: dict[str, int]) -> dict[str, socket.socket]:
    """A bound socket for each port (served later); a port that cannot be had stops start-up
    with one line naming its setting."""
    bound: dict[str, socket.socket] = {}
    try:
        for name, port in ports.items():
            bound[name] = _bind(host, port, name)
    except StartupError:
        for sock in bound.values():
            sock.close()
        raise
    return bound


def _bind(host: str, port: int, name: str) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise StartupError(f"WEBHOOK_HOST: cannot listen on {host!r} ({exc.strerror})") from None
    try:
        # As aiohttp does: a restart may bind while the old connections linger in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"{name}: port {port} is already in use") from None
        reason = os.strerror(exc.errno) if exc.errno else type(exc).__name__
        raise StartupError(f"{name}: cannot listen on port {port} ({reason})") from None
    sock.setblocking(False)
    return sock


async def start_server(
    app: web.Application,
    host: str = "",
    port: int = 0,
    *,
    sock: socket.socket | None = None,
) -> web.AppRunner:
    """Serve the app on `sock` (bound by `bind_ports`), or on host:port. A request answered
    before its body arrived (403, 408) closes its connection at once: aiohttp would go on
    reading the body for 10 s."""
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log_class=QuietAccessLogger,
        keepalive_timeout=IDLE_TIMEOUT,
        lingering_time=0,
    )
    await runner.setup()
    site = web.SockSite(runner, sock) if sock is not None else web.TCPSite(runner, host, port)
    await site.start()
    log.info("listening on %s", site.name)
    return runner


async def serve(app: web.Application, sock: socket.socket) -> None:
    """Run an aiohttp app until SIGTERM/SIGINT, then shut it down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = await start_server(app, sock=sock)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
