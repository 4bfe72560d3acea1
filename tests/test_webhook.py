"""Webhook mode and the ops endpoints, served by the real aiohttp app on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from bot.emulators.telegram import FakeTelegram
from bot.ops.app import connect_redis, create_bot, create_dispatcher
from bot.ops.server import build_ops_app, build_webhook_app, start_server
from bot.ops.settings import Settings
from tests.redis_server import free_port

SECRET = "s3cret_Value-1"


@pytest.fixture
async def webhook(make_settings: Callable[..., Settings], redis_url: str) -> AsyncIterator[str]:
    """The webhook server of a bot with the Redis store; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(
        webhook_url=f"{base}/telegram/hook", webhook_secret=SECRET, redis_url=redis_url
    )
    redis = await connect_redis(redis_url)
    bot = create_bot(settings)
    app = build_webhook_app(settings, bot, create_dispatcher(settings, bot, redis=redis))
    runner = await start_server(app, "127.0.0.1", port)
    yield base
    await runner.cleanup()


def update(text: str, update_id: int = 1) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 5,
            "date": 0,
            "chat": {"id": 42, "type": "private"},
            "from": {"id": 42, "is_bot": False, "first_name": "Ann", "language_code": "en"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        },
    }


async def test_set_webhook_registers_url_secret_and_updates(
    webhook: str, telegram: FakeTelegram
) -> None:
    [call] = await telegram.wait_for("setWebhook")
    assert call.params["url"] == f"{webhook}/telegram/hook"
    assert call.params["secret_token"] == SECRET
    assert sorted(call.json("allowed_updates")) == [
        "callback_query",
        "chosen_inline_result",
        "guest_message",
        "inline_query",
        "message",
        # Always: an invoice sent before payments were turned off is still answered.
        "pre_checkout_query",
        "stopped_message_generation",
    ]


@pytest.mark.parametrize("headers", [{}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}])
async def test_wrong_or_missing_secret_is_forbidden(
    webhook: str, telegram: FakeTelegram, headers: dict[str, str]
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{webhook}/telegram/hook", json=update("/help"), headers=headers) as resp,
    ):
        assert resp.status == 403
    await telegram.wait_for("setWebhook")
    assert not telegram.sent("sendMessage")


async def test_right_secret_is_handled(webhook: str, telegram: FakeTelegram) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{webhook}/telegram/hook",
            json=update("/help"),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        ) as resp,
    ):
        assert resp.status == 200
    [answer] = await telegram.wait_for("sendMessage")
    assert "--seed N" in answer.params["text"]


async def test_health_and_metrics(webhook: str, telegram: FakeTelegram) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{webhook}/healthz") as resp:
            assert resp.status == 200
            assert await resp.json() == {"store": "ok", "telegram": "ok", "jobs": "ok"}
        telegram.fail("getMe", 502, "Bad Gateway")
        async with http.get(f"{webhook}/healthz") as resp:
            assert resp.status == 503
            assert await resp.json() == {"store": "ok", "telegram": "down", "jobs": "ok"}
        async with http.get(f"{webhook}/metrics") as resp:
            assert resp.status == 200
            text = await resp.text()
    for name in (
        "art_pending_jobs 0.0",
        "art_submits_total",
        "art_polls_total",
        "art_delivery_lag_seconds_bucket",
    ):
        assert name in text


async def test_webhook_app_answers_nothing_else(webhook: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{webhook}/telegram/hook") as resp:
            assert resp.status == 405
        async with http.post(f"{webhook}/other", json={}) as resp:
            assert resp.status == 404


async def raw_post(base: str, path: str, headers: bytes, body: bytes) -> int:
    """POST with header bytes as given (aiohttp's client would refuse non-ASCII ones)."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST " + path.encode() + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n"
        + headers
        + b"\r\n"
        + body
    )
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


@pytest.mark.parametrize(
    "secret",
    [
        "sécret".encode(),  # non-ASCII (was a 500: compare_digest refuses such text)
        b"\xff\xfe",  # not even UTF-8
        SECRET.encode() + b" trailing",
    ],
)
async def test_malformed_secret_is_forbidden(
    webhook: str, telegram: FakeTelegram, secret: bytes
) -> None:
    body = json.dumps(update("/help")).encode()
    header = b"X-Telegram-Bot-Api-Secret-Token: " + secret + b"\r\n"
    assert await raw_post(webhook, "/telegram/hook", header, body) == 403
    assert not telegram.sent("sendMessage")


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b""])
async def test_malformed_json_with_the_right_secret_is_a_bad_request(
    webhook: str, body: bytes
) -> None:
    header = b"X-Telegram-Bot-Api-Secret-Token: " + SECRET.encode() + b"\r\n"
    assert await raw_post(webhook, "/telegram/hook", header, body) == 400


async def test_ops_endpoints_on_their_own_port(
    make_settings: Callable[..., Settings], telegram: FakeTelegram
) -> None:
    """With OPS_PORT the public webhook listener has no /healthz or /metrics."""
    port, ops_port = free_port(), free_port()
    settings = make_settings(
        webhook_url=f"http://127.0.0.1:{port}/hook", webhook_secret=SECRET, ops_port=ops_port
    )
    bot = create_bot(settings)
    dispatcher = create_dispatcher(settings, bot)
    public = await start_server(build_webhook_app(settings, bot, dispatcher), "127.0.0.1", port)
    ops = await start_server(build_ops_app(bot, dispatcher), "127.0.0.1", ops_port)
    try:
        async with aiohttp.ClientSession() as http:
            for path in ("/healthz", "/metrics"):
                async with http.get(f"http://127.0.0.1:{port}{path}") as resp:
                    assert resp.status == 404
                async with http.get(f"http://127.0.0.1:{ops_port}{path}") as resp:
                    assert resp.status == 200
    finally:
        await ops.cleanup()
        await public.cleanup()


async def test_a_body_that_never_finishes_is_cut_off(
    make_settings: Callable[..., Settings], telegram: FakeTelegram
) -> None:
    """Issue 21 item 13: a webhook request whose body stalls gets 408 and its connection
    closes after its read timeout, instead of staying open."""
    port = free_port()
    settings = make_settings(
        webhook_url=f"http://127.0.0.1:{port}/hook",
        webhook_secret=SECRET,
    )
    bot = create_bot(settings)
    app = build_webhook_app(settings, bot, create_dispatcher(settings, bot), read_timeout=0.3)
    runner = await start_server(app, "127.0.0.1", port)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\nX-Telegram-Bot-Api-Secret-Token: "
            + SECRET.encode()
            + b'\r\n\r\n{"update_id": 1'
        )
        await writer.drain()
        # Far longer than the timeout: without one, this read waits for ever.
        answer = await asyncio.wait_for(reader.readline(), 10)
        await asyncio.wait_for(reader.read(), 10)  # then the connection closes
        writer.close()
        await writer.wait_closed()
    finally:
        await runner.cleanup()
    assert answer.split(b"\r\n", 1)[0] == b"HTTP/1.1 408 Request Timeout"
    assert not telegram.sent("sendMessage")
