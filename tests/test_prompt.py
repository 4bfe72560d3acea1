"""`parse_art_args`: flags, ratios, seeds, weighted parts and every user-facing error."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.core.models import FULL, Capabilities
from bot.core.prompt import (
    MAX_SEED,
    SQUARE,
    ArtRequest,
    Defaults,
    Limits,
    PromptError,
    PromptPart,
    Ratio,
    parse_art_args,
)

LIMITS = Limits()
KNOWN = "--seed, --ratio, --enhance, --no-enhance, --style, --n, --model"


def parse(args: str | None, limits: Limits = LIMITS) -> ArtRequest:
    return parse_art_args(args, limits)


def error_of(args: str | None, limits: Limits = LIMITS) -> PromptError:
    with pytest.raises(PromptError) as info:
        parse_art_args(args, limits)
    return info.value


def ratio_params(value: str, limits: Limits = LIMITS) -> dict[str, str | int]:
    return {
        "value": value,
        "max_side": limits.max_side,
        "max_elongation": f"{limits.max_elongation:g}",
    }


# --- happy paths -------------------------------------------------------------------------


def test_plain_prompt_is_one_part_with_defaults() -> None:
    assert parse("a red fox in the snow") == ArtRequest(
        parts=(PromptPart("a red fox in the snow", 1.0),), seed=None, ratio=SQUARE
    )


@pytest.mark.parametrize(
    "args",
    [
        "cat --seed 42",
        "cat --seed=42",
        "--seed 42 cat",
        "--seed=42 cat",
        "—seed 42 cat",
        "cat —seed=42",
        "cat --SEED 42",
        "cat --seed +42",
        "cat --seed 0042",
    ],
)
def test_seed_forms(args: str) -> None:
    request = parse(args)
    assert request.seed == 42
    assert request.parts == (PromptPart("cat"),)
    assert request.ratio == SQUARE


@pytest.mark.parametrize(
    "args",
    [
        "cat --ratio 16:9",
        "cat --ratio=16:9",
        "--ratio 16:9 cat",
        "cat --ratio 16x9",
        "cat --ratio 16X9",
        "cat --ratio 16х9",  # Cyrillic "х"
        "cat --ratio 16×9",
        "cat —ratio 16:9",
        "cat —ratio=16:9",
        "cat --ratio 32:18",
        "cat --ratio 160:90",
    ],
)
def test_ratio_forms(args: str) -> None:
    request = parse(args)
    assert request.ratio == Ratio(16, 9)
    assert request.parts == (PromptPart("cat"),)
    assert request.seed is None


def test_ratio_is_reduced_by_gcd() -> None:
    assert parse("cat --ratio 32:18").ratio == Ratio(16, 9)
    assert parse("cat --ratio 6:6").ratio == SQUARE
    assert parse("cat --ratio 12:8").ratio == Ratio(3, 2)


def test_flags_anywhere_between_prompt_words() -> None:
    request = parse("misty --ratio 2:3 forest --seed 7 at dawn")
    assert request == ArtRequest(
        parts=(PromptPart("misty forest at dawn"),), seed=7, ratio=Ratio(2, 3)
    )


def test_flags_before_prompt() -> None:
    request = parse("--seed 5 --ratio=3:4 a lighthouse")
    assert request == ArtRequest(parts=(PromptPart("a lighthouse"),), seed=5, ratio=Ratio(3, 4))


@pytest.mark.parametrize("seed", ["0", "00", "+0"])
def test_seed_zero_means_bot_picks(seed: str) -> None:
    assert parse(f"cat --seed {seed}").seed is None


def test_largest_seed_is_accepted() -> None:
    assert parse(f"cat --seed {MAX_SEED}").seed == 2**63 - 1


def test_weighted_parts() -> None:
    request = parse("misty forest :: 2 | small red fox :: 1")
    assert request.parts == (PromptPart("misty forest", 2.0), PromptPart("small red fox", 1.0))
    assert all(isinstance(p.weight, float) for p in request.parts)
    assert request.text == "misty forest :: 2 | small red fox :: 1"


def test_eight_weighted_parts_are_fine() -> None:
    assert len(parse(" | ".join(f"part {n} :: {n + 1}" for n in range(8))).parts) == 8


def test_weighted_parts_without_spaces_and_default_weight() -> None:
    request = parse("forest::0.5|fox")
    assert request.parts == (PromptPart("forest", 0.5), PromptPart("fox", 1.0))


def test_weight_is_taken_after_the_last_double_colon() -> None:
    assert parse("a :: b :: 3").parts == (PromptPart("a :: b", 3.0),)


@pytest.mark.parametrize(("text", "weight"), [("1000", 1000.0), ("1e3", 1000.0), ("0.001", 0.001)])
def test_weight_bounds_accepted(text: str, weight: float) -> None:
    assert parse(f"fox :: {text}").parts == (PromptPart("fox", weight),)


def test_whitespace_is_collapsed() -> None:
    request = parse("  misty\t\tforest \n  at   dawn  ")
    assert request.parts == (PromptPart("misty forest at dawn"),)


def test_whitespace_is_collapsed_inside_parts() -> None:
    request = parse("  misty    forest   ::  2   |   red   fox  ")
    assert request.parts == (PromptPart("misty forest", 2.0), PromptPart("red fox", 1.0))


def test_single_default_weight_text_is_plain() -> None:
    assert parse("fox :: 1").text == "fox"


def test_prompt_of_exactly_the_limit_is_fine() -> None:
    assert parse("a" * 500).parts == (PromptPart("a" * 500),)


def test_length_ignores_separators_weights_and_collapsed_spaces() -> None:
    # 250 + 250 characters of text; the ` :: 2 | ` markup does not count.
    assert len(parse("a" * 250 + " :: 2 | " + "b" * 250).parts) == 2
    # Collapsed runs of spaces count as one.
    assert parse("a" * 250 + "      " + "b" * 249).parts == (
        PromptPart("a" * 250 + " " + "b" * 249),
    )


def test_custom_limits_are_used() -> None:
    limits = Limits(max_length=10, max_side=64, max_elongation=8.0)
    assert parse("cat --ratio 64:9", limits).ratio == Ratio(64, 9)
    assert error_of("cat --ratio 65:9", limits).code == "bad_ratio"
    assert error_of("a" * 11, limits).params == {"length": 11, "limit": 10}


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "params"),
    [
        (None, "empty_prompt", {}),
        ("", "empty_prompt", {}),
        ("   ", "empty_prompt", {}),
        ("\n\t", "empty_prompt", {}),
        ("--seed 42", "empty_prompt", {}),
        ("--seed 42 --ratio 16:9", "empty_prompt", {}),
        ("a | | b", "empty_part", {}),
        ("a |", "empty_part", {}),
        ("| a", "empty_part", {}),
        (":: 2 | a", "empty_part", {}),
        ("a" * 501, "prompt_too_long", {"length": 501, "limit": 500}),
        ("a" * 250 + " | " + "b" * 251, "prompt_too_long", {"length": 501, "limit": 500}),
        ("a" * 200 + " :: 2 | " + "b" * 400, "prompt_too_long", {"length": 600, "limit": 500}),
        ("cat --seed abc", "bad_seed", {"value": "abc", "max": MAX_SEED}),
        ("cat --seed -1", "bad_seed", {"value": "-1", "max": MAX_SEED}),
        ("cat --seed 1.5", "bad_seed", {"value": "1.5", "max": MAX_SEED}),
        ("cat --seed 1e3", "bad_seed", {"value": "1e3", "max": MAX_SEED}),
        (f"cat --seed {2**63}", "bad_seed", {"value": str(2**63), "max": MAX_SEED}),
        ("cat --seed " + "9" * 60, "bad_seed", {"value": "9" * 40, "max": MAX_SEED}),
        ("cat --seed=", "bad_seed", {"value": "", "max": MAX_SEED}),
        ("cat --ratio 16", "bad_ratio", ratio_params("16")),
        ("cat --ratio 0:1", "bad_ratio", ratio_params("0:1")),
        ("cat --ratio 1:0", "bad_ratio", ratio_params("1:0")),
        ("cat --ratio 0:0", "bad_ratio", ratio_params("0:0")),
        ("cat --ratio a:b", "bad_ratio", ratio_params("a:b")),
        ("cat --ratio 16:9:1", "bad_ratio", ratio_params("16:9:1")),
        ("cat --ratio -1:1", "bad_ratio", ratio_params("-1:1")),
        ("cat --ratio 5:1", "bad_ratio", ratio_params("5:1")),
        ("cat --ratio 1:5", "bad_ratio", ratio_params("1:5")),
        ("cat --ratio 33:1", "bad_ratio", ratio_params("33:1")),
        ("cat --ratio 33:32", "bad_ratio", ratio_params("33:32")),
        ("cat --ratio 1234567:1", "bad_ratio", ratio_params("1234567:1")),
        ("cat --size 3", "unknown_flag", {"flag": "--size", "known": KNOWN}),
        ("cat —size=3", "unknown_flag", {"flag": "--size", "known": KNOWN}),
        ("cat ---seed 3", "unknown_flag", {"flag": "---seed", "known": KNOWN}),
        ("cat --seed 1 --seed 2", "duplicate_flag", {"flag": "--seed"}),
        ("cat --ratio 1:1 —ratio=2:3", "duplicate_flag", {"flag": "--ratio"}),
        ("cat --seed", "missing_value", {"flag": "--seed"}),
        ("cat --ratio", "missing_value", {"flag": "--ratio"}),
        ("cat --seed --ratio 1:1", "missing_value", {"flag": "--seed"}),
        ("cat --ratio —seed 5", "missing_value", {"flag": "--ratio"}),
        ("a :: x", "bad_weight", {"value": "x"}),
        ("a :: 0", "bad_weight", {"value": "0"}),
        ("a :: -1", "bad_weight", {"value": "-1"}),
        ("a :: nan", "bad_weight", {"value": "nan"}),
        ("a :: inf", "bad_weight", {"value": "inf"}),
        ("a :: 1001", "bad_weight", {"value": "1001"}),
        ("a ::", "bad_weight", {"value": ""}),
        ("a :: 2 | b :: two", "bad_weight", {"value": "two"}),
        ("cat --" + "x" * 5000, "unknown_flag", {"flag": "--" + "x" * 37 + "…", "known": KNOWN}),
        ("a|b|c|d|e|f|g|h|i", "too_many_parts", {"count": 9, "limit": 8}),
        ("a :: 1 |" * 20 + "b", "too_many_parts", {"count": 21, "limit": 8}),
    ],
)
def test_errors(args: str | None, code: str, params: dict[str, str | int]) -> None:
    error = error_of(args)
    assert error.code == code
    assert error.params == params
    assert str(error) == code


@pytest.mark.parametrize("ratio", ["4:1", "1:4", "32:8", "32:31", "31:32"])
def test_ratio_at_the_limits_is_fine(ratio: str) -> None:
    width, height = (int(side) for side in ratio.split(":"))
    divisor = math.gcd(width, height)
    assert parse(f"cat --ratio {ratio}").ratio == Ratio(width // divisor, height // divisor)


def test_side_limit_applies_on_its_own() -> None:
    limits = Limits(max_elongation=100.0)
    assert parse("cat --ratio 32:1", limits).ratio == Ratio(32, 1)
    assert error_of("cat --ratio 33:1", limits).params == ratio_params("33:1", limits)


def test_side_limit_applies_after_reduction() -> None:
    # 66:64 is 33:32 once reduced: still too big a side.
    assert error_of("cat --ratio 66:64").code == "bad_ratio"
    # 64:32 is 2:1 once reduced: fine.
    assert parse("cat --ratio 64:32").ratio == Ratio(2, 1)


def test_long_seed_made_of_digits_is_a_prompt_error() -> None:
    """More digits than Python will convert to an int must still be a user mistake."""
    error = error_of("cat --seed " + "1" * 5000)
    assert error.code == "bad_seed"
    assert error.params == {"value": "1" * 40, "max": MAX_SEED}


# --- properties --------------------------------------------------------------------------

TOKENS = [
    "--seed",
    "--ratio",
    "—seed",
    "—ratio",
    "--size",
    "--",
    "—",
    "=",
    ":",
    "::",
    "|",
    "x",
    "х",
    "-",
    "+",
    ".",
    "0",
    "1",
    "2",
    "9",
    "16",
    "32",
    "1000",
    "nan",
    "inf",
    "1e3",
    " ",
    " ",
    " ",
    "\t",
    "\n",
    "cat",
    "fox",
    "лиса",
    "🦊",
    # Whole flags, so that valid requests with a seed or a ratio come up often.
    " --seed 7 ",
    " --seed=0 ",
    " —seed 9223372036854775807 ",
    " --ratio 16:9 ",
    " --ratio=64:36 ",
    " —ratio 2x3 ",
    " --ratio 40:1 ",
    " :: 2 | ",
]

ERROR_CODES = frozenset(
    {
        "empty_prompt",
        "empty_part",
        "prompt_too_long",
        "bad_seed",
        "bad_ratio",
        "unknown_flag",
        "duplicate_flag",
        "missing_value",
        "bad_weight",
        "too_many_parts",
    }
)

token_text = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)
any_text = st.one_of(st.text(), token_text)
limits_strategy = st.builds(
    Limits,
    max_length=st.integers(min_value=1, max_value=600),
    max_side=st.integers(min_value=1, max_value=40),
    max_elongation=st.floats(min_value=1.0, max_value=10.0),
)


def check_invariants(request: ArtRequest, limits: Limits) -> None:
    assert request.parts
    for part in request.parts:
        assert part.text
        assert part.text == part.text.strip()
        assert math.isfinite(part.weight)
        assert 0 < part.weight <= 1000
    assert sum(len(p.text) for p in request.parts) <= limits.max_length
    assert request.seed is None or 1 <= request.seed <= MAX_SEED
    width, height = request.ratio.width, request.ratio.height
    assert 1 <= width <= limits.max_side
    assert 1 <= height <= limits.max_side
    assert max(width, height) / min(width, height) <= limits.max_elongation
    assert math.gcd(width, height) == 1


@settings(max_examples=200)
@given(args=any_text)
def test_any_text_parses_or_is_a_prompt_error(args: str) -> None:
    try:
        request = parse_art_args(args, LIMITS)
    except PromptError as error:
        code = error.code
    else:
        check_invariants(request, LIMITS)
        return
    assert code in ERROR_CODES


@settings(max_examples=200)
@given(args=token_text, limits=limits_strategy)
def test_invariants_hold_under_any_limits(args: str, limits: Limits) -> None:
    try:
        request = parse_art_args(args, limits)
    except PromptError:
        return
    check_invariants(request, limits)


@settings(max_examples=200)
@given(
    seed=st.integers(min_value=1, max_value=MAX_SEED),
    width=st.integers(min_value=1, max_value=32),
    height=st.integers(min_value=1, max_value=32),
    scale=st.integers(min_value=1, max_value=1000),
    equals=st.booleans(),
    flags_first=st.booleans(),
)
def test_valid_seed_and_ratio_round_trip(
    seed: int, width: int, height: int, scale: int, equals: bool, flags_first: bool
) -> None:
    divisor = math.gcd(width, height)
    reduced = Ratio(width // divisor, height // divisor)
    assume(max(width, height) / min(width, height) <= LIMITS.max_elongation)
    sep = "=" if equals else " "
    flags = f"--seed{sep}{seed} --ratio{sep}{width * scale}:{height * scale}"
    args = f"{flags} word" if flags_first else f"word {flags}"
    request = parse_art_args(args, LIMITS)
    assert request == ArtRequest(parts=(PromptPart("word"),), seed=seed, ratio=reduced)


def test_without_model_a_flag_the_default_cannot_honour_goes_to_a_model_that_can() -> None:
    """`--seed`, weights and `--n` draw out of the box whatever the default model: the first
    offered model that can do them draws; an explicit `--model` is never changed."""
    # The Images API's capabilities (bot/yandex/images.py): no seeds, weights or variants.
    alice = Capabilities(seed=False, weights=False, variants=False, keeps_results=False)
    models = {"aliceai": alice, "yandexart": FULL}
    defaults = Defaults(model="aliceai")
    for args in ("a fox --seed 42", "a fox :: 2 | snow :: 1", "a fox --n 2", "a fox"):
        request = parse_art_args(args, Limits(), defaults=defaults, models=models)
        assert request.model == ("aliceai" if args == "a fox" else "yandexart"), args
        assert request.instead_of is None
    assert parse_art_args("a fox --seed 42", Limits(), defaults=defaults, models=models).seed == 42
    with pytest.raises(PromptError) as refused:
        parse_art_args(
            "a fox --seed 42 --model aliceai", Limits(), defaults=defaults, models=models
        )
    assert refused.value.code == "model_no_seed"
    only_alice = {"aliceai": alice}
    with pytest.raises(PromptError) as alone:
        parse_art_args("a fox --seed 42", Limits(), defaults=defaults, models=only_alice)
    assert alone.value.code == "model_no_seed"
