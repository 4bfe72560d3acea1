"""Failure kinds the domain knows: why a job failed (each has a localized explanation),
and a store that cannot be reached right now."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    MODERATION = "moderation"
    PROMPT_TOO_LONG = "prompt_too_long"
    AUTH = "auth"
    PERMISSION = "permission"
    QUOTA = "quota"
    UNAVAILABLE = "unavailable"
    BAD_REQUEST = "bad_request"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    # Inline mode: nowhere to upload the picture (no storage chat, user never started the bot).
    NO_UPLOAD_CHAT = "no_upload_chat"
    # A step of the job kept failing with an error the bot did not expect (a bug).
    INTERNAL = "internal"
    # Telegram refused the picture both as a photo and as a file.
    REFUSED = "refused"
    # The picture was ready, but Telegram could not be reached to deliver it in time.
    UNDELIVERED = "undelivered"
    # The store is down and the requests held in memory meanwhile are at their cap.
    BUSY = "busy"
    # An Original to draw again (Yandex dropped the result) with the user's daily quota spent.
    DAILY_LIMIT = "daily_limit"
    # The job's model was set aside (Yandex refused it) and no other can draw the request.
    NO_MODEL = "no_model"


# Kinds the user cannot fix: the operator must look at the bot's credentials or config.
MISCONFIGURED = frozenset({ErrorKind.AUTH, ErrorKind.PERMISSION, ErrorKind.BAD_REQUEST})


class StoreUnavailable(Exception):
    """The store cannot be reached right now; the same call may work later."""


class BackendError(Exception):
    """An image service refused or failed a call; `kind` says why, for the user."""

    kind = ErrorKind.FAILED


class TransientBackendError(BackendError):
    """Worth trying again later: the same call may succeed."""
