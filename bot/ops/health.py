"""Operator endpoints: `/healthz` (store and Telegram reachable, the job loop making
progress) and `/metrics` (Prometheus)."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.core.errors import StoreUnavailable
from bot.core.netcause import network_cause
from bot.services.metrics import Metrics
from bot.services.tracker import Tracker
from bot.storage.base import JobStore

log = logging.getLogger(__name__)
CHECK_TIMEOUT = 5.0


class Ops:
    def __init__(self, bot: Bot, store: JobStore, metrics: Metrics, tracker: Tracker) -> None:
        self._bot = bot
        self._store = store
        self._metrics = metrics
        self._tracker = tracker

    def register(self, app: web.Application) -> None:
        app.router.add_get("/healthz", self.health)
        app.router.add_get("/metrics", self.metrics)

    async def health(self, request: web.Request) -> web.Response:
        self._metrics.ops_requests.labels(request.path).inc()
        checks = {
            "store": await self._store_ok(),
            "telegram": await self._telegram_ok(),
            # The store may answer PING and still refuse every write (OOM, READONLY).
            "jobs": not self._tracker.stalled(),
        }
        status = 200 if all(checks.values()) else 503
        body = {name: "ok" if ok else "down" for name, ok in checks.items()}
        return web.json_response(body, status=status)

    async def metrics(self, request: web.Request) -> web.Response:
        self._metrics.ops_requests.labels(request.path).inc()
        try:
            self._metrics.pending.set(await self._store.active_count())
        except StoreUnavailable:
            log.debug("pending jobs unknown: store unavailable")
        return web.Response(
            body=self._metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def _store_ok(self) -> bool:
        try:
            return await asyncio.wait_for(self._store.ping(), CHECK_TIMEOUT)
        except TimeoutError:
            return False

    async def _telegram_ok(self) -> bool:
        try:
            await self._bot.get_me(request_timeout=int(CHECK_TIMEOUT))
        except TelegramAPIError as exc:
            log.warning("health: Telegram unreachable (%s)", network_cause(exc))
            return False
        return True
