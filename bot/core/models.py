"""Image models by name, and what each can do with a request.

Each backend declares its `Capabilities`; the parser refuses a flag the chosen model cannot
honour (with a message naming the model) instead of sending something it would ignore.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

# The async YandexART API: the model the bot has always used, and the default.
YANDEXART = "yandexart"


@dataclass(frozen=True, slots=True)
class Capabilities:
    # `--seed`: the same prompt, seed and ratio give the same picture.
    seed: bool = True
    # Weighted parts (`a :: 2 | b :: 1`).
    weights: bool = True
    # `--n N`: N variants with seeds S…S+N−1 as an album; each variant is an operation kept
    # at Yandex until the album is sent, so it needs seeds and kept results.
    variants: bool = True
    # The result stays at Yandex, so "Original" can fetch the same picture again.
    keeps_results: bool = True
    # The longest prompt the model takes, in characters (both image models: 500).
    prompt_max: int = 500


FULL = Capabilities()
# What the parser knows when it is given no models: YandexART alone.
ONLY_YANDEXART: Mapping[str, Capabilities] = {YANDEXART: FULL}


# What a request needs of a model, by the flag the user would have to drop without it.
SEED_FLAG = "--seed"
WEIGHTS_FLAG = "::"
VARIANTS_FLAG = "--n"


@dataclass(frozen=True, slots=True)
class Needs:
    """What a request asks of the model that draws it."""

    seed: bool = False
    weights: bool = False
    variants: bool = False

    def refused_by(self, capabilities: Capabilities) -> str | None:
        """The first flag `capabilities` cannot honour, or None."""
        if self.seed and not capabilities.seed:
            return SEED_FLAG
        if self.weights and not capabilities.weights:
            return WEIGHTS_FLAG
        if self.variants and not capabilities.variants:
            return VARIANTS_FLAG
        return None


@dataclass(frozen=True, slots=True)
class Chosen:
    """The model that draws; `instead_of` the requested one when that one cannot."""

    model: str
    instead_of: str | None = None


@dataclass(frozen=True, slots=True)
class NoModel:
    """No available model can draw the request: `flag` is what `model` (the first one
    available, or the requested one when none is) cannot honour; no flag when none is
    available at all."""

    model: str
    flag: str | None


def choose_model(
    requested: str,
    order: Sequence[str],
    capabilities: Mapping[str, Capabilities],
    unavailable: Collection[str],
    needs: Needs,
) -> Chosen | NoModel:
    """The requested model when it is available, else the first model of `order` that is
    available and honours `needs`. Pure: the caller knows which models are set aside."""
    if requested not in unavailable and requested in capabilities:
        return Chosen(requested)
    refusal: NoModel | None = None
    for name in order:
        if name == requested or name in unavailable or name not in capabilities:
            continue
        flag = needs.refused_by(capabilities[name])
        if flag is None:
            return Chosen(name, instead_of=requested)
        refusal = refusal or NoModel(name, flag)
    return refusal or NoModel(requested, None)


def stall_threshold(durations: Sequence[float], *, floor: float, factor: float = 3.0) -> float:
    """How long an operation of a model may stay unfinished before the model is taken for
    stalled: `factor` times the longest it has ever taken, never below `floor` (a model
    whose times are not known yet gets the floor)."""
    return max(floor, factor * max(durations, default=0.0))
