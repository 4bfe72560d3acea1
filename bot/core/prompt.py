"""Parse the text after `/art` into a generation request.

Pure functions only: the handler turns a `PromptError` into a localized answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.core.models import FULL, ONLY_YANDEXART, YANDEXART, Capabilities
from bot.core.styles import BUILTIN, NO_STYLE, StyleCatalog

MAX_SEED = 2**63 - 1
# A style's text goes to YandexART as one more message weighing half the prompt's parts
# together. YandexART normalizes the weights to sum to 1, so the style gets a third of the
# influence and the subject two thirds: it stays what the picture is of.
STYLE_WEIGHT_SHARE = 0.5
# A model without weights gets the style as a sentence after the prompt: "…. Style: …".
STYLE_LABEL = "Style"
KNOWN_FLAGS = ("seed", "ratio", "enhance", "no-enhance", "style", "n", "model")
BOOLEAN_FLAGS = frozenset({"enhance", "no-enhance"})
SHORT_FLAGS = {"-e": "enhance", "-n": "n"}
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
    # A style preset: its name, and its text as it was when the request was made.
    style: str | None = None
    style_prompt: str = ""
    # Variants drawn at once, with seeds seed, seed+1, …, sent as an album.
    variants: int = 1
    # The model the user asked for when another draws it (set aside, or no longer offered).
    instead_of: str | None = None

    @property
    def messages(self) -> tuple[PromptPart, ...]:
        """What YandexART gets: the parts, and the style as one more weighted message."""
        if not self.style_prompt:
            return self.parts
        weight = STYLE_WEIGHT_SHARE * sum(p.weight for p in self.parts)
        return (*self.parts, PromptPart(self.style_prompt, weight))

    @property
    def one_text(self) -> str:
        """What a model that takes one unweighted text gets: the prompt, and the style
        folded into it as a sentence (such a model has no weights to give it)."""
        prompt = " ".join(part.text for part in self.parts)
        return f"{prompt}. {STYLE_LABEL}: {self.style_prompt}" if self.style_prompt else prompt

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
    style: str | None = None
    model: str = YANDEXART


@dataclass(frozen=True)
class Limits:
    max_length: int = 500
    max_side: int = 32
    max_variants: int = 4
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
    styles: StyleCatalog = BUILTIN,
    models: Mapping[str, Capabilities] = ONLY_YANDEXART,
) -> ArtRequest:
    """Split flags from the prompt, validate both, and build the request.

    `replied_text` is the message `/art` answers to: when the command itself has no prompt,
    that text is drawn, taken literally (someone else's `|` or `--` is not syntax).
    `models` are the models users may pick, with what each can do.
    """
    flags, words = _split_flags(args or "")
    if "model" in flags:
        model = _parse_model(flags["model"], models)
        return _request(flags, words, model, limits, replied_text, defaults, styles, models)
    # Without --model: the default model, unless it cannot do what the flags ask (a seed,
    # weights, variants); then the first offered model that can, so `/art … --seed 42` draws
    # out of the box whatever the default. The caption names the model that drew.
    try:
        return _request(
            flags, words, defaults.model, limits, replied_text, defaults, styles, models
        )
    except PromptError as refused:
        if refused.code not in _MODEL_REFUSALS:
            raise
        for model in models:
            if model == defaults.model:
                continue
            try:
                return _request(flags, words, model, limits, replied_text, defaults, styles, models)
            except PromptError as again:
                if again.code not in _MODEL_REFUSALS:
                    raise
        raise


# What one model cannot do and another may: parsing tries the next offered model.
_MODEL_REFUSALS = frozenset({"model_no_seed", "model_no_weights", "model_no_variants"})


def _request(
    flags: dict[str, str],
    words: list[str],
    model: str,
    limits: Limits,
    replied_text: str | None,
    defaults: Defaults,
    styles: StyleCatalog,
    models: Mapping[str, Capabilities],
) -> ArtRequest:
    """The request as `model` would draw it, or the user's mistake."""
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
    style, style_prompt = _parse_style(flags.get("style"), defaults.style, styles)
    _check_length(parts, limits, style, style_prompt)
    variants = _parse_variants(flags["n"], limits) if "n" in flags else 1
    if variants > 1 and not capabilities.variants:
        raise PromptError("model_no_variants", {"model": model})
    if seed is not None and seed + variants - 1 > MAX_SEED:
        raise PromptError("bad_seed", {"value": str(seed), "max": MAX_SEED - variants + 1})
    return ArtRequest(
        parts=parts,
        seed=seed,
        ratio=ratio,
        enhance=enhance,
        style=style,
        style_prompt=style_prompt,
        variants=variants,
        model=model,
    )


def _parse_variants(value: str, limits: Limits) -> int:
    if not _INTEGER.match(value) or len(value) > 3 or not 1 <= int(value) <= limits.max_variants:
        raise PromptError("bad_variants", {"value": value[:40], "max": limits.max_variants})
    return int(value)


def _parse_style(
    value: str | None, default: str | None, styles: StyleCatalog
) -> tuple[str | None, str]:
    """The style flag (a name or a title in any language, `none` for none) or the user's
    default; a default the operator has since removed is simply no style."""
    if value is None:
        chosen = styles.get(default)
    elif value.casefold() == NO_STYLE:
        chosen = None
    else:
        chosen = styles.find(value)
        if chosen is None:
            known = ", ".join(styles.names)
            raise PromptError("unknown_style", {"value": value[:40], "known": known})
    return (chosen.name, chosen.prompt) if chosen is not None else (None, "")


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


def _check_length(
    parts: Sequence[PromptPart], limits: Limits, style: str | None = None, style_prompt: str = ""
) -> None:
    """YandexART's limit is on all the text it gets: a style's text counts too."""
    length = sum(len(p.text) for p in parts)
    if length > limits.max_length:
        raise PromptError("prompt_too_long", {"length": length, "limit": limits.max_length})
    if style is not None and length + len(style_prompt) > limits.max_length:
        limit = limits.max_length - len(style_prompt)
        params: dict[str, str | int] = {"length": length, "limit": limit, "style": style}
        raise PromptError("prompt_too_long_style", params)


def _parse_weight(text: str) -> float:
    try:
        weight = float(text)
    except ValueError:
        weight = math.nan
    if not math.isfinite(weight) or weight <= 0 or weight > 1000:
        raise PromptError("bad_weight", {"value": text[:40]})
    return weight
