"""A user's preferences from /settings (default ratio, enhancement, model, interface
language, style) and how they are stored as JSON."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Protocol

from bot.core.models import YANDEXART
from bot.core.prompt import SQUARE, Defaults, Ratio

log = logging.getLogger(__name__)

RATIO_CHOICES = ("1:1", "16:9", "9:16", "4:3", "3:4", "2:1")


@dataclass(frozen=True)
class UserPrefs:
    ratio: str = str(SQUARE)
    enhance: bool = False
    language: str | None = None  # None: Telegram's language_code
    style: str | None = None
    model: str | None = None  # None: the bot's DEFAULT_MODEL

    @property
    def defaults(self) -> Defaults:
        return _defaults(self.ratio, self.enhance, self.style, YANDEXART)

    def defaults_among(self, models: Collection[str], default_model: str) -> Defaults:
        """The defaults with this user's model, or the bot's when theirs is not offered
        (any more)."""
        model = self.model if self.model in models else default_model
        return _defaults(self.ratio, self.enhance, self.style, model)


_FIELDS = ("ratio", "enhance", "language", "style", "model")
# Shared by every user without saved settings (most users), rather than one each.
DEFAULT_PREFS = UserPrefs()


@lru_cache(maxsize=64)
def _defaults(ratio: str, enhance: bool, style: str | None, model: str) -> Defaults:
    """One instance per value: each pending job's request keeps its Ratio."""
    width, height = (int(side) for side in ratio.split(":"))
    return Defaults(ratio=Ratio(width, height), enhance=enhance, style=style, model=model)


def parse_prefs(raw: str | None) -> UserPrefs:
    if raw is None:
        return DEFAULT_PREFS
    try:
        data = json.loads(raw)
        prefs = UserPrefs(**{k: data[k] for k in _FIELDS if k in data})
        _ = prefs.defaults  # a ratio that does not parse falls back to the defaults
    except (ValueError, TypeError):
        log.warning("unreadable user preferences, using defaults")
        return DEFAULT_PREFS
    return prefs


def dump_prefs(prefs: UserPrefs) -> str:
    return json.dumps(asdict(prefs))


class PrefsReader(Protocol):
    """Where the interface language comes from (the preference service)."""

    async def get(self, user_id: int) -> UserPrefs: ...
