"""Parse the text after `/art` into a generation request.

Pure functions only: the handler turns a `PromptError` into a localized answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.core.models import FULL, ONLY_YANDEXART, YANDEXART, Capabilities

MAX_SEED = 2**63 - 1
KNOWN_FLAGS = ("seed", "ratio", "enhance", "no-enhance", "model")
BOOLEAN_FLAGS = frozenset({"enhance", "no-enhance"})
SHORT_FLAGS = {"-e": "enhance"}
# Weighted parts of one prompt: each is a message to YandexART; a few are plenty.
MAX_PARTS = 8
# Characters of a user's token quoted back in an error, so a reply stays short.
QUOTE_MAX = 40
# iOS and macOS turn a typed "--" into an em dash; accept both spellings.
_FLAG = re.compile(r"^(?:--|\u2014)([^\s=]+)(?:=(.*))?$", re.DOTALL)
_RATIO = re.compile(r"^(\d{1,6})\s*[:xх×]\s*(\d{1,6})$", re.IGNORECASE)
_INTEGER = re.compile(r"^[+]?\d+$")


@dataclass(frozen=True, slots=True)
class Ratio:
    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.width}:{self.height}"


SQUARE = Ratio(1, 1)


@dataclass(frozen=True, slots=True)
class PromptPart:
    text: str
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class ArtRequest:
    """What the user asked for. `seed` is None when the bot must pick one."""

    parts: tuple[PromptPart, ...]
    seed: int | None = None
    ratio: Ratio = SQUARE
    # Ask YandexGPT for a richer prompt first.
    enhance: bool = False
    # Which image model draws it (a name from the MODELS setting).
    model: str = YANDEXART

    @property
    def text(self) -> str:
        """The prompt as the user would read it back, weights included when they matter."""
        if len(self.parts) == 1 and self.parts[0].weight == 1.0:
            return self.parts[0].text
        return " | ".join(f"{p.text} :: {_format_weight(p.weight)}" for p in self.parts)


@dataclass(frozen=True)
class Defaults:
    """What a user gets without flags (their /settings)."""

    ratio: Ratio = SQUARE
    enhance: bool = False
    model: str = YANDEXART


@dataclass(frozen=True)
class Limits:
    max_length: int = 500
    max_side: int = 32
    max_elongation: float = 4.0


@dataclass
class PromptError(Exception):
    """A user mistake. `code` names the locale message; `params` fill its placeholders."""

    code: str
    params: dict[str, str | int] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.code


def _quote(token: str) -> str:
    """A user's token as quoted back: at most `QUOTE_MAX` characters."""
    return token if len(token) <= QUOTE_MAX else token[: QUOTE_MAX - 1] + "…"


def _format_weight(weight: float) -> str:
    return f"{weight:g}"


def parse_art_args(
    args: str | None,
    limits: Limits,
    replied_text: str | None = None,
    defaults: Defaults = Defaults(),
    models: Mapping[str, Capabilities] = ONLY_YANDEXART,
) -> ArtRequest:
    """Split flags from the prompt, validate both, and build the request.

    `replied_text` is the message `/art` answers to: when the command itself has no prompt,
    that text is drawn, taken literally (someone else's `|` or `--` is not syntax).
    `models` are the models users may pick, with what each can do.
    """
    flags, words = _split_flags(args or "")
    model = _parse_model(flags["model"], models) if "model" in flags else defaults.model
    capabilities = models.get(model, FULL)
    if "seed" in flags and not capabilities.seed:
        raise PromptError("model_no_seed", {"model": model})
    seed = _parse_seed(flags["seed"]) if "seed" in flags else None
    ratio = _parse_ratio(flags["ratio"], limits) if "ratio" in flags else defaults.ratio
    if "enhance" in flags and "no-enhance" in flags:
        raise PromptError("duplicate_flag", {"flag": "--enhance"})
    enhance = "enhance" in flags or (defaults.enhance and "no-enhance" not in flags)
    if not words and replied_text and replied_text.strip():
        parts: tuple[PromptPart, ...] = (PromptPart(" ".join(replied_text.split())),)
        _check_length(parts, limits)
    else:
        parts = _parse_parts(" ".join(words), limits)
        weighted = len(parts) > 1 or parts[0].weight != 1.0
        if weighted and not capabilities.weights:
            raise PromptError("model_no_weights", {"model": model})
    return ArtRequest(parts=parts, seed=seed, ratio=ratio, enhance=enhance, model=model)


def _split_flags(text: str) -> tuple[dict[str, str], list[str]]:
    flags: dict[str, str] = {}
    words: list[str] = []
    tokens = text.split()
    i = 0
    while i < len(tokens):
        token = tokens[i]
        match = _FLAG.match("--" + SHORT_FLAGS[token] if token in SHORT_FLAGS else token)
        if match is None:
            words.append(tokens[i])
            i += 1
            continue
        name, value = match.group(1).lower(), match.group(2)
        if name not in KNOWN_FLAGS:
            raise PromptError(
                "unknown_flag",
                {"flag": _quote("--" + name), "known": ", ".join("--" + f for f in KNOWN_FLAGS)},
            )
        if name in flags:
            raise PromptError("duplicate_flag", {"flag": "--" + name})
        i += 1
        if name in BOOLEAN_FLAGS:
            if value is not None:
                raise PromptError("unexpected_value", {"flag": "--" + name})
            flags[name] = ""
            continue
        if value is None:
            if i >= len(tokens) or _FLAG.match(tokens[i]):
                raise PromptError("missing_value", {"flag": "--" + name})
            value = tokens[i]
            i += 1
        flags[name] = value
    return flags, words


def _parse_model(value: str, models: Mapping[str, Capabilities]) -> str:
    name = value.lower()
    if name not in models:
        raise PromptError("unknown_model", {"model": value[:40], "known": ", ".join(models)})
    return name


def _parse_seed(value: str) -> int | None:
    """A seed of 0 means "random" to YandexART, so the bot treats it as no seed."""
    # Check the length first: int() refuses strings of thousands of digits.
    if not _INTEGER.match(value) or len(value.lstrip("+0")) > 19 or int(value) > MAX_SEED:
        raise PromptError("bad_seed", {"value": value[:40], "max": MAX_SEED})
    seed = int(value)
    return seed or None


def _parse_ratio(value: str, limits: Limits) -> Ratio:
    match = _RATIO.match(value)
    params: dict[str, str | int] = {
        "value": value[:40],
        "max_side": limits.max_side,
        "max_elongation": _format_weight(limits.max_elongation),
    }
    if match is None:
        raise PromptError("bad_ratio", params)
    width, height = int(match.group(1)), int(match.group(2))
    if width == 0 or height == 0:
        raise PromptError("bad_ratio", params)
    divisor = math.gcd(width, height)
    width, height = width // divisor, height // divisor
    too_long = max(width, height) / min(width, height) > limits.max_elongation
    if max(width, height) > limits.max_side or too_long:
        raise PromptError("bad_ratio", params)
    return Ratio(width, height)


def _parse_parts(text: str, limits: Limits) -> tuple[PromptPart, ...]:
    """`misty forest :: 2 | small red fox :: 1` → weighted parts; plain text → one part."""
    if not text.strip():
        raise PromptError("empty_prompt")
    raws = text.split("|")
    if len(raws) > MAX_PARTS:
        raise PromptError("too_many_parts", {"count": len(raws), "limit": MAX_PARTS})
    parts = []
    for raw in raws:
        body, sep, weight_text = raw.rpartition("::")
        if not sep:
            body, weight = raw, 1.0
        else:
            weight = _parse_weight(weight_text.strip())
        body = body.strip()
        if not body:
            raise PromptError("empty_part")
        parts.append(PromptPart(body, weight))
    _check_length(parts, limits)
    return tuple(parts)


def _check_length(parts: Sequence[PromptPart], limits: Limits) -> None:
    length = sum(len(p.text) for p in parts)
    if length > limits.max_length:
        raise PromptError("prompt_too_long", {"length": length, "limit": limits.max_length})


def _parse_weight(text: str) -> float:
    try:
        weight = float(text)
    except ValueError:
        weight = math.nan
    if not math.isfinite(weight) or weight <= 0 or weight > 1000:
        raise PromptError("bad_weight", {"value": text[:40]})
    return weight
