"""Voice prompts: what SpeechKit's synchronous recognition accepts, decided from the facts
Telegram gives with a voice message, before anything is downloaded or sent."""

from __future__ import annotations

from enum import StrEnum

from bot.core.errors import ErrorKind

# SpeechKit synchronous recognition (API v1): at most 30 s and 1 MB of audio. "1 MB" is
# read as 10^6 bytes, so a file the bot accepts is accepted by either reading.
MAX_SECONDS = 30
MAX_BYTES = 1_000_000

# Recognition language by interface language; others fall back to English.
_LANGUAGES = {"ru": "ru-RU", "en": "en-US"}
DEFAULT_LANGUAGE = "en-US"


class VoiceIssue(StrEnum):
    """Why a voice message cannot become a prompt; each has a localized explanation."""

    TOO_LONG = "too_long"
    TOO_LARGE = "too_large"
    EMPTY = "empty"
    DOWNLOAD_FAILED = "download_failed"
    INTERRUPTED = "interrupted"  # the bot stopped while hearing it


def check_voice(duration: int, file_size: int | None) -> VoiceIssue | None:
    """The API's limits, checked on the voice message's own duration and size."""
    if duration > MAX_SECONDS:
        return VoiceIssue.TOO_LONG
    if file_size is not None and file_size > MAX_BYTES:
        return VoiceIssue.TOO_LARGE
    return None


def stt_language(locale: str) -> str:
    """SpeechKit's `lang` for the user's interface language."""
    return _LANGUAGES.get(locale, DEFAULT_LANGUAGE)


def recognised_prompt(result: str) -> str:
    """SpeechKit's text as a prompt: whitespace collapsed; empty when nothing was heard."""
    return " ".join(result.split())


def stt_failure(kind: ErrorKind) -> str:
    """The explanation of a failed recognition: the operator's problem, the quota, an
    outage, or this audio."""
    if kind in (ErrorKind.AUTH, ErrorKind.PERMISSION):
        return "misconfigured"
    if kind in (ErrorKind.QUOTA, ErrorKind.UNAVAILABLE):
        return str(kind)
    # A 400 from SpeechKit is about the audio (e.g. a few ms over the limit), not the config.
    return "failed"
