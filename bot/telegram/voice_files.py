"""Fetching a voice message's audio from the configured Bot API server, into memory only.

`getFile` gives the file's path; the bytes come from `{TELEGRAM_API_URL}/file/bot<token>/
<path>` (aiogram's `TelegramAPIServer.file_url`, the same server as every other call),
with a total timeout and a size cap: more than `max_bytes` is refused, not read. Nothing is
written to disk.
"""

from __future__ import annotations

import asyncio
import math

import aiohttp
from aiogram import Bot
from aiogram.exceptions import TelegramAPIError

CHUNK = 65536


class DownloadFailed(Exception):
    """The audio could not be fetched (gone, too big, or Telegram unreachable)."""


class VoiceFiles:
    def __init__(self, bot: Bot, *, max_bytes: int, timeout: float) -> None:
        self._bot = bot
        self._max_bytes = max_bytes
        self._timeout = timeout
        self._whole_seconds = max(1, math.ceil(timeout))  # aiogram takes whole seconds

    async def download(self, file_id: str) -> bytes:
        try:
            async with asyncio.timeout(self._timeout):
                file = await self._bot.get_file(file_id, request_timeout=self._whole_seconds)
                if file.file_path is None:
                    raise DownloadFailed("no file path")
                if file.file_size is not None and file.file_size > self._max_bytes:
                    raise DownloadFailed("too large")
                return await self._read(file.file_path)
        except (TelegramAPIError, aiohttp.ClientError, TimeoutError) as exc:
            # The exception text may hold the file URL, and with it the token.
            raise DownloadFailed(type(exc).__name__) from None

    async def _read(self, file_path: str) -> bytes:
        session = self._bot.session
        url = session.api.file_url(self._bot.token, file_path)
        data = bytearray()
        stream = session.stream_content(url, timeout=self._whole_seconds, chunk_size=CHUNK)
        try:
            async for chunk in stream:
                data += chunk
                if len(data) > self._max_bytes:
                    raise DownloadFailed("too large")
        finally:
            await stream.aclose()
        return bytes(data)
