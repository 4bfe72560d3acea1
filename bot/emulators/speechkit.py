"""A small fake of SpeechKit's synchronous recognition (API v1, `stt:recognize`).

It refuses what the real service refuses: a wrong API key (401), an unknown language,
a body that is not OGG (`OggS`), more than 1 MB; and, stricter than documented, a
`folderId` sent with an API key (the reference says not to send it for a service account).
Answers `{"result": text}`; errors as v1 does, `{"error_code", "error_message"}`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from bot.emulators.local_server import LocalServer

LANGUAGES = frozenset({"auto", "de-DE", "en-US", "es-ES", "fi-FI", "fr-FR", "he-HE", "it-IT"})
LANGUAGES |= {"kk-KZ", "nl-NL", "pl-PL", "pt-PT", "pt-BR", "ru-RU", "sv-SE", "tr-TR", "uz-UZ"}
MAX_BYTES = 1024 * 1024


@dataclass
class Recognition:
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class SttFault:
    status: int
    code: str
    message: str = "refused"


class FakeSpeechKit(LocalServer):
    def __init__(self, *, api_key: str = "test-api-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.text = "a red fox in the snow"  # what every recognition answers
        # The demo's knob: what an audio says (None: `text`, whatever the audio).
        self.transcribe: Callable[[bytes], str] | None = None
        self.requests: list[Recognition] = []
        self.faults: list[SttFault] = []  # answered in order before any text
        # While cleared, recognitions wait (a test acts in the meantime); set by default.
        self.gate = asyncio.Event()
        self.gate.set()
        self.app.router.add_post("/speech/v1/stt:recognize", self._recognize)

    async def _recognize(self, request: web.Request) -> web.Response:
        body = await request.read()
        query = dict(request.query)
        self.requests.append(Recognition(query, dict(request.headers), body))
        await self.gate.wait()
        if request.headers.get("Authorization") != f"Api-Key {self.api_key}":
            return _error(401, "UNAUTHORIZED", "unknown api key")
        if "folderId" in query:
            return _error(400, "BAD_REQUEST", "folderId with a service account's key")
        if query.get("lang", "ru-RU") not in LANGUAGES:
            return _error(400, "BAD_REQUEST", "unsupported language")
        if not body.startswith(b"OggS") or len(body) > MAX_BYTES:
            return _error(400, "BAD_REQUEST", "audio is not OggOpus or too large")
        if self.faults:
            fault = self.faults.pop(0)
            return _error(fault.status, fault.code, fault.message)
        text = self.transcribe(body) if self.transcribe is not None else self.text
        return web.json_response({"result": text})


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error_code": code, "error_message": message}, status=status)
