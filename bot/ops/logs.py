"""Logging that cannot leak secrets.

Every formatted line is scrubbed of known secret values: HTTP client errors quote URLs,
and the Bot API URL contains the bot token, so redacting at the formatter catches
tracebacks too. A secret is matched only as a whole token, never inside a longer word;
one too short to be a real secret is refused at start, since it could not be told apart
from ordinary text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from bot.ops.settings import StartupError

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 8
# Characters that continue a token: a secret next to one is part of a longer word.
_WORD_CHAR = r"[\w-]"


def too_short(secrets: Mapping[str, str]) -> str | None:
    """The one-line refusal naming the first secret too short to be one, or None."""
    for name, value in secrets.items():
        if value and len(value) < MIN_SECRET_LENGTH:
            return (
                f"{name}: too short for a secret ({len(value)} characters, at least "
                f"{MIN_SECRET_LENGTH}): is it set to the real value?"
            )
    return None


def secret_pattern(secrets: Mapping[str, str]) -> re.Pattern[str] | None:
    """Each secret as a whole token. The Bot API writes the token right after `/bot` in
    its URLs, so that prefix counts as a boundary too."""
    values = sorted({value for value in secrets.values() if value}, key=len, reverse=True)
    if not values:
        return None
    alternatives = "|".join(re.escape(value) for value in values)
    return re.compile(rf"(?:(?<!{_WORD_CHAR})|(?<=/bot))(?:{alternatives})(?!{_WORD_CHAR})")


class RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, secrets: Mapping[str, str]) -> None:
        super().__init__(fmt)
        self._pattern = secret_pattern(secrets)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return self._pattern.sub(REDACTED, text) if self._pattern else text


def setup_logging(level: str, secrets: Mapping[str, str]) -> None:
    """Raises StartupError for a secret too short to redact safely."""
    refusal = too_short(secrets)
    if refusal is not None:
        raise StartupError(refusal)
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
