"""`python -m bot check` tells the truth about every dependency `run` will use: each model
in MODELS (the Images API too), SpeechKit, STYLES_FILE, the ports; and `check --draw`
draws one picture with each model. Against the fakes (issue 20)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bot.emulators.images import FakeImages
from bot.emulators.speechkit import FakeSpeechKit
from bot.emulators.telegram import FakeTelegram
from bot.emulators.yandexart import FakeYandex, model_denied
from tests.bot_process import API_KEY, BOT_TOKEN, FOLDER, run_command
from tests.conftest import ALICE_URI
from tests.redis_server import free_port

ART_URI = f"art://{FOLDER}/yandex-art/latest"


@pytest.fixture
def env(
    telegram: FakeTelegram, yandex: FakeYandex, images: FakeImages, speechkit: FakeSpeechKit
) -> dict[str, str]:
    """Both models and voice prompts, every host a fake."""
    return {
        "BOT_TOKEN": BOT_TOKEN,
        "YANDEX_FOLDER_ID": FOLDER,
        "YANDEX_API_KEY": API_KEY,
        "TELEGRAM_API_URL": telegram.url,
        "YANDEX_API_URL": yandex.url,
        "IMAGES_API_URL": images.url,
        "STT_API_URL": speechkit.url,
        "ART_MODEL_URI": "art://{folder}/yandex-art/latest",
    }


async def check(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, list[str]]:
    return await run_command(["check", *args], env, cwd)


async def test_every_dependency_has_its_line(
    tmp_path: Path, env: dict[str, str], yandex: FakeYandex, images: FakeImages
) -> None:
    code, lines = await check(env, tmp_path)
    assert code == 0, lines
    assert [line.split(":")[0] for line in lines] == [
        "✓ settings",
        "✓ Telegram",
        "✓ Images API",
        "✓ YandexART",
        "✓ YandexGPT",
        "✓ SpeechKit",
        "✓ Redis",
    ]
    assert "✓ Images API: credentials accepted (an empty prompt, nothing drawn)" in lines
    assert (images.images, yandex.generations) == ([], 0)  # nothing drawn, nothing billed


async def test_images_api_refusing_the_key_fails_the_check(
    tmp_path: Path, env: dict[str, str], images: FakeImages
) -> None:
    images.api_key = "another-key"
    code, lines = await check(env, tmp_path)
    assert code == 1
    assert "✗ Images API: YANDEX_API_KEY refused (401 Unauthenticated)" in lines
    assert "✓ YandexART: credentials accepted" in lines


async def test_images_api_refusing_the_model_names_it(
    tmp_path: Path, env: dict[str, str], images: FakeImages
) -> None:
    images.refused_models[ALICE_URI] = model_denied()
    code, lines = await check(env, tmp_path)
    assert code == 1
    assert "✗ Images API: model refused: Access to model denied" in lines


async def test_speechkit_refusing_fails_the_check(
    tmp_path: Path, env: dict[str, str], speechkit: FakeSpeechKit
) -> None:
    speechkit.api_key = "another-key"
    code, lines = await check(env, tmp_path)
    assert code == 1
    assert "✗ SpeechKit: YANDEX_API_KEY or STT_API_URL refused (401 Unauthenticated)" in lines
    code, lines = await check({**env, "VOICE_PROMPTS": "false"}, tmp_path)
    assert code == 0, lines
    assert not any("SpeechKit" in line for line in lines)


async def test_a_broken_styles_file_is_named_without_noise(
    tmp_path: Path, env: dict[str, str]
) -> None:
    styles = tmp_path / "styles.toml"
    styles.write_text("[broken\n")
    code, lines = await check({**env, "STYLES_FILE": str(styles)}, tmp_path)
    assert code == 1
    [line] = [line for line in lines if line.startswith(("✓ styles", "✗ styles"))]
    assert line.startswith("✗ styles: STYLES_FILE: ")
    assert not any("Unclosed" in line or "Traceback" in line for line in lines), lines


async def test_a_taken_port_fails_the_check(tmp_path: Path, env: dict[str, str]) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", port))  # noqa: S104 - where the bot would listen
        taken.listen()
        code, lines = await check({**env, "HEALTH_PORT": str(port)}, tmp_path)
    assert code == 1
    assert f"✗ ports: cannot listen on 0.0.0.0: {port} (in use)" in lines
    code, lines = await check({**env, "HEALTH_PORT": str(port)}, tmp_path)
    assert code == 0, lines
    assert f"✓ ports: {port} free on 0.0.0.0" in lines


async def test_draw_draws_one_picture_with_each_model(
    tmp_path: Path, env: dict[str, str], yandex: FakeYandex, images: FakeImages
) -> None:
    code, lines = await check(env, tmp_path, "--draw")
    assert code == 0, lines
    assert lines[0].startswith("Drawing one small picture with each model (aliceai, yandexart)")
    assert lines[0].endswith("billed by Yandex.")
    draws = [line for line in lines if line.startswith(("✓ draw", "✗ draw"))]
    assert [line.rsplit(" in ", 1)[0] for line in draws] == [
        "✓ draw aliceai: a picture",
        "✓ draw yandexart: a picture",
    ]
    assert (len(images.images), yandex.generations) == (1, 1)


async def test_draw_shows_a_refused_model_with_yandexs_text(
    tmp_path: Path, env: dict[str, str], yandex: FakeYandex
) -> None:
    yandex.refused_models[ART_URI] = model_denied()
    code, lines = await check(env, tmp_path, "--draw")
    assert code == 1
    assert "✗ draw yandexart: refused: Access to model denied" in lines
    assert any(line.startswith("✓ draw aliceai: a picture in ") for line in lines)
