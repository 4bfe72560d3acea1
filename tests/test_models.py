"""Models as values: capabilities checked by the parser, the Images API's body and answer,
the models settings, a user's model preference and /stats figures per model."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from bot.core.models import FULL, Capabilities
from bot.core.prefs import parse_prefs
from bot.core.prompt import Defaults, Limits, PromptError, Ratio, parse_art_args
from bot.core.stats import ModelFigures, figures_by_model
from bot.ops.app import create_backends, create_yandex_http
from bot.ops.settings import SettingsError, load_settings
from bot.services.job_writer import model_event
from bot.yandex.errors import GenerationFailed
from bot.yandex.images import IMAGES_CAPABILITIES, build_images_body, parse_images_answer

MODELS = {"yandexart": FULL, "aliceai": IMAGES_CAPABILITIES}
PLAIN = Defaults()


def parse(args: str, defaults: Defaults = PLAIN) -> Any:
    return parse_art_args(args, Limits(), None, defaults, models=MODELS)


def error_of(args: str, defaults: Defaults = PLAIN) -> PromptError:
    with pytest.raises(PromptError) as info:
        parse(args, defaults)
    return info.value


# --- the parser --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "model"),
    [
        ("a fox", "yandexart"),
        ("a fox --model aliceai", "aliceai"),
        ("--model=AliceAI a fox", "aliceai"),
        ("a fox —model aliceai", "aliceai"),
        ("a fox --model yandexart --seed 3", "yandexart"),
    ],
)
def test_model_flag_picks_the_model(args: str, model: str) -> None:
    assert parse(args).model == model


def test_the_users_default_model_applies_without_a_flag() -> None:
    defaults = Defaults(ratio=Ratio(16, 9), model="aliceai")
    request = parse("a fox", defaults)
    assert (request.model, request.ratio) == ("aliceai", Ratio(16, 9))
    assert parse("a fox --model yandexart --seed 4", defaults).seed == 4


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ("a fox --model aliceai --seed 5", "model_no_seed"),
        ("a fox --model aliceai --seed 0", "model_no_seed"),
        ("a fox --seed x --model aliceai", "model_no_seed"),
        ("a :: 2 | b :: 1 --model aliceai", "model_no_weights"),
        ("a | b --model aliceai", "model_no_weights"),
        ("a fox :: 3 --model aliceai", "model_no_weights"),
    ],
)
def test_what_aliceai_cannot_do_is_refused_naming_it(args: str, code: str) -> None:
    error = error_of(args)
    assert (error.code, error.params) == (code, {"model": "aliceai"})


def test_a_default_model_without_seeds_hands_a_seed_to_one_with_them() -> None:
    """The public contract: `--seed` draws out of the box whatever the default model; only
    when no offered model takes seeds is it refused, naming the model."""
    assert parse("a fox --seed 1", Defaults(model="aliceai")).model == "yandexart"
    with pytest.raises(PromptError) as info:
        parse_art_args(
            "a fox --seed 1",
            Limits(),
            None,
            Defaults(model="aliceai"),
            models={"aliceai": IMAGES_CAPABILITIES},
        )
    assert (info.value.code, info.value.params) == ("model_no_seed", {"model": "aliceai"})


def test_unknown_model_lists_the_offered_ones() -> None:
    error = error_of("a fox --model <b>dalle</b>")
    assert error.code == "unknown_model"
    assert error.params == {"model": "<b>dalle</b>", "known": "yandexart, aliceai"}
    only_one = {"aliceai": IMAGES_CAPABILITIES}
    with pytest.raises(PromptError) as info:
        parse_art_args("a fox --model yandexart", Limits(), None, PLAIN, models=only_one)
    assert info.value.params["known"] == "aliceai"


def test_a_model_without_weights_draws_a_reply_literally() -> None:
    request = parse_art_args(
        "--model aliceai", Limits(), "forest :: 2 | fox", Defaults(), models=MODELS
    )
    assert request.text == "forest :: 2 | fox"


def test_capabilities_declared_by_the_images_backend() -> None:
    expected = Capabilities(seed=False, weights=False, variants=False, keeps_results=False)
    assert expected == IMAGES_CAPABILITIES


# --- the models with variants and styles (merged features) ------------------------------


@pytest.mark.parametrize("flag", ["--n 2", "-n 4", "--n=3"])
def test_variants_are_refused_for_a_model_without_them(flag: str) -> None:
    error = error_of(f"a fox --model aliceai {flag}")
    assert (error.code, error.params) == ("model_no_variants", {"model": "aliceai"})


def test_variants_go_to_a_model_that_draws_them_and_one_variant_stays() -> None:
    alice = Defaults(model="aliceai")
    album = parse("a fox --n 2", alice)
    assert (album.model, album.variants) == ("yandexart", 2)
    assert error_of("a fox --n 2 --model aliceai", alice).code == "model_no_variants"
    single = parse("a fox --n 1", alice)
    assert (single.model, single.variants) == ("aliceai", 1)
    assert parse("a fox --n 3").variants == 3  # yandexart: an album


def test_a_style_is_a_weighted_message_for_yandexart_and_a_sentence_for_aliceai() -> None:
    art = parse("a red fox --style watercolor")
    alice = parse("a red fox --style watercolor --model aliceai")
    assert art.style_prompt == alice.style_prompt != ""
    assert art.messages[-1].text == art.style_prompt
    assert len(art.messages) == 2
    body = build_images_body("art://f/aliceai-image-art-3.0", alice)
    assert body["prompt"] == f"a red fox. Style: {alice.style_prompt}"
    plain = build_images_body("art://f/aliceai-image-art-3.0", parse("a fox --model aliceai"))
    assert plain["prompt"] == "a fox"


def test_a_default_style_is_folded_for_aliceai_and_none_turns_it_off() -> None:
    styled = Defaults(model="aliceai", style="anime")
    body = build_images_body("u", parse("an owl", styled))
    assert body["prompt"].startswith("an owl. Style: ")
    assert len(body["prompt"]) > 15
    assert build_images_body("u", parse("an owl --style none", styled))["prompt"] == "an owl"


# --- the Images API ----------------------------------------------------------------------


def test_images_body_is_the_documented_fields_only() -> None:
    request = parse("an owl --model aliceai --ratio 32:18 --enhance")
    body = build_images_body("art://f/aliceai-image-art-3.0", request)
    assert body == {"model": "art://f/aliceai-image-art-3.0", "prompt": "an owl", "size": "16x9"}


def test_images_answer_is_the_first_b64_picture() -> None:
    payload = {"created": 1, "data": [{"b64_json": base64.b64encode(b"\xff\xd8jpeg").decode()}]}
    assert parse_images_answer(payload) == b"\xff\xd8jpeg"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"data": []},
        {"data": [{"url": "https://example.org/x.png"}]},
        {"data": [{"b64_json": ""}]},
        {"data": [{"b64_json": "not base64!"}]},
        {"data": "nope"},
    ],
)
def test_images_answer_without_a_picture_is_a_failed_generation(payload: dict[str, Any]) -> None:
    with pytest.raises(GenerationFailed):
        parse_images_answer(payload)


# --- settings ----------------------------------------------------------------------------


def settings(**overrides: Any) -> Any:
    return load_settings(
        _env_file=None, bot_token="1:a", yandex_folder_id="f", yandex_api_key="k", **overrides
    )


def test_models_settings_defaults_and_lists() -> None:
    plain = settings()
    # Both models out of the box, the one Yandex recommends first (issue 20).
    assert (plain.models, plain.default_model) == (("aliceai", "yandexart"), "aliceai")
    assert plain.images_model_uri_resolved == "art://f/aliceai-image-art-3.0"
    both = settings(models=" yandexart, AliceAI ", default_model="AliceAI")
    assert (both.models, both.default_model) == (("yandexart", "aliceai"), "aliceai")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"models": "yandexart,dalle"}, "MODELS: unknown model 'dalle'; known: yandexart, aliceai"),
        ({"models": ","}, "MODELS: must name one or more models, each once"),
        ({"models": "aliceai,aliceai"}, "MODELS: must name one or more models, each once"),
        (
            {"models": "yandexart", "default_model": "aliceai"},
            "DEFAULT_MODEL must be one of MODELS (yandexart)",
        ),
        ({"images_model_uri": "art://x/aliceai"}, "IMAGES_MODEL_URI must contain {folder}"),
        ({"images_rate_per_minute": 0}, "IMAGES_RATE_PER_MINUTE"),
        ({"images_http_timeout": -1}, "IMAGES_HTTP_TIMEOUT"),
        ({"images_api_url": "not a url"}, "IMAGES_API_URL"),
    ],
)
def test_bad_model_settings_stop_start_up_with_one_line(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)) as caught:
        settings(**overrides)
    assert "\n" not in str(caught.value)


# --- preferences and figures -------------------------------------------------------------


def test_a_users_model_is_kept_and_falls_back_when_not_offered() -> None:
    prefs = parse_prefs('{"ratio": "16:9", "model": "aliceai"}')
    assert prefs.defaults_among(MODELS, "yandexart").model == "aliceai"
    assert prefs.defaults_among(("yandexart",), "yandexart").model == "yandexart"
    assert parse_prefs('{"ratio": "1:1"}').defaults_among(MODELS, "aliceai").model == "aliceai"


def test_stats_figures_per_model() -> None:
    counts = {
        "submitted": 3,
        "delivered:sent": 2,
        model_event("yandexart", "submitted"): 2,
        model_event("yandexart", "delivered:sent"): 2,
        model_event("aliceai", "submitted"): 1,
        model_event("aliceai", "delivered:gone"): 1,
        model_event("aliceai", "failed:moderation"): 1,
        model_event("aliceai", "failed:quota"): 2,
    }
    assert figures_by_model(counts) == {
        "aliceai": ModelFigures(submitted=1, delivered=0, failed=3),
        "yandexart": ModelFigures(submitted=2, delivered=2, failed=0),
    }


async def test_each_model_has_its_own_waiting_line() -> None:
    """The place shown while waiting for a model's budget counts that model's requests."""
    config = settings(models="yandexart,aliceai")
    http = create_yandex_http(config)
    backends = create_backends(config, http, http.credentials, None)
    art, alice = backends.submit_line("yandexart"), backends.submit_line("aliceai")
    assert await art.join("a") == 1
    assert await art.join("b") == 2
    assert await alice.join("c") == 1
    await art.leave("a")
    assert await art.join("b") == 1
    await backends.close()
