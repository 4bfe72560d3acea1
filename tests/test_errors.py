"""`classify_error`: HTTP status, gRPC code and message → typed YandexART error."""

from __future__ import annotations

import pytest

from bot.core.errors import MISCONFIGURED, ErrorKind
from bot.yandex.errors import (
    AuthError,
    BadRequest,
    GenerationFailed,
    ModerationRefused,
    OperationNotFound,
    PermissionDenied,
    PromptTooLong,
    QuotaExceeded,
    ServiceUnavailable,
    TransientError,
    YandexArtError,
    classify_error,
)

MODERATION_MESSAGE = (
    "it is not possible to generate an image from this request "
    "because it may violate the terms of use"
)
TOO_LONG_MESSAGE = "prompt positive size exceeds limit"


@pytest.mark.parametrize(
    ("http_status", "grpc_code"),
    [(400, None), (400, 3), (None, 3), (None, 9), (500, None), (None, None)],
)
def test_moderation_message_wins(http_status: int | None, grpc_code: int | None) -> None:
    error = classify_error(http_status=http_status, grpc_code=grpc_code, message=MODERATION_MESSAGE)
    assert type(error) is ModerationRefused
    assert error.kind is ErrorKind.MODERATION
    assert error.message == MODERATION_MESSAGE


def test_moderation_marker_is_case_insensitive() -> None:
    error = classify_error(http_status=400, message="Request May VIOLATE THE TERMS OF USE.")
    assert type(error) is ModerationRefused


@pytest.mark.parametrize(
    "message",
    [TOO_LONG_MESSAGE, "Prompt negative Size Exceeds Limit", "messages: size exceeds limit (500)"],
)
def test_prompt_too_long(message: str) -> None:
    error = classify_error(http_status=400, grpc_code=3, message=message)
    assert type(error) is PromptTooLong
    assert error.kind is ErrorKind.PROMPT_TOO_LONG


@pytest.mark.parametrize(
    ("http_status", "cls", "kind"),
    [
        (400, BadRequest, ErrorKind.BAD_REQUEST),
        (401, AuthError, ErrorKind.AUTH),
        (403, PermissionDenied, ErrorKind.PERMISSION),
        (404, OperationNotFound, ErrorKind.FAILED),  # Yandex dropped the result
        (409, BadRequest, ErrorKind.BAD_REQUEST),
        (422, BadRequest, ErrorKind.BAD_REQUEST),
        (429, QuotaExceeded, ErrorKind.QUOTA),
        (500, ServiceUnavailable, ErrorKind.UNAVAILABLE),
        (502, ServiceUnavailable, ErrorKind.UNAVAILABLE),
        (503, ServiceUnavailable, ErrorKind.UNAVAILABLE),
        (504, ServiceUnavailable, ErrorKind.UNAVAILABLE),
    ],
)
def test_by_http_status(http_status: int, cls: type[YandexArtError], kind: ErrorKind) -> None:
    error = classify_error(http_status=http_status, message="something went wrong")
    assert type(error) is cls
    assert error.kind is kind
    assert error.message == "something went wrong"


@pytest.mark.parametrize("http_status", [429, 500, 503, 504])
def test_transient_http_errors_keep_retry_after(http_status: int) -> None:
    error = classify_error(http_status=http_status, retry_after=12.5)
    assert isinstance(error, TransientError)
    assert error.retry_after == 12.5


def test_quota_without_retry_after() -> None:
    error = classify_error(http_status=429)
    assert isinstance(error, QuotaExceeded)
    assert error.retry_after is None


@pytest.mark.parametrize("http_status", [400, 401, 403, 404])
def test_permanent_errors_are_not_transient(http_status: int) -> None:
    assert not isinstance(classify_error(http_status=http_status, retry_after=3.0), TransientError)


@pytest.mark.parametrize(
    ("http_status", "grpc_code", "cls"),
    [
        (429, 3, QuotaExceeded),
        (401, 7, AuthError),
        (503, 16, ServiceUnavailable),
        (400, 8, BadRequest),
    ],
)
def test_http_status_wins_over_grpc_code(
    http_status: int, grpc_code: int, cls: type[YandexArtError]
) -> None:
    assert type(classify_error(http_status=http_status, grpc_code=grpc_code)) is cls


def test_grpc_code_used_when_http_status_is_unknown() -> None:
    # 418 is not in the HTTP table and below 500: the gRPC code decides.
    assert type(classify_error(http_status=418, grpc_code=8)) is QuotaExceeded
    assert type(classify_error(http_status=418, grpc_code=99)) is BadRequest


@pytest.mark.parametrize(
    ("grpc_code", "cls", "kind"),
    [
        (3, BadRequest, ErrorKind.BAD_REQUEST),
        (4, ServiceUnavailable, ErrorKind.UNAVAILABLE),
        (5, GenerationFailed, ErrorKind.FAILED),
        (7, PermissionDenied, ErrorKind.PERMISSION),
        (8, QuotaExceeded, ErrorKind.QUOTA),
        (13, ServiceUnavailable, ErrorKind.UNAVAILABLE),
        (14, ServiceUnavailable, ErrorKind.UNAVAILABLE),
        (16, AuthError, ErrorKind.AUTH),
        (2, GenerationFailed, ErrorKind.FAILED),
        (99, GenerationFailed, ErrorKind.FAILED),
    ],
)
def test_operation_error_by_grpc_code(
    grpc_code: int, cls: type[YandexArtError], kind: ErrorKind
) -> None:
    error = classify_error(grpc_code=grpc_code, message="boom")
    assert type(error) is cls
    assert error.kind is kind
    assert error.message == "boom"
    assert str(error) == "boom"


def test_nothing_known_is_a_generation_failure() -> None:
    error = classify_error()
    assert type(error) is GenerationFailed
    assert error.message == ""


def test_transient_grpc_error_keeps_retry_after() -> None:
    error = classify_error(grpc_code=8, retry_after=4.0)
    assert isinstance(error, QuotaExceeded)
    assert error.retry_after == 4.0


def test_misconfigured_kinds() -> None:
    assert {
        classify_error(http_status=401).kind,
        classify_error(http_status=403).kind,
        classify_error(http_status=400).kind,
    } == MISCONFIGURED
    assert classify_error(http_status=429).kind not in MISCONFIGURED
    assert classify_error(message=MODERATION_MESSAGE).kind not in MISCONFIGURED
