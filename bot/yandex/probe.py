"""Cheap authenticated requests telling whether Yandex accepts the credentials, without
generating anything (nothing billed).

YandexART: a GET of an operation id that cannot exist. Yandex Cloud checks the credentials
first, so good ones get 404 (NOT_FOUND) and bad ones 401 (UNAUTHENTICATED) or 403
(PERMISSION_DENIED). YandexGPT: a tokenize call on the model, which also proves the model
URI and the role on the folder.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.yandex.errors import (
    AuthError,
    PermissionDenied,
    TransientError,
    Unreachable,
    YandexArtError,
)
from bot.yandex.http import YandexHttp
from bot.yandex.iam import IamRefused

# Real operation ids are 20 characters of [a-z0-9]; this one is never issued.
PROBE_OPERATION_ID = "probe0credentials000"
OPERATION_PATH = "/operations/{id}"
TOKENIZE_PATH = "/foundationModels/v1/tokenize"


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
