"""Run a module (`python -m bench.fast MODULE`) on uvloop's event loop with orjson as
aiogram's JSON library: how bench.throughput measures both for the bot and the echo bot
alike without making them dependencies of the bot.

aiogram's sessions take `json_loads`/`json_dumps` (BaseSession); here their defaults are
swapped for orjson's, and the event-loop policy for uvloop's, before the module runs.
"""

from __future__ import annotations

import asyncio
import functools
import runpy
import sys
from typing import Any

import orjson
import uvloop
from aiogram.client.session.base import BaseSession


def orjson_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def main() -> None:
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    original = BaseSession.__init__

    @functools.wraps(original)
    def init(self: BaseSession, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("json_loads", orjson.loads)
        kwargs.setdefault("json_dumps", orjson_dumps)
        original(self, *args, **kwargs)

    setattr(BaseSession, "__init__", init)  # noqa: B010 - the defaults swapped
    module = sys.argv.pop(1)
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
