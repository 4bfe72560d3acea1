"""Voice prompts, unit by unit: the API's limits, the language, the SpeechKit query and
answer, and which credentials send `folderId`."""

from __future__ import annotations

import pytest

from bot.core.errors import ErrorKind
from bot.core.voice import VoiceIssue, check_voice, recognised_prompt, stt_failure, stt_language
from bot.ops.settings import load_settings
from bot.yandex.speechkit import pick_result, recognize_params


@pytest.mark.parametrize(
    ("duration", "size", "issue"),
    [
        (30, 1_000_000, None),
        (0, None, None),
        (31, 10, VoiceIssue.TOO_LONG),
        (31, 2_000_000, VoiceIssue.TOO_LONG),
        (1, 1_000_001, VoiceIssue.TOO_LARGE),
    ],
)
def test_limits_are_checked_on_the_message(
    duration: int, size: int | None, issue: VoiceIssue | None
) -> None:
    assert check_voice(duration, size) == issue


def test_language_follows_the_interface() -> None:
    assert stt_language("ru") == "ru-RU"
    assert stt_language("en") == "en-US"
    assert stt_language("de") == "en-US"


def test_recognised_text_is_collapsed_and_empty_means_nothing_heard() -> None:
    assert recognised_prompt("  a  red\nfox ") == "a red fox"
    assert recognised_prompt(" \n ") == ""
    assert pick_result({"result": " a fox "}) == "a fox"
    assert pick_result({}) == ""
    assert pick_result({"result": None}) == ""


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        (ErrorKind.AUTH, "misconfigured"),
        (ErrorKind.PERMISSION, "misconfigured"),
        (ErrorKind.QUOTA, "quota"),
        (ErrorKind.UNAVAILABLE, "unavailable"),
        (ErrorKind.BAD_REQUEST, "failed"),
        (ErrorKind.FAILED, "failed"),
    ],
)
def test_speechkit_errors_map_to_explanations(kind: ErrorKind, key: str) -> None:
    assert stt_failure(kind) == key


def test_folder_id_only_with_an_iam_token() -> None:
    common = {"_env_file": None, "bot_token": "1:a", "yandex_folder_id": "b1g"}
    with_key = load_settings(**common, yandex_api_key="k", yandex_iam_token="t")
    with_token = load_settings(**common, yandex_iam_token="t")
    assert with_key.stt_folder_id is None
    assert with_token.stt_folder_id == "b1g"
    assert recognize_params("ru-RU", None) == {"lang": "ru-RU"}
    assert recognize_params("en-US", "b1g") == {"lang": "en-US", "folderId": "b1g"}
