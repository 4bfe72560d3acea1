"""Image models by name, and what each can do with a request.

Each backend declares its `Capabilities`; the parser refuses a flag the chosen model cannot
honour (with a message naming the model) instead of sending something it would ignore.
"""

from __future__ import annotations

from collections.abc import Mapping
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


FULL = Capabilities()
# What the parser knows when it is given no models: YandexART alone.
ONLY_YANDEXART: Mapping[str, Capabilities] = {YANDEXART: FULL}
