"""Typed YandexART errors, classified from HTTP status, gRPC code and message.

Each class has a `kind`: the key of the localized explanation the user gets.
"""

from __future__ import annotations

from bot.core.errors import BackendError, ErrorKind, TransientBackendError

MODERATION_MARKER = "violate the terms of use"
TOO_LONG_MARKER = "size exceeds limit"


class YandexArtError(BackendError):
    """An error answer from Yandex; `message` is the service's own text."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    # The HTTP status of the answer, when the error came in one.
    http_status: int | None = None


class ModerationRefused(YandexArtError):
    kind = ErrorKind.MODERATION


class PromptTooLong(YandexArtError):
    kind = ErrorKind.PROMPT_TOO_LONG


class AuthError(YandexArtError):
    kind = ErrorKind.AUTH


class PermissionDenied(YandexArtError):
    kind = ErrorKind.PERMISSION


class BadRequest(YandexArtError):
    kind = ErrorKind.BAD_REQUEST


class GenerationFailed(YandexArtError):
    kind = ErrorKind.FAILED


class OperationNotFound(GenerationFailed):
    """No such operation (HTTP 404): Yandex has dropped the result, or never had it."""


class ModelRefused(YandexArtError):
    """Yandex refused the model itself (access denied to it, no such model, an invalid
    model URI) while taking the credentials: the model is set aside, the request goes to
    another one. Told as "misconfigured" when no other model can draw it."""

    kind = ErrorKind.PERMISSION


def as_model_refusal(exc: YandexArtError) -> ModelRefused | None:
    """A submit's refusal that is about the model, not the request nor the credentials:
    403 naming the model ("Access to model denied"), 404/NOT_FOUND (the submit path
    exists, so it is the model that does not) or a 400 naming the model URI."""
    lowered = exc.message.lower()
    about_model = "model" in lowered
    if isinstance(exc, PermissionDenied) and about_model:
        return ModelRefused(exc.message)
    if isinstance(exc, OperationNotFound) or (type(exc) is GenerationFailed and about_model):
        return ModelRefused(exc.message or "model not found")
    if isinstance(exc, BadRequest) and about_model:
        return ModelRefused(exc.message)
    return None


class TransientError(YandexArtError, TransientBackendError):
    """Worth retrying later: the same call may succeed."""

    def __init__(self, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QuotaExceeded(TransientError):
    kind = ErrorKind.QUOTA


class ServiceUnavailable(TransientError):
    kind = ErrorKind.UNAVAILABLE


class Unreachable(ServiceUnavailable):
    """No answer at all: `cause` says why (DNS, refused, TLS, timeout), in fixed words."""

    def __init__(self, host: str, cause: str) -> None:
        super().__init__(f"cannot reach {host}: {cause}")
        self.host = host
        self.cause = cause


_BY_GRPC: dict[int, type[YandexArtError]] = {
    3: BadRequest,
    4: ServiceUnavailable,
    5: GenerationFailed,
    7: PermissionDenied,
    8: QuotaExceeded,
    13: ServiceUnavailable,
    14: ServiceUnavailable,
    16: AuthError,
}
_BY_HTTP: dict[int, type[YandexArtError]] = {
    400: BadRequest,
    401: AuthError,
    403: PermissionDenied,
    404: OperationNotFound,
    429: QuotaExceeded,
}


def classify_error(
    *,
    http_status: int | None = None,
    grpc_code: int | None = None,
    message: str = "",
    retry_after: float | None = None,
) -> YandexArtError:
    """Map a Yandex error answer (or a failed operation's error) to a typed error."""
    lowered = message.lower()
    if MODERATION_MARKER in lowered:
        return ModerationRefused(message)
    if TOO_LONG_MARKER in lowered:
        return PromptTooLong(message)
    cls: type[YandexArtError] | None = None
    if http_status is not None:
        cls = _BY_HTTP.get(http_status) or (ServiceUnavailable if http_status >= 500 else None)
    if cls is None and grpc_code is not None:
        cls = _BY_GRPC.get(grpc_code)
    if cls is None:
        cls = BadRequest if http_status is not None else GenerationFailed
    if issubclass(cls, TransientError):
        return cls(message, retry_after=retry_after)
    return cls(message)
