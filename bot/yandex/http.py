"""One aiohttp session per Yandex Cloud API host (YandexART and YandexGPT share one, the
Images API and SpeechKit have their own): auth headers, a timeout on every call, errors
turned into typed exceptions, and the backoff between retries."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import aiohttp

from bot.yandex.errors import ServiceUnavailable, TransientError, classify_error

RETRY_AFTER_CAP = 60.0


class YandexHttp:
    def __init__(
        self, *, base_url: str, auth_header: str, folder_id: str | None, timeout: float
    ) -> None:
        """`folder_id` None: no `x-folder-id` header (SpeechKit v1 takes it in the query)."""
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": auth_header}
        if folder_id is not None:
            self._headers["x-folder-id"] = folder_id
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(self, method: str, path: str, **kwargs: Any) -> Mapping[str, Any]:
        try:
            async with self._client().request(method, self._base_url + path, **kwargs) as resp:
                payload = await _read_json(resp)
                if resp.status >= 400:
                    raise classify_error(
                        http_status=resp.status,
                        grpc_code=int_or_none(payload.get("code")),
                        message=_error_message(payload),
                        retry_after=_retry_after(resp.headers.get("Retry-After")),
                    )
                return payload
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The exception text may carry URLs; log only its type.
            raise ServiceUnavailable(f"{method} {path}: {type(exc).__name__}") from None


async def _read_json(resp: aiohttp.ClientResponse) -> Mapping[str, Any]:
    try:
        payload = await resp.json(content_type=None)
    except ValueError:
        payload = None
    return payload if isinstance(payload, Mapping) else {}


def _error_message(payload: Mapping[str, Any]) -> str:
    for key in ("message", "error", "error_message"):
        value = payload.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, Mapping) and isinstance(value.get("message"), str):
            return str(value["message"])
    return ""


def int_or_none(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return None


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def retry_delay(attempt: int, exc: TransientError, initial: float, maximum: float) -> float:
    """Before retry `attempt + 1`: what the server asked for, else exponential backoff
    with jitter. (A plain loop: tenacity's machinery cost a third of the request.)"""
    if exc.retry_after is not None:
        return min(exc.retry_after, RETRY_AFTER_CAP)
    backoff = initial * 2.0**attempt + random.uniform(0, initial)
    return min(backoff, maximum)
