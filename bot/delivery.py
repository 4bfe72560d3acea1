"""Sending results to Telegram without losing them to transient errors.

Flood limits are waited out, network and server errors retried with backoff; a result that
still cannot be sent is reported as RETRY_LATER so the tracker keeps the job and tries again.
A user who blocked the bot (or a chat that is gone) ends the job quietly.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import BufferedInputFile, ReplyParameters

from bot.errors import ErrorKind
from bot.jobs import Job
from bot.texts import Texts

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[Any]]


class Outcome(StrEnum):
    SENT = "sent"
    GONE = "gone"
    RETRY_LATER = "retry_later"


class Delivery:
    def __init__(
        self,
        bot: Bot,
        texts: Texts,
        *,
        attempts: int = 5,
        max_flood_wait: float = 120.0,
        backoff: float = 0.5,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._bot = bot
        self._texts = texts
        self._attempts = attempts
        self._max_flood_wait = max_flood_wait
        self._backoff = backoff
        self._sleep = sleep

    async def photo(self, job: Job, image: bytes) -> Outcome:
        """Reply to the request with the picture, then remove the status message."""
        photo = BufferedInputFile(image, filename=f"yandexart-{job.seed}.jpg")
        caption = self._texts.caption(job)
        try:
            outcome = await self._send(
                job,
                lambda chat_id: self._bot.send_photo(
                    chat_id,
                    photo,
                    caption=caption,
                    parse_mode=ParseMode.HTML,
                    reply_parameters=_reply_to(job),
                ),
            )
        except TelegramBadRequest as exc:
            log.warning("job %s: Telegram refused the picture: %s", job.id, exc.message)
            return Outcome.GONE
        if outcome is Outcome.SENT and job.status_message_id is not None:
            await self._quietly(self._bot.delete_message(job.chat_id, job.status_message_id))
        return outcome

    async def failure(self, job: Job, kind: ErrorKind) -> Outcome:
        """Turn the status message into the explanation, or send it anew if that is gone."""
        text = self._texts.failure(job, kind)
        if job.status_message_id is not None:
            message_id = job.status_message_id
            try:
                return await self._send(
                    job,
                    lambda chat_id: self._bot.edit_message_text(
                        text, chat_id=chat_id, message_id=message_id
                    ),
                )
            except TelegramBadRequest as exc:
                if "not modified" in exc.message:
                    return Outcome.SENT
                log.info("job %s: status message cannot be edited, sending anew", job.id)
        try:
            return await self._send(
                job,
                lambda chat_id: self._bot.send_message(
                    chat_id, text, reply_parameters=_reply_to(job)
                ),
            )
        except TelegramBadRequest as exc:
            log.warning("job %s: Telegram refused the error message: %s", job.id, exc.message)
            return Outcome.GONE

    async def _send(self, job: Job, call: Callable[[int], Awaitable[object]]) -> Outcome:
        """Run `call(chat_id)` through flood waits and retries; a bad request is raised,
        since only the caller knows what to do instead."""
        chat_id = job.chat_id
        for attempt in range(self._attempts):
            try:
                await call(chat_id)
                return Outcome.SENT
            except TelegramRetryAfter as exc:
                if exc.retry_after > self._max_flood_wait:
                    return Outcome.RETRY_LATER
                log.info("job %s: flood limit, waiting %ss", job.id, exc.retry_after)
                await self._sleep(exc.retry_after)
            except TelegramMigrateToChat as exc:
                chat_id = exc.migrate_to_chat_id
            except (TelegramForbiddenError, TelegramNotFound):
                log.info("job %s: chat %s is gone, dropping the result", job.id, chat_id)
                return Outcome.GONE
            except (TelegramNetworkError, TelegramServerError) as exc:
                delay = self._backoff * 2**attempt * random.uniform(0.5, 1.5)
                log.info("job %s: %s, retrying in %.1fs", job.id, type(exc).__name__, delay)
                await self._sleep(delay)
        return Outcome.RETRY_LATER

    async def _quietly(self, call: Awaitable[object]) -> None:
        """For clean-ups whose failure changes nothing for the user."""
        try:
            await call
        except TelegramAPIError as exc:
            log.debug("clean-up call failed: %s", type(exc).__name__)


def _reply_to(job: Job) -> ReplyParameters | None:
    if job.reply_to_message_id is None:
        return None
    return ReplyParameters(message_id=job.reply_to_message_id, allow_sending_without_reply=True)
