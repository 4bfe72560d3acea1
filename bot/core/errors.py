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


# Kinds the user cannot fix: the operator must look at the bot's credentials or config.
MISCONFIGURED = frozenset({ErrorKind.AUTH, ErrorKind.PERMISSION, ErrorKind.BAD_REQUEST})


class StoreUnavailable(Exception):
    """The store cannot be reached right now; the same call may work later."""


class BackendError(Exception):
    """An image service refused or failed a call; `kind` says why, for the user."""

    kind = ErrorKind.FAILED


class TransientBackendError(BackendError):
    """Worth trying again later: the same call may succeed."""
