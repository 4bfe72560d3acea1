"""YANDEX_SA_KEY_FILE: IAM tokens made from a service account's authorized key, against the
fake IAM token endpoint (it checks the PS256 JWT the way Yandex IAM does), renewed before
they expire, and retried when IAM is down."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.emulators.telegram import FakeTelegram
from bot.emulators.yandexart import FakeYandex
from bot.ops.settings import Settings, SettingsError, StartupError, load_settings
from bot.ops.startup import check_yandex
from bot.yandex.http import YandexHttp
from bot.yandex.iam import RENEW_EVERY, IamTokenSource, ServiceAccountKey, renew_after
from bot.yandex.probe import probe_art
from tests.bot_process import BOT_TOKEN, FOLDER, BotProcess

KEY_ID = "ajekeyid0000000000"
ACCOUNT = "ajeaccount00000000"


def _key_file(directory: Path, yandex: FakeYandex | None, key_id: str = KEY_ID) -> Path:
    """An authorized key as `yc iam key create` writes it (with Yandex's line before the
    PEM block); its public half is registered with the fake IAM when given."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    path = directory / f"{key_id}.json"
    path.write_text(
        json.dumps(
            {
                "id": key_id,
                "service_account_id": ACCOUNT,
                "created_at": "2026-11-30T10:00:00Z",
                "key_algorithm": "RSA_2048",
                "public_key": public,
                "private_key": "PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID "
                f"<{key_id}>\n{pem}",
            }
        )
    )
    if yandex is not None:
        yandex.sa_keys[key_id] = (ACCOUNT, public)
    return path


async def _eventually(condition: Callable[[], bool], timeout: float = 20) -> None:
    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), timeout)


async def _status(url: str, header: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/operations/none", headers={"Authorization": header}) as response,
    ):
        return response.status


async def test_tokens_are_renewed_before_they_expire(tmp_path: Path, yandex: FakeYandex) -> None:
    yandex.iam_token_lifetime = 2.0
    source = IamTokenSource(
        ServiceAccountKey.from_file(_key_file(tmp_path, yandex)), iam_url=yandex.url
    )
    http = YandexHttp(base_url=yandex.url, credentials=source, folder_id=FOLDER, timeout=5)
    try:
        first = await source.header()
        assert await _status(yandex.url, first) == 404  # accepted: the operation is unknown
        renewed_while_valid: list[bool] = []

        def renewed() -> bool:
            if yandex.iam_exchanges >= 2 and not renewed_while_valid:
                renewed_while_valid.append(first.removeprefix("Bearer ") in _live(yandex))
            return bool(renewed_while_valid)

        await _eventually(renewed)  # renewed in the background...
        assert renewed_while_valid == [True]  # ...while the first token still worked
        second = await source.header()
        assert second != first
        await _eventually(lambda: first.removeprefix("Bearer ") not in _live(yandex))
        assert await _status(yandex.url, first) == 401  # the first token has expired...
        assert (await probe_art(http)).accepted is True  # ...and requests still pass
    finally:
        await http.close()


def test_renewal_comes_well_before_expiry_and_never_faster_than_a_second() -> None:
    assert renew_after(12 * 3600) == RENEW_EVERY  # hourly, 11 h before a 12-hour token expires
    assert renew_after(1800) == 900  # a short token: at half its life
    assert renew_after(0.2) == 1.0  # never a storm of exchanges
    assert renew_after(-3600) == RENEW_EVERY  # expiry in the past: our clock is off


async def test_an_expiry_in_the_past_does_not_make_a_storm_of_renewals(
    tmp_path: Path, yandex: FakeYandex, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 21 item 15: IAM's clock 13 h behind ours, so each token seems expired."""
    yandex.iam_clock_lag = 13 * 3600
    source = IamTokenSource(
        ServiceAccountKey.from_file(_key_file(tmp_path, yandex)), iam_url=yandex.url
    )
    try:
        with caplog.at_level(logging.WARNING):
            first = await source.header()
            await asyncio.sleep(1.0)
            assert await source.header() == first
    finally:
        await source.close()
    assert yandex.iam_exchanges == 1
    assert await _status(yandex.url, first) == 404  # the token works all the same
    assert "expiry is in the past" in caplog.text


def _live(yandex: FakeYandex) -> set[str]:
    return {token for token, expires_at in yandex.iam_tokens.items() if time.time() < expires_at}


async def test_a_failed_renewal_is_retried_while_the_token_still_works(
    tmp_path: Path, yandex: FakeYandex, caplog: pytest.LogCaptureFixture
) -> None:
    yandex.iam_token_lifetime = 4.0
    source = IamTokenSource(
        ServiceAccountKey.from_file(_key_file(tmp_path, yandex)), iam_url=yandex.url
    )
    try:
        with caplog.at_level(logging.WARNING):
            first = await source.header()
            yandex.iam_failures = 2
            await _eventually(lambda: yandex.iam_exchanges >= 4)  # 1 + 2 refused + 1 renewed
            second = await source.header()
    finally:
        await source.close()
    assert yandex.iam_failures == 0  # both faults were served
    assert "IAM token renewal failed (ServiceUnavailable), attempt 1;" in caplog.text
    assert "IAM token renewal failed (ServiceUnavailable), attempt 2;" in caplog.text
    assert second != first
    assert await _status(yandex.url, second) == 404


async def test_a_key_iam_does_not_know_stops_start_up_naming_the_file(
    tmp_path: Path, make_settings: Callable[..., Settings], yandex: FakeYandex
) -> None:
    key_file = _key_file(tmp_path, None)  # never registered with IAM
    settings = make_settings(
        yandex_api_key=None, yandex_sa_key_file=key_file, yandex_iam_url=yandex.url
    )
    with pytest.raises(StartupError) as caught:
        await check_yandex(settings)
    assert str(caught.value) == (
        "YANDEX_SA_KEY_FILE: Yandex refused the credentials (IAM refused the key (401))"
    )
    assert yandex.iam_exchanges == 1


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("not json", "must be an authorized key JSON (id, service_account_id, private_key)"),
        (
            '{"id": "a", "service_account_id": "b"}',
            "must be an authorized key JSON (id, service_account_id, private_key)",
        ),
        (
            '{"id": "a", "service_account_id": "b", "private_key": "SECRET-not-pem"}',
            "its private_key is not a PEM private key",
        ),
    ],
)
def test_a_bad_key_file_is_one_line_naming_it(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "key.json"
    path.write_text(content)
    with pytest.raises(SettingsError) as caught:
        load_settings(
            _env_file=None, bot_token="1:a", yandex_folder_id="f", yandex_sa_key_file=path
        )
    assert str(caught.value) == f"invalid settings: YANDEX_SA_KEY_FILE: {reason}"
    assert "SECRET" not in str(caught.value)


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="YANDEX_SA_KEY_FILE: Path does not point to a file"):
        load_settings(
            _env_file=None,
            bot_token="1:a",
            yandex_folder_id="f",
            yandex_sa_key_file=tmp_path / "nowhere.json",
        )


async def test_a_bot_with_a_key_file_draws(
    tmp_path: Path, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    env = {
        "BOT_TOKEN": BOT_TOKEN,
        "YANDEX_FOLDER_ID": FOLDER,
        "YANDEX_SA_KEY_FILE": str(_key_file(tmp_path, yandex)),
        "YANDEX_IAM_URL": yandex.url,
        "TELEGRAM_API_URL": telegram.url,
        "YANDEX_API_URL": yandex.url,
        "POLL_FIRST_DELAY": "0.05",
        # YandexART alone (the defaults also offer the Images API, which has no fake here).
        "MODELS": "yandexart",
        "DEFAULT_MODEL": "yandexart",
    }
    process = BotProcess(env, tmp_path)
    await process.start()
    try:
        await telegram.wait_for("getMe", 2, timeout=30)
        telegram.push_message("/art a kite over the sea --seed 3")
        await telegram.wait_for("sendPhoto", timeout=30)
    finally:
        assert await process.stop() == 0
    headers, _body = yandex.submits[0]
    assert headers["Authorization"].removeprefix("Bearer ") in yandex.iam_tokens
    assert "Traceback" not in process.log
    assert "t1." not in process.log  # tokens are never logged
