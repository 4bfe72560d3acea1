"""The pure halves of the YandexART client: the request body and reading an Operation."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from bot.core.backend import ImageReady, OperationFailed, Pending
from bot.core.errors import ErrorKind
from bot.core.prompt import MAX_SEED, ArtRequest, PromptPart, Ratio
from bot.yandex.art import build_request_body, parse_operation
from bot.yandex.errors import (
    AuthError,
    BadRequest,
    GenerationFailed,
    ModerationRefused,
    PermissionDenied,
    TransientError,
    YandexArtError,
)

MODEL_URI = "art://b1gfolder/yandex-art/latest"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00fake-jpeg\xff\xd9"


def test_request_body_single_part() -> None:
    request = ArtRequest(parts=(PromptPart("a red fox"),))
    assert build_request_body(MODEL_URI, request, 42) == {
        "modelUri": MODEL_URI,
        "generationOptions": {
            "mimeType": "image/jpeg",
            "seed": "42",
            "aspectRatio": {"widthRatio": "1", "heightRatio": "1"},
        },
        "messages": [{"weight": 1.0, "text": "a red fox"}],
    }


def test_request_body_weighted_parts_and_ratio() -> None:
    request = ArtRequest(
        parts=(PromptPart("misty forest", 2.0), PromptPart("small red fox", 0.5)),
        seed=7,
        ratio=Ratio(16, 9),
    )
    body = build_request_body(MODEL_URI, request, MAX_SEED)
    assert body == {
        "modelUri": MODEL_URI,
        "generationOptions": {
            "mimeType": "image/jpeg",
            "seed": "9223372036854775807",
            "aspectRatio": {"widthRatio": "16", "heightRatio": "9"},
        },
        "messages": [
            {"weight": 2.0, "text": "misty forest"},
            {"weight": 0.5, "text": "small red fox"},
        ],
    }


def test_request_body_types() -> None:
    """Proto JSON: int64 fields are strings, the weight is a JSON number."""
    request = ArtRequest(parts=(PromptPart("fox", 3.0),), ratio=Ratio(3, 2))
    body = build_request_body(MODEL_URI, request, 123)
    options = body["generationOptions"]
    assert isinstance(options["seed"], str)
    assert isinstance(options["aspectRatio"]["widthRatio"], str)
    assert isinstance(options["aspectRatio"]["heightRatio"], str)
    assert isinstance(body["messages"][0]["weight"], float)
    # Nothing is lost in a JSON round trip.
    assert json.loads(json.dumps(body)) == body


def test_request_body_uses_the_seed_argument() -> None:
    request = ArtRequest(parts=(PromptPart("fox"),), seed=1)
    assert build_request_body(MODEL_URI, request, 999)["generationOptions"]["seed"] == "999"


# --- parse_operation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"done": False},
        {"id": "op1", "done": False, "metadata": None},
        {"id": "op1", "done": False, "error": None},
        {"id": "op1", "done": False, "error": {"code": 0, "message": ""}},
    ],
)
def test_pending(payload: dict[str, Any]) -> None:
    assert parse_operation(payload) == Pending()


def test_done_with_image() -> None:
    payload = {
        "id": "op1",
        "done": True,
        "response": {
            "@type": "type.googleapis.com/yandex.cloud.ai.foundation_models.v1.image_generation."
            "ImageGenerationResponse",
            "image": base64.b64encode(JPEG).decode(),
            "modelVersion": "1",
        },
    }
    assert parse_operation(payload) == ImageReady(JPEG)


def test_done_with_zero_error_code_and_image_is_ready() -> None:
    payload = {
        "done": True,
        "error": {"code": 0},
        "response": {"image": base64.b64encode(JPEG).decode()},
    }
    assert parse_operation(payload) == ImageReady(JPEG)


def failure_of(payload: dict[str, Any]) -> YandexArtError:
    state = parse_operation(payload)
    assert isinstance(state, OperationFailed)
    assert isinstance(state.error, YandexArtError)
    return state.error


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (3, BadRequest),
        (5, GenerationFailed),
        (7, PermissionDenied),
        (16, AuthError),
        (99, GenerationFailed),
        ("3", BadRequest),
        ("ABORTED", GenerationFailed),
    ],
)
@pytest.mark.parametrize("done", [None, False, True])
def test_error_with_nonzero_code_is_failure(
    code: int | str, cls: type[YandexArtError], done: bool | None
) -> None:
    payload: dict[str, Any] = {"id": "op1", "error": {"code": code, "message": "went wrong"}}
    if done is not None:
        payload["done"] = done
    error = failure_of(payload)
    assert type(error) is cls
    assert error.message == "went wrong"


@pytest.mark.parametrize("code", [4, 8, 13, 14, "8"])
@pytest.mark.parametrize("done", [None, True])
def test_transient_code_of_a_finished_operation_is_final(
    code: int | str, done: bool | None
) -> None:
    """Polling a failed operation again cannot help: "transient" codes become a failure."""
    payload: dict[str, Any] = {"error": {"code": code, "message": "try later"}}
    if done is not None:
        payload["done"] = done
    error = failure_of(payload)
    assert type(error) is GenerationFailed
    assert not isinstance(error, TransientError)
    assert error.kind is ErrorKind.FAILED
    assert error.message == "try later"


def test_error_message_is_classified() -> None:
    payload = {
        "done": True,
        "error": {"code": 3, "message": "image generation may violate the terms of use"},
    }
    error = failure_of(payload)
    assert type(error) is ModerationRefused
    assert error.kind is ErrorKind.MODERATION


def test_error_without_message() -> None:
    error = failure_of({"error": {"code": 16}})
    assert type(error) is AuthError
    assert error.message == ""


@pytest.mark.parametrize(
    "payload",
    [
        {"done": True},
        {"done": True, "response": None},
        {"done": True, "response": {}},
        {"done": True, "response": {"image": None}},
        {"done": True, "response": {"image": 12345}},
        {"done": True, "response": "aW1hZ2U="},
        {"done": True, "error": {"code": 0}},
        {"done": True, "response": {"image": ""}},
    ],
)
def test_done_without_image_is_failure(payload: dict[str, Any]) -> None:
    error = failure_of(payload)
    assert type(error) is GenerationFailed
    assert error.kind is ErrorKind.FAILED


@pytest.mark.parametrize(
    "image",
    [
        "not base64!!",
        "abc",  # bad padding
        "aGVsbG8=\n",  # strict decoding refuses stray characters
        "aGVs bG8=",
        "żółw",
    ],
)
def test_undecodable_image_is_failure(image: str) -> None:
    error = failure_of({"done": True, "response": {"image": image}})
    assert type(error) is GenerationFailed
