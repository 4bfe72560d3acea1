"""Cheap authenticated requests telling whether Yandex accepts the credentials, without
generating anything (nothing billed).

YandexART: a GET of an operation id that cannot exist. Yandex Cloud checks the credentials
first, so good ones get 404 (NOT_FOUND) and bad ones 401 (UNAUTHENTICATED) or 403
(PERMISSION_DENIED). YandexGPT: a tokenize call on the model, which also proves the model
URI and the role on the folder. The Images API and SpeechKit: a request each refuses as
empty (400) once the credentials have passed.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.yandex.errors import (
    AuthError,
    BadRequest,
    PermissionDenied,
    TransientError,
    Unreachable,
    YandexArtError,
    as_model_refusal,
)
from bot.yandex.http import YandexHttp
from bot.yandex.iam import IamRefused

# Real operation ids are 20 characters of [a-z0-9]; this one is never issued.
PROBE_OPERATION_ID = "probe0credentials000"
OPERATION_PATH = "/operations/{id}"
TOKENIZE_PATH = "/foundationModels/v1/tokenize"
IMAGES_PATH = "/v1/images/generations"
STT_PATH = "/speech/v1/stt:recognize"


@dataclass(frozen=True)
class Probe:
    """`accepted`: True (fine), False (refused: fix the settings) or None (no answer)."""

    accepted: bool | None
    detail: str


def _refusal(exc: YandexArtError, host: str) -> Probe | None:
    if isinstance(exc, IamRefused):
        return Probe(False, exc.message)
    if isinstance(exc, AuthError):
        return Probe(False, "401 Unauthenticated")
    if isinstance(exc, PermissionDenied):
        return Probe(False, "403 Permission denied")
    if isinstance(exc, Unreachable):
        return Probe(None, exc.message)
    if isinstance(exc, TransientError):
        if exc.http_status is None:
            return Probe(None, f"unavailable ({type(exc).__name__})")
        return Probe(None, f"{host} answered HTTP {exc.http_status} ({type(exc).__name__})")
    return None


async def probe_art(http: YandexHttp) -> Probe:
    """Whether YandexART accepts the credentials."""
    try:
        await http.call("GET", OPERATION_PATH.format(id=PROBE_OPERATION_ID))
    except YandexArtError as exc:
        # Any other refusal (404 as expected, or 400) came after the credentials passed.
        return _refusal(exc, http.host) or Probe(True, "credentials accepted")
    return Probe(True, "credentials accepted")


async def probe_gpt(http: YandexHttp, model_uri: str) -> Probe:
    """Whether YandexGPT accepts the credentials and knows the model."""
    try:
        await http.call("POST", TOKENIZE_PATH, json={"modelUri": model_uri, "text": "ping"})
    except YandexArtError as exc:
        return _refusal(exc, http.host) or Probe(False, f"model refused ({type(exc).__name__})")
    return Probe(True, "model answers")


async def probe_images(http: YandexHttp, model_uri: str) -> Probe:
    """Whether the Images API takes the key, without drawing: a request with an empty
    prompt, which it refuses as such (400) once the key has passed. `accepted` None when
    its answer proves nothing either way."""
    body = {"model": model_uri, "prompt": "", "size": "1x1"}
    try:
        await http.call("POST", IMAGES_PATH, json=body)
    except YandexArtError as exc:
        refused = as_model_refusal(exc) if isinstance(exc, PermissionDenied) else None
        if refused is not None:
            return Probe(False, f"model refused: {refused.message}")
        if isinstance(exc, BadRequest) and "prompt" in exc.message.lower():
            return Probe(True, "credentials accepted (an empty prompt, nothing drawn)")
        if isinstance(exc, BadRequest):
            return Probe(None, f"not proven (Yandex said: {exc.message[:200]})")
        return _refusal(exc, http.host) or Probe(None, f"not proven ({type(exc).__name__})")
    return Probe(None, "not proven (an empty prompt was not refused)")


async def probe_stt(http: YandexHttp, folder_id: str | None) -> Probe:
    """Whether SpeechKit takes the credentials, without recognising anything: empty audio,
    which it refuses as such (400) once they have passed."""
    params = {"lang": "ru-RU", **({"folderId": folder_id} if folder_id else {})}
    try:
        await http.call(
            "POST", STT_PATH, params=params, data=b"", headers={"Content-Type": "audio/ogg"}
        )
    except YandexArtError as exc:
        if isinstance(exc, BadRequest):
            return Probe(True, "credentials accepted (empty audio, nothing recognised)")
        return _refusal(exc, http.host) or Probe(None, f"not proven ({type(exc).__name__})")
    return Probe(True, "credentials accepted")
