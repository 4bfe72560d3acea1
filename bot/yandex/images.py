"""Yandex AI Studio's Images API (OpenAI-compatible, synchronous): one call draws a picture.

`POST /v1/images/generations` with `{"model", "prompt", "size"}`; `size` is the aspect
ratio as two integers ("16x9"), and the answer carries the picture as `data[0].b64_json`.
The reference documents no seed and no weighted parts, and marks `n`, `response_format`
and the other OpenAI options "currently not supported", so none of them is sent.

A call that fails before an answer (429, 5xx, network) is retried here with backoff and
jitter, each attempt's timeout bounded by the time the job has left. There is no operation
to come back to: a call whose answer is lost is drawn (and may be billed) again.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from bot.core.backend import ImageReady, OperationState
from bot.core.models import Capabilities
from bot.core.prompt import ArtRequest
from bot.yandex.errors import GenerationFailed, YandexArtError, as_model_refusal
from bot.yandex.http import RetryPolicy, YandexHttp

GENERATIONS_PATH = "/v1/images/generations"
# No seed, no weights, and nothing kept to fetch again: a synchronous answer is the picture.
# Without seeds nor kept results there are no variants (an album is N kept operations).
IMAGES_CAPABILITIES = Capabilities(seed=False, weights=False, variants=False, keeps_results=False)


def build_images_body(model_uri: str, request: ArtRequest) -> dict[str, Any]:
    """The documented fields only; one part (weights are refused before this), and a
    style as a sentence of the prompt, since there is no weighted message to give it."""
    return {
        "model": model_uri,
        "prompt": request.one_text,
        "size": f"{request.ratio.width}x{request.ratio.height}",
    }


def parse_images_answer(payload: Mapping[str, Any]) -> bytes:
    """The picture in `data[0].b64_json`; an answer without one is a failed generation."""
    data = payload.get("data")
    first = data[0] if isinstance(data, list) and data else None
    encoded = first.get("b64_json") if isinstance(first, Mapping) else None
    try:
        image = base64.b64decode(encoded, validate=True) if isinstance(encoded, str) else b""
    except (binascii.Error, ValueError):
        image = b""
    if not image:
        raise GenerationFailed("the answer has no readable image")
    return image


class ImagesClient:
    def __init__(
        self,
        http: YandexHttp,
        *,
        model_uri: str,
        timeout: float,
        retries: int,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
    ) -> None:
        self._http = http
        self._model_uri = model_uri
        self._timeout = timeout
        self._retry = RetryPolicy(retries, backoff_initial, backoff_max)

    @property
    def capabilities(self) -> Capabilities:
        return IMAGES_CAPABILITIES

    async def close(self) -> None:
        await self._http.close()

    async def submit(
        self, request: ArtRequest, seed: int, idempotency_key: str, time_left: float
    ) -> ImageReady:
        """Draw the picture now. The seed and key have no field in this API."""
        body = build_images_body(self._model_uri, request)
        try:
            payload = await self._http.call_retrying(
                "POST",
                GENERATIONS_PATH,
                retry=self._retry,
                time_left=time_left,
                per_call=self._timeout,
                json=body,
            )
        except YandexArtError as exc:
            raise as_model_refusal(exc) or exc from None
        return ImageReady(parse_images_answer(payload))

    async def get_operation(self, operation_id: str) -> OperationState:
        """Nothing to poll: a job of this model never has an operation."""
        raise GenerationFailed("the Images API has no operations")

    async def cancel(self, operation_id: str) -> None:
        """Nothing to cancel at the service: the call itself is abandoned."""
