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
from datetime import datetime
from typing import Any

from bot.core.backend import ImageReady, OperationFailed, OperationState, Pending, Submitted
from bot.core.models import FULL, Capabilities
from bot.core.prompt import ArtRequest
from bot.yandex.errors import (
    GenerationFailed,
    ServiceUnavailable,
    TransientError,
    YandexArtError,
    as_model_refusal,
    classify_error,
)
from bot.yandex.http import RetryPolicy, YandexHttp, int_or_none

log = logging.getLogger(__name__)

SUBMIT_PATH = "/foundationModels/v1/imageGenerationAsync"
OPERATION_PATH = "/operations/{id}"
IDEMPOTENCY_HEADER = "Idempotency-Key"


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
        "messages": [{"weight": part.weight, "text": part.text} for part in request.messages],
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
        self._retry = RetryPolicy(retries, backoff_initial, backoff_max)

    @property
    def capabilities(self) -> Capabilities:
        return FULL

    async def close(self) -> None:
        await self._http.close()

    async def submit(
        self, request: ArtRequest, seed: int, idempotency_key: str, time_left: float
    ) -> Submitted:
        """Create the operation; fast retries (never past `time_left`) reuse the key."""
        body = build_request_body(self._model_uri, request, seed)
        try:
            payload = await self._http.call_retrying(
                "POST",
                SUBMIT_PATH,
                retry=self._retry,
                time_left=time_left,
                json=body,
                headers={IDEMPOTENCY_HEADER: idempotency_key},
            )
        except YandexArtError as exc:
            raise as_model_refusal(exc) or exc from None
        operation_id = payload.get("id")
        if not isinstance(operation_id, str) or not operation_id:
            raise ServiceUnavailable("submit answered without an operation id")
        return Submitted(operation_id)

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
