"""Network failures name the host and the cause: a closed port, a name that does not
resolve, a TLS server whose certificate is not trusted, plain HTTP on an https URL."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.core.netcause import network_cause, where
from bot.emulators.telegram import FakeTelegram
from bot.ops.preflight import run_checks
from bot.ops.settings import Settings
from tests.redis_server import free_port

REFUSED = "connection refused (nothing listens on that port)"
DNS = "DNS lookup failed (no such host, or no DNS)"
PLAIN = "TLS handshake failed (WRONG_VERSION_NUMBER: does the port speak plain HTTP?)"


def _self_signed(directory: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


@pytest.fixture
async def tls_url(tmp_path: Path) -> AsyncIterator[str]:
    """A TLS server with a certificate no one trusts; it never gets to HTTP."""
    handshakes = []

    async def serve(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handshakes.append(1)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=_self_signed(tmp_path))
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"https://127.0.0.1:{port}"
    # The client gave up in the handshake: the server never saw a finished one.
    assert handshakes == []


async def test_closed_port(make_settings: Callable[..., Settings]) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    settings = make_settings(
        telegram_api_url=nowhere,
        yandex_api_url=nowhere,
        stt_api_url=nowhere,
        redis_url=f"redis://{nowhere[7:]}/0",
    )
    lines = [line.render() for line in await run_checks(settings)]
    host = nowhere.removeprefix("http://")
    assert lines == [
        "✓ settings: valid",
        f"✗ Telegram: cannot reach {host}: {REFUSED}",
        f"✗ YandexART: cannot reach {host}: {REFUSED}",
        f"✗ YandexGPT: cannot reach {host}: {REFUSED}",
        f"✗ SpeechKit: cannot reach {host}: {REFUSED}",
        f"✗ Redis: REDIS_URL: cannot reach {host}: {REFUSED}",
    ]


async def test_dns_failure(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(
        telegram_api_url="https://api.telegram.invalid",
        yandex_api_url="https://llm.yandex.invalid:8443",
        stt_api_url="https://stt.yandex.invalid",
        redis_url="redis://redis.invalid:6379/0",
    )
    lines = [line.render() for line in await run_checks(settings)]
    assert lines == [
        "✓ settings: valid",
        f"✗ Telegram: cannot reach api.telegram.invalid: {DNS}",
        f"✗ YandexART: cannot reach llm.yandex.invalid:8443: {DNS}",
        f"✗ YandexGPT: cannot reach llm.yandex.invalid:8443: {DNS}",
        f"✗ SpeechKit: cannot reach stt.yandex.invalid: {DNS}",
        f"✗ Redis: REDIS_URL: cannot reach redis.invalid:6379: {DNS}",
    ]


async def test_untrusted_certificate(make_settings: Callable[..., Settings], tls_url: str) -> None:
    lines = {
        line.name: line.render()
        for line in await run_checks(
            make_settings(telegram_api_url=tls_url, yandex_api_url=tls_url)
        )
    }
    host = where(tls_url)
    refused = "TLS certificate refused (self-signed certificate)"
    assert lines["Telegram"] == f"✗ Telegram: cannot reach {host}: {refused}"
    assert lines["YandexART"] == f"✗ YandexART: cannot reach {host}: {refused}"


async def test_plain_http_on_an_https_url(
    make_settings: Callable[..., Settings], telegram: FakeTelegram
) -> None:
    https = telegram.url.replace("http://", "https://")
    lines = {
        line.name: line.render()
        for line in await run_checks(make_settings(telegram_api_url=https, yandex_api_url=https))
    }
    assert lines["Telegram"] == f"✗ Telegram: cannot reach {where(https)}: {PLAIN}"
    assert lines["YandexART"] == f"✗ YandexART: cannot reach {where(https)}: {PLAIN}"
    assert telegram.calls == []


def _wrapped(inner: BaseException) -> Exception:
    """`inner` inside two layers, the way aiogram wraps aiohttp's errors."""
    try:
        try:
            raise inner
        except BaseException as exc:
            raise OSError("client error") from exc
    except OSError as exc:
        try:
            raise RuntimeError("network error") from exc
        except RuntimeError as outer:
            return outer


class _Status(Exception):
    status = 502


@pytest.mark.parametrize(
    ("inner", "cause"),
    [
        (TimeoutError(), "timed out"),
        (_Status(), "HTTP 502"),
        (ConnectionResetError(), "connection reset"),
        (ValueError("https://api/bot1:SECRET/getMe"), "RuntimeError"),
    ],
)
def test_causes_are_found_inside_the_wrappers(inner: BaseException, cause: str) -> None:
    assert network_cause(_wrapped(inner)) == cause


def test_where_shows_neither_password_nor_path() -> None:
    assert where("redis://:pa55word@redis:6379/0") == "redis:6379"
    assert where("https://api.telegram.org/bot1:SECRET/{method}") == "api.telegram.org"


async def test_an_http_error_answer_names_its_status(
    make_settings: Callable[..., Settings],
) -> None:
    async def unavailable(_request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "description": "Service Unavailable"}, status=503)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", unavailable)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}"
    try:
        settings = make_settings(telegram_api_url=url, yandex_api_url=url)
        lines = {line.name: line.render() for line in await run_checks(settings)}
    finally:
        await runner.cleanup()
    host = f"127.0.0.1:{port}"
    assert lines["Telegram"] == f"✗ Telegram: {host} answered a server error (TelegramServerError)"
    assert lines["YandexART"] == f"✗ YandexART: {host} answered HTTP 503 (ServiceUnavailable)"
