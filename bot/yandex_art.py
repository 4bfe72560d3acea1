"""YandexART over REST: submit a generation, poll its operation, cancel it.

One aiohttp session per client; every call has a timeout. Only a submit is retried here
(with an idempotency key, so a retry never starts a second generation); a failed poll is
simply polled again later by the tracker's schedule.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from bot.errors import (
    GenerationFailed,
    ServiceUnavailable,
    TransientError,
    YandexArtError,
    classify_error,
)
from bot.prompt import ArtRequest
from bot.yandex_http import YandexHttp, int_or_none

log = logging.getLogger(__name__)

SUBMIT_PATH = "/foundationModels/v1/imageGenerationAsync"
OPERATION_PATH = "/operations/{id}"
IDEMPOTENCY_HEADER = "Idempotency-Key"
RETRY_AFTER_CAP = 60.0


@dataclass(frozen=True)
class Pending:
    """The operation is still running."""


@dataclass(frozen=True)
class ImageReady:
    image: bytes
    # When Yandex finished the operation (its `modifiedAt`), to measure delivery lag.
    finished_at: float | None = None


@dataclass(frozen=True)
class OperationFailed:
    error: YandexArtError


OperationState = Pending | ImageReady | OperationFailed


class ImageBackend(Protocol):
    """What the tracker needs from an image service; a second backend implements this."""

    async def submit(self, request: ArtRequest, seed: int, idempotency_key: str) -> str: ...

    async def get_operation(self, operation_id: str) -> OperationState: ...

    async def cancel(self, operation_id: str) -> None: ...

    async def close(self) -> None: ...


def build_request_body(model_uri: str, request: ArtRequest, seed: int) -> dict[str, Any]:
    """The JSON YandexART expects: proto JSON, so int64 fields are strings."""
    return {
        "modelUri": model_uri,
        "generationOptions": {
            "mimeType": "image/jpeg",
            "seed": str(seed),
            "aspectRatio": {
                "widthRatio": str(request.ratio.width),
                "heightRatio": str(request.ratio.height),
            },
        },
        "messages": [{"weight": part.weight, "text": part.text} for part in request.parts],
    }


def parse_operation(payload: Mapping[str, Any]) -> OperationState:
    """Read an Operation; an `error` with a non-zero code is a failure even without `done`."""
    error = payload.get("error")
    if isinstance(error, Mapping) and error.get("code"):
        message = str(error.get("message", ""))
        failure = classify_error(grpc_code=int_or_none(error["code"]), message=message)
        # The operation is over: polling again cannot turn a "transient" code into a picture.
        if isinstance(failure, TransientError):
            failure = GenerationFailed(message)
        return OperationFailed(failure)
    if not payload.get("done"):
        return Pending()
    response = payload.get("response")
    image = response.get("image") if isinstance(response, Mapping) else None
    try:
        data = base64.b64decode(image, validate=True) if isinstance(image, str) else b""
    except (binascii.Error, ValueError):
        data = b""
    if not data:
        return OperationFailed(GenerationFailed("operation finished without a readable image"))
    return ImageReady(data, finished_at=_timestamp(payload.get("modifiedAt")))


def _retry_after_or_backoff(backoff: wait_exponential_jitter) -> Any:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientError) and exc.retry_after is not None:
            return min(exc.retry_after, RETRY_AFTER_CAP)
        return float(backoff(state))

    return wait


class YandexArtClient:
    def __init__(
        self,
        http: YandexHttp,
        *,
        model_uri: str,
        retries: int,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
    ) -> None:
        self._http = http
        self._model_uri = model_uri
        self._retries = retries
        self._backoff = wait_exponential_jitter(
            multiplier=backoff_initial, max=backoff_max, jitter=backoff_initial
        )

    async def close(self) -> None:
        await self._http.close()

    async def submit(self, request: ArtRequest, seed: int, idempotency_key: str) -> str:
        body = build_request_body(self._model_uri, request, seed)
        headers = {IDEMPOTENCY_HEADER: idempotency_key}
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self._retries + 1),
            wait=_retry_after_or_backoff(self._backoff),
            reraise=True,
        ):
            with attempt:
                payload = await self._http.call("POST", SUBMIT_PATH, json=body, headers=headers)
        operation_id = payload.get("id")
        if not isinstance(operation_id, str) or not operation_id:
            raise ServiceUnavailable("submit answered without an operation id")
        return operation_id

    async def get_operation(self, operation_id: str) -> OperationState:
        payload = await self._http.call("GET", OPERATION_PATH.format(id=operation_id))
        return parse_operation(payload)

    async def cancel(self, operation_id: str) -> None:
        await self._http.call("POST", OPERATION_PATH.format(id=operation_id) + ":cancel")


def _timestamp(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None
