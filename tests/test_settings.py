"""The settings contract: .env.example and docs/settings.md name every setting and its default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.ops.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / ".env.example"


def example_values() -> dict[str, str]:
    values = {}
    for line in EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def test_every_setting_is_in_env_example_and_the_settings_page() -> None:
    page = (ROOT / "docs" / "settings.md").read_text()
    names = {name.upper() for name in Settings.model_fields}
    assert names == set(example_values())
    for name in names:
        assert f"`{name}`" in page, name


def test_env_example_loads_and_its_values_are_the_defaults(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(EXAMPLE.read_text().replace("YANDEX_API_KEY=\n", "YANDEX_API_KEY=k\n"))
    settings = load_settings(_env_file=env)
    for name, value in example_values().items():
        field = name.lower()
        if not value or field in {"bot_token", "yandex_folder_id"}:
            continue
        assert getattr(settings, field) == Settings.model_fields[field].default, name


def test_empty_values_mean_defaults(tmp_path: Path) -> None:
    settings = load_settings(
        _env_file=None, bot_token="1:a", yandex_folder_id="f", yandex_api_key="k"
    )
    assert settings.redis_url is None
    assert settings.webhook_url is None
    assert settings.yandex_auth_header == "Api-Key k"


def test_iam_token_is_a_bearer() -> None:
    settings = load_settings(
        _env_file=None, bot_token="1:a", yandex_folder_id="f", yandex_iam_token="t1"
    )
    assert settings.yandex_auth_header == "Bearer t1"
    assert settings.model_uri == "art://f/yandex-art-2.0"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"webhook_url": "https://example.org/hook"}, "WEBHOOK_SECRET is required"),
        (
            {"webhook_url": "https://example.org/hook", "webhook_secret": "bad secret!"},
            "WEBHOOK_SECRET: must be 1-256 characters",
        ),
        ({"redis_url": "http://localhost"}, "REDIS_URL"),
        ({"art_model_uri": "art://fixed/yandex-art/latest"}, "must contain {folder}"),
        ({"webhook_port": 0}, "WEBHOOK_PORT"),
        ({"ops_port": 70000}, "OPS_PORT"),
        ({"notice_ttl": 0}, "NOTICE_TTL"),
        ({"draft_interval": 0.5}, "DRAFT_INTERVAL"),
        ({"live_progress": "maybe"}, "LIVE_PROGRESS"),
        ({"updates_in_work": 0}, "UPDATES_IN_WORK"),
        ({"updates_in_work": 1001}, "UPDATES_IN_WORK"),
        ({"button_emoji": "delete=5368324170671202286"}, "BUTTON_EMOJI"),
        ({"button_emoji": "cancel=smile"}, "BUTTON_EMOJI"),
        (
            {"webhook_url": "https://example.org/hook", "webhook_secret": "s", "ops_port": 8080},
            "OPS_PORT must differ from WEBHOOK_PORT",
        ),
        ({"redis_sentinels": "127.0.0.1:26379"}, "REDIS_SENTINELS and REDIS_SENTINEL_MASTER"),
        ({"redis_sentinel_master": "art"}, "REDIS_SENTINELS and REDIS_SENTINEL_MASTER"),
        ({"redis_sentinels": "sentinel", "redis_sentinel_master": "art"}, "REDIS_SENTINELS: "),
        ({"redis_sentinels": "a:1,b:0", "redis_sentinel_master": "art"}, "REDIS_SENTINELS: "),
        (
            {
                "redis_sentinels": "a:26379",
                "redis_sentinel_master": "art",
                "redis_url": "redis://redis:6379/0",
            },
            "REDIS_URL: with REDIS_SENTINELS it names no host",
        ),
    ],
)
def test_invalid_combinations_name_the_setting(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)) as caught:
        load_settings(
            _env_file=None,
            bot_token="1:a",
            yandex_folder_id="f",
            yandex_api_key="k",
            **overrides,
        )
    assert "bad secret!" not in str(caught.value)


def test_redis_password_counts_as_a_secret() -> None:
    settings = load_settings(
        _env_file=None,
        bot_token="1:a",
        yandex_folder_id="f",
        yandex_api_key="k",
        redis_url="redis://:pa55word@redis:6379/0",
    )
    assert settings.secrets()["REDIS_URL password"] == "pa55word"


def test_sentinels_with_a_password_and_database_only() -> None:
    settings = load_settings(
        _env_file=None,
        bot_token="1:a",
        yandex_folder_id="f",
        yandex_api_key="k",
        redis_sentinels="s1:26379, [::1]:26380",
        redis_sentinel_master="art",
        redis_url="redis://:pa55word@/2",
    )
    assert settings.sentinel_addresses == [("s1", 26379), ("::1", 26380)]
    assert settings.uses_redis
    assert settings.secrets()["REDIS_URL password"] == "pa55word"
