"""Room for pictures between the poll that brings one and Telegram taking it.

A poll of a finished operation carries the picture (150 kB to 1 MB), which stays in memory
until it is sent; when generations finish faster than Telegram's flood limits let pictures
out, they would pile up. So a poll takes a place first: at most `total` at once, and at most
`per_chat` for one chat, so that a chat far behind its own limit (a busy group) cannot take
every place and hold back everyone else's pictures.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

PICTURES_AT_ONCE = 32
PICTURES_PER_CHAT = 4


class PicturePlaces:
    def __init__(self, total: int = PICTURES_AT_ONCE, per_chat: int = PICTURES_PER_CHAT) -> None:
        self._total = asyncio.Semaphore(total)
        self._per_chat = per_chat
        self._held: Counter[int] = Counter()

    def chat_full(self, chat_id: int) -> bool:
        """This chat holds its share: its next poll should wait rather than queue here."""
        return self._held[chat_id] >= self._per_chat

    @asynccontextmanager
    async def place(self, chat_id: int) -> AsyncIterator[None]:
        # Counted while waiting too, so a chat cannot queue more than its share.
        self._held[chat_id] += 1
        try:
            async with self._total:
                yield
        finally:
            self._held[chat_id] -= 1
            if not self._held[chat_id]:
                del self._held[chat_id]
