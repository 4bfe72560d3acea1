"""Filters checked on the event loop.

aiogram runs a plain function given as a filter, and an `F` expression, through
`asyncio.to_thread` every time it checks one: a hop to a worker thread and back for each
update that reaches it (the first one in the routers' order, `F.successful_payment`, met
every message). So every filter of ours is async: `F` expressions go through `Magic`.
"""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import TelegramObject
from aiogram.utils.magic_filter import MagicFilter


class Magic(Filter):
    """An `F` expression (a magic filter) resolved on the event loop."""

    def __init__(self, magic: MagicFilter) -> None:
        self._magic = magic

    async def __call__(self, event: TelegramObject) -> Any:
        return self._magic.resolve(event)
