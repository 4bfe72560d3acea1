"""SpeechKit synchronous recognition (API v1): one OGG/Opus voice message in, its text out.

`POST /speech/v1/stt:recognize?lang=…` with the audio as the body and the same auth header
as YandexART. `folderId` is sent only with an IAM token (a user or federated account needs
it); with an API key, which belongs to a service account, the reference says not to send
it. Errors are the typed Yandex errors of `bot.yandex.errors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.yandex.http import YandexHttp

RECOGNIZE_PATH = "/speech/v1/stt:recognize"


def recognize_params(lang: str, folder_id: str | None) -> dict[str, str]:
    """The query: the language, and the folder only when the credentials need it."""
    params = {"lang": lang}
    if folder_id is not None:
        params["folderId"] = folder_id
    return params


def pick_result(payload: Mapping[str, Any]) -> str:
    """The recognised text; empty when SpeechKit heard nothing."""
    result = payload.get("result")
    return result.strip() if isinstance(result, str) else ""


class SpeechKitClient:
    def __init__(self, http: YandexHttp, *, folder_id: str | None) -> None:
        """`folder_id`: set only for IAM-token credentials (see the module docstring)."""
        self._http = http
        self._folder_id = folder_id

    async def recognize(self, audio: bytes, lang: str) -> str:
        payload = await self._http.call(
            "POST",
            RECOGNIZE_PATH,
            params=recognize_params(lang, self._folder_id),
            data=audio,
            headers={"Content-Type": "audio/ogg"},
        )
        return pick_result(payload)

    async def close(self) -> None:
        await self._http.close()
