"""Prompt enhancement with YandexGPT: a short prompt becomes a richer visual description.

Enhancement is a nicety, so it never fails a request: any error, refusal or empty answer
gives None and the picture is drawn from the user's own prompt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from bot.core.budget import Budget
from bot.core.errors import StoreUnavailable
from bot.core.text import shorten
from bot.yandex.errors import YandexArtError
from bot.yandex.http import YandexHttp

log = logging.getLogger(__name__)

COMPLETION_PATH = "/foundationModels/v1/completion"
FINAL_STATUSES = frozenset({"ALTERNATIVE_STATUS_FINAL", "ALTERNATIVE_STATUS_TRUNCATED_FINAL"})


def build_completion_body(model_uri: str, system: str, prompt: str) -> dict[str, Any]:
    return {
        "modelUri": model_uri,
        "completionOptions": {"stream": False, "temperature": 0.3, "maxTokens": "1000"},
        "messages": [{"role": "system", "text": system}, {"role": "user", "text": prompt}],
    }


def pick_enhanced(payload: Mapping[str, Any], max_length: int) -> str | None:
    """The model's answer as a prompt, or None when it refused or said nothing usable."""
    result = payload.get("result")
    alternatives = result.get("alternatives") if isinstance(result, Mapping) else None
    if not isinstance(alternatives, list) or not alternatives:
        return None
    first = alternatives[0]
    if not isinstance(first, Mapping) or first.get("status") not in FINAL_STATUSES:
        return None
    message = first.get("message")
    text = message.get("text") if isinstance(message, Mapping) else None
    if not isinstance(text, str):
        return None
    text = " ".join(text.split()).strip("\"'«» ")
    return shorten(text, max_length) if text else None


class PromptEnhancer:
    def __init__(
        self,
        http: YandexHttp,
        budget: Budget,
        *,
        model_uri: str,
        system_prompt: Callable[[str], str],
        max_length: int,
    ) -> None:
        """`system_prompt(locale)` is the instruction for the model, in the user's language."""
        self._http = http
        self._budget = budget
        self._model_uri = model_uri
        self._system_prompt = system_prompt
        self._max_length = max_length

    async def enhance(self, prompt: str, locale: str) -> str | None:
        system = self._system_prompt(locale)
        body = build_completion_body(self._model_uri, system, prompt)
        try:
            await self._budget.acquire()
            payload = await self._http.call("POST", COMPLETION_PATH, json=body)
        except YandexArtError as exc:
            log.info("enhancement failed (%s), using the original prompt", exc.kind)
            return None
        except StoreUnavailable:
            log.info("enhancement budget unavailable, using the original prompt")
            return None
        return pick_enhanced(payload, self._max_length)
