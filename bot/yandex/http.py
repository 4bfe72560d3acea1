"""One aiohttp session per Yandex Cloud API host (YandexART and YandexGPT share one, the
Images API and SpeechKit have their own): auth headers, a timeout on every call, a cap on
the size of answers, errors turned into typed exceptions, and the backoff between retries."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from bot.core.netcause import network_cause, where
from bot.yandex.errors import (
    GenerationFailed,
    ServiceUnavailable,
    TransientError,
    Unreachable,
    classify_error,
)

RETRY_AFTER_CAP = 60.0


class Credentials(Protocol):
    """Where the Authorization header comes from (an IAM token may change while running)."""

    async def header(self) -> str: ...

    async def close(self) -> None: ...


class FixedCredentials:
    """An API key or an IAM token from the settings: the same header every time."""

    def __init__(self, header: str) -> None:
        self._header = header

    async def header(self) -> str:
        return self._header

    async def close(self) -> None:
        return None


# The largest answer read. A YandexART result is one base64 JPEG of 0.3-1.6 MB (about
# 2.2 MB as base64); Telegram takes documents up to 50 MB but photos only up to 10 MB.
# 20 MB leaves room for larger models' PNGs and stops a broken or hostile answer from
# filling the memory; a larger one fails its job (the user is told).
MAX_BODY_BYTES = 20 * 1024 * 1024
_CHUNK = 64 * 1024


class BodyTooLarge(GenerationFailed):
    """An answer over the cap: nothing usable, and asking again would not shrink it."""


class YandexHttp:
    def __init__(
        self,
        *,
        base_url: str,
        credentials: Credentials,
        folder_id: str | None,
        timeout: float,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        """`folder_id` None: no `x-folder-id` header (SpeechKit v1 takes it in the query)."""
        self._base_url = base_url.rstrip("/")
        self._max_body = max_body
        self._credentials = credentials
        self._headers = {} if folder_id is None else {"x-folder-id": folder_id}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def host(self) -> str:
        """`host[:port]` of the API, for messages."""
        return where(self._base_url)

    @property
    def credentials(self) -> Credentials:
        """Shared with the clients of the other Yandex hosts: one token source for all."""
        return self._credentials

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        await self._credentials.close()

    async def call(
        self, method: str, path: str, *, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> Mapping[str, Any]:
        headers = {**(headers or {}), "Authorization": await self._credentials.header()}
        try:
            async with self._client().request(
                method, self._base_url + path, headers=headers, **kwargs
            ) as resp:
                payload = await _read_json(resp, self._max_body)
                if resp.status >= 400:
                    error = classify_error(
                        http_status=resp.status,
                        grpc_code=_grpc_code(payload),
                        message=_error_message(payload),
                        retry_after=_retry_after(resp.headers.get("Retry-After")),
                    )
                    error.http_status = resp.status
                    raise error
                return payload
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The exception text may carry URLs: only the host and fixed words go on.
            raise Unreachable(self.host, network_cause(exc)) from None

    async def call_retrying(
        self,
        method: str,
        path: str,
        *,
        retry: RetryPolicy,
        time_left: float,
        per_call: float | None = None,
        **kwargs: Any,
    ) -> Mapping[str, Any]:
        """`call`, tried again on transient errors (429, 5xx, network) with backoff, never
        past `time_left` seconds; with `per_call`, each try is also cut at that many
        seconds and at the time left. Only for calls that are safe to repeat (a submit
        carries its idempotency key)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + time_left
        attempt = 0
        while True:
            if per_call is not None:
                left = deadline - loop.time()
                if left <= 0:
                    raise ServiceUnavailable(f"{method} {path}: no time left")
                kwargs["timeout"] = aiohttp.ClientTimeout(total=min(per_call, left))
            try:
                return await self.call(method, path, **kwargs)
            except TransientError as exc:
                wait = retry_delay(attempt, exc, retry.initial, retry.maximum)
                if attempt >= retry.retries or loop.time() + wait >= deadline:
                    raise
                await asyncio.sleep(wait)
                attempt += 1


async def _read_json(resp: aiohttp.ClientResponse, limit: int) -> Mapping[str, Any]:
    """The JSON body, read up to `limit` bytes; a longer one is refused unread."""
    if resp.content_length is not None and resp.content_length > limit:
        raise BodyTooLarge(f"answer of {resp.content_length} bytes")
    body = bytearray()
    async for chunk in resp.content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(f"answer over {limit} bytes")
    try:
        payload = json.loads(body)
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


def _grpc_code(payload: Mapping[str, Any]) -> int | None:
    """`code` at the top, or `grpcCode` in an `error` object (the gateway's own shape)."""
    error = payload.get("error")
    if isinstance(error, Mapping) and "grpcCode" in error:
        return int_or_none(error["grpcCode"])
    return int_or_none(payload.get("code"))


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


@dataclass(frozen=True)
class RetryPolicy:
    """How often a refused call is tried again, and the backoff between tries (seconds)."""

    retries: int
    initial: float = 0.5
    maximum: float = 8.0


def retry_delay(attempt: int, exc: TransientError, initial: float, maximum: float) -> float:
    """Before retry `attempt + 1`: what the server asked for, else exponential backoff
    with jitter. (A plain loop: tenacity's machinery cost a third of the request.)"""
    if exc.retry_after is not None:
        return min(exc.retry_after, RETRY_AFTER_CAP)
    backoff = initial * 2.0**attempt + random.uniform(0, initial)
    return min(backoff, maximum)
