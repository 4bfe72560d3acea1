"""A small fake of Yandex AI Studio's Images API: `POST /v1/images/generations`.

It refuses what the real one would, as far as its reference tells: a wrong key (401), a
body that is not the documented JSON, a wrong model URI, a size that is not two positive
integers joined by `x`, and any field the reference does not document or marks "currently
not supported" (a seed has no field at all; 400). A banned word gets the moderation answer.
Every picture is distinct and recorded, so a test can compare the bytes Telegram got.
Faults on demand: queued replies (`faults`), connections closed without an answer
(`drops`), and `hold` to keep a call waiting (e.g. while a test kills the bot in the middle
of it).
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.emulators.local_server import LocalServer
from bot.emulators.yandexart import MODERATION_MESSAGE, Reply

PATH = "/v1/images/generations"
DOCUMENTED = frozenset({"model", "prompt", "size"})
_SIZE = re.compile(r"^[1-9]\d*x[1-9]\d*$")


class FakeImages(LocalServer):
    def __init__(self, *, api_key: str, model_uri: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.model_uri = model_uri
        # Every call as (headers, body), refused or not.
        self.calls: list[tuple[dict[str, str], Any]] = []
        # Pictures answered, in order: what a user may have been billed for.
        self.images: list[bytes] = []
        self.faults: list[Reply] = []
        # Model names refused as models on every call (after the key passes).
        self.refused_models: dict[str, Reply] = {}
        self.drops = 0  # the next calls closed without an answer
        self.banned_words: set[str] = {"forbidden"}
        # While set, a call waits (without answering) until it is cleared.
        self.hold = asyncio.Event()
        self.hold.set()
        self.held = 0  # calls that reached the hold
        # The demo's knobs (off by default): how long a call takes, from its body, and the
        # picture it draws (None: distinct random bytes the tests compare).
        self.duration: Callable[[dict[str, Any]], float] | None = None
        self.image_factory: Callable[[dict[str, Any]], bytes] | None = None
        self.app.router.add_post(PATH, self._generate)

    async def _generate(self, request: web.Request) -> web.Response:
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        self.calls.append((dict(request.headers), body))
        if request.headers.get("Authorization") != f"Api-Key {self.api_key}":
            return _error(401, "Unknown api key", "invalid_api_key")
        if isinstance(body, dict) and body.get("model") in self.refused_models:
            refusal = self.refused_models[body["model"]]
            return web.json_response(refusal.body, status=refusal.status)
        problem = self._invalid(body)
        if problem is not None:
            return _error(400, problem, "invalid_request_error")
        if self.drops:
            self.drops -= 1
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=599)  # goes nowhere: the connection is closed
        if self.faults:
            fault = self.faults.pop(0)
            return web.json_response(fault.body, status=fault.status, headers=fault.headers)
        if any(word in body["prompt"].lower() for word in self.banned_words):
            return _error(400, MODERATION_MESSAGE, "invalid_request_error")
        if not self.hold.is_set():
            self.held += 1
            await self.hold.wait()
        if self.duration is not None:
            await asyncio.sleep(self.duration(body))
        if self.image_factory is not None:
            image = await asyncio.to_thread(self.image_factory, body)  # off the event loop
        else:
            image = b"\xff\xd8\xff\xe0" + body["size"].encode() + secrets.token_bytes(64)
        self.images.append(image)
        return web.json_response(
            {
                "created": 1764590400,
                "data": [{"b64_json": base64.b64encode(image).decode(), "revised_prompt": None}],
                "size": body["size"],
            }
        )

    def _invalid(self, body: Any) -> str | None:
        if not isinstance(body, dict):
            return "the body must be a JSON object"
        extra = sorted(set(body) - DOCUMENTED)
        if extra:
            return f"unsupported field: {extra[0]}"
        if body.get("model") != self.model_uri:
            return "unknown model"
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return "prompt must be a non-empty string"
        size = body.get("size")
        if not isinstance(size, str) or not _SIZE.match(size):
            return "size must be two positive integers separated by x"
        return None


def _error(status: int, message: str, code: str) -> web.Response:
    """OpenAI-style error body."""
    return web.json_response(
        {"error": {"message": message, "type": "invalid_request_error", "code": code}},
        status=status,
    )
