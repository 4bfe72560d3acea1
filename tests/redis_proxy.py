"""A TCP proxy in front of a real redis-server, for kill points around store writes.

It forwards bytes both ways and calls a hook when a command it watches for (a Lua script,
by its SHA1, as redis-py sends it with EVALSHA) goes to the server ("before") and when the
server's answer to it comes back ("after"). A hook that answers True stops the proxying of
that connection there: the command never reaches Redis, or its answer never reaches the bot.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from contextlib import suppress
from urllib.parse import urlsplit

Hook = Callable[[str], Awaitable[bool]]
_CHUNK = 65536


def script_sha(script: str) -> bytes:
    return hashlib.sha1(script.encode()).hexdigest().encode()  # noqa: S324 - Redis's own id


class RedisProxy:
    def __init__(self, upstream_url: str, watched: bytes, hook: Hook) -> None:
        parts = urlsplit(upstream_url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 6379
        self._db = parts.path
        self._watched = watched
        self._hook = hook
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._hooks: set[asyncio.Future[bool]] = set()
        self.seen = 0  # watched commands that went through, "before" and "after" included
        self.url = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"redis://127.0.0.1:{port}{self._db}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _connect(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(self._host, self._port)
        except OSError:
            client_w.close()
            return
        waiting: list[bool] = []  # watched commands whose answer is due on this connection
        up = asyncio.create_task(self._upstream(client_r, server_w, waiting))
        down = asyncio.create_task(self._downstream(server_r, client_w, waiting))
        self._tasks |= {up, down}
        try:
            await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (up, down):
                task.cancel()
                self._tasks.discard(task)
            for writer in (client_w, server_w):
                writer.close()
                with suppress(OSError, asyncio.CancelledError):
                    await writer.wait_closed()

    async def _call_hook(self, stage: str) -> bool:
        """Shielded: the hook may kill the bot, which closes this connection and cancels
        the pumps, but the hook itself must run to its end."""
        task = asyncio.ensure_future(self._hook(stage))
        self._hooks.add(task)
        task.add_done_callback(self._hooks.discard)
        return await asyncio.shield(task)

    async def _upstream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, waiting: list[bool]
    ) -> None:
        while chunk := await reader.read(_CHUNK):
            if self._watched in chunk:
                if await self._call_hook("before"):
                    return
                waiting.append(True)
                self.seen += 1
            writer.write(chunk)
            await writer.drain()

    async def _downstream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, waiting: list[bool]
    ) -> None:
        while chunk := await reader.read(_CHUNK):
            if waiting:
                waiting.clear()
                if await self._call_hook("after"):
                    return
            writer.write(chunk)
            await writer.drain()
