"""`python -m bot check`: what an operator runs first. One line per dependency that `run`
will use, ✓ or ✗ with the reason (⚠ when it cannot be proven without drawing); nothing is
generated and nothing is changed at Telegram. `check --draw` also draws one small picture
with each model (billed), timing each."""

from __future__ import annotations

import asyncio
import errno
import socket
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramServerError,
    TelegramUnauthorizedError,
)

from bot.core.backend import ImageBackend, ImageReady, OperationFailed, Submitted
from bot.core.errors import BackendError
from bot.core.netcause import network_cause, where
from bot.core.prompt import ArtRequest, PromptPart
from bot.ops.app import (
    REDIS_TIMEOUT,
    connect_sentinel,
    create_backends,
    create_bot,
    create_credentials,
    create_yandex_http,
    load_styles,
)
from bot.ops.settings import Settings, StartupError
from bot.ops.startup import TELEGRAM_TIMEOUT, YANDEX_PROBE_TIMEOUT
from bot.yandex.http import YandexHttp
from bot.yandex.probe import Probe, probe_art, probe_gpt, probe_images, probe_stt

# A webhook delivery error younger than this fails the check (older ones are history).
RECENT_ERROR = 3600.0


@dataclass(frozen=True)
class Line:
    ok: bool
    name: str
    detail: str
    # Not refused, but not proven either (counts as not ok).
    warn: bool = False

    def render(self) -> str:
        mark = "⚠" if self.warn else ("✓" if self.ok else "✗")
        return f"{mark} {self.name}: {self.detail}"


# The line of each model in MODELS.
MODEL_LINES = {"yandexart": "YandexART", "aliceai": "Images API"}


async def run_checks(settings: Settings) -> list[Line]:
    """Every check, in the order an operator fixes things (settings were valid to get here)."""
    lines = [Line(True, "settings", "valid")]
    bot = create_bot(settings)
    try:
        lines.append(await check_telegram(bot, where(str(settings.telegram_api_url))))
        if settings.webhook_url is not None and lines[-1].ok:
            lines.append(await check_webhook(bot, str(settings.webhook_url)))
    finally:
        await bot.session.close()
    lines += await check_yandex(settings)
    if settings.styles_file is not None:
        lines.append(check_styles(settings))
    ports = listening_ports(settings)
    if ports:
        lines.append(check_ports(settings.webhook_host, ports))
    lines.append(await check_redis(settings.redis_url, settings))
    return lines


async def check_yandex(settings: Settings) -> list[Line]:
    """Each model in MODELS, YandexGPT and (with VOICE_PROMPTS) SpeechKit, each on its host
    with its own session, all closed before returning."""
    timeout = min(settings.http_timeout, YANDEX_PROBE_TIMEOUT)
    credential = settings.yandex_credential
    http = create_yandex_http(settings, timeout=timeout)
    images = _host_http(settings, str(settings.images_api_url), timeout, settings.yandex_folder_id)
    stt = _host_http(settings, str(settings.stt_api_url), timeout, None)
    lines = []
    try:
        for model in settings.models:
            if model == "yandexart":
                probe = await probe_art(http)
            else:
                probe = await probe_images(images, settings.images_model_uri_resolved)
            lines.append(_probe_line(MODEL_LINES[model], probe, credential))
        gpt = await probe_gpt(http, settings.gpt_model_uri_resolved)
        lines.append(_probe_line("YandexGPT", gpt, f"{credential} or GPT_MODEL_URI"))
        if settings.voice_prompts:
            speech = await probe_stt(stt, settings.stt_folder_id)
            lines.append(_probe_line("SpeechKit", speech, f"{credential} or STT_API_URL"))
    finally:
        await images.close()
        await stt.close()
        await http.close()  # last: it owns the credentials the others share
    return lines


def _host_http(settings: Settings, url: str, timeout: float, folder: str | None) -> YandexHttp:
    """A session for another Yandex host, with credentials of its own (closed with it)."""
    credentials = create_credentials(settings, timeout)
    return YandexHttp(base_url=url, credentials=credentials, folder_id=folder, timeout=timeout)


def check_styles(settings: Settings) -> Line:
    try:
        styles = load_styles(settings.styles_file)
    except StartupError as exc:
        return Line(False, "styles", str(exc))
    return Line(True, "styles", f"STYLES_FILE parsed, {len(styles)} styles in all")


def listening_ports(settings: Settings) -> list[int]:
    """The ports `run` will listen on (as bot/ops/server.py picks them)."""
    ports = [settings.webhook_port] if settings.webhook_url is not None else []
    ops_port = settings.ops_port
    if ops_port is None and settings.webhook_url is None:
        ops_port = settings.health_port
    return ports + ([ops_port] if ops_port is not None else [])


def check_ports(host: str, ports: list[int]) -> Line:
    """Each port free on the listening address (bound and let go at once)."""
    taken = []
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                reason = "in use" if exc.errno == errno.EADDRINUSE else type(exc).__name__
                taken.append(f"{port} ({reason})")
    where = ", ".join(map(str, ports))
    if taken:
        return Line(False, "ports", f"cannot listen on {host}: {', '.join(taken)}")
    return Line(True, "ports", f"{where} free on {host}")


async def check_telegram(bot: Bot, host: str) -> Line:
    try:
        me = await bot.get_me(request_timeout=TELEGRAM_TIMEOUT)
    except TelegramUnauthorizedError:
        return Line(False, "Telegram", "BOT_TOKEN refused (401 Unauthorized)")
    except TelegramNotFound:
        return Line(False, "Telegram", "404 Not Found: check BOT_TOKEN and TELEGRAM_API_URL")
    except TelegramNetworkError as exc:
        return Line(False, "Telegram", f"cannot reach {host}: {network_cause(exc)}")
    except TelegramServerError as exc:
        return Line(False, "Telegram", f"{host} answered a server error ({type(exc).__name__})")
    except TelegramAPIError as exc:
        return Line(False, "Telegram", f"{host} refused getMe ({type(exc).__name__})")
    inline = "on" if me.supports_inline_queries else "off (@BotFather: /setinline)"
    # getMe does not tell whether inline feedback is on; only @BotFather shows it.
    return Line(
        True,
        "Telegram",
        f"@{me.username}, inline mode {inline}; inline feedback: see @BotFather "
        "/setinlinefeedback (Bot API does not report it)",
    )


async def check_webhook(bot: Bot, url: str) -> Line:
    try:
        info = await bot.get_webhook_info(request_timeout=TELEGRAM_TIMEOUT)
    except TelegramAPIError as exc:
        return Line(False, "webhook", f"getWebhookInfo failed ({type(exc).__name__})")
    if not info.url:
        state = "not set yet (the bot sets WEBHOOK_URL when it starts)"
    elif info.url != url:
        state = f"set to another URL, {info.url} (the bot sets WEBHOOK_URL when it starts)"
    else:
        state = f"set, {info.pending_update_count} updates pending"
    error_at = info.last_error_date.timestamp() if info.last_error_date else None
    if error_at is not None and time.time() - error_at < RECENT_ERROR:
        return Line(False, "webhook", f"{state}; last delivery failed: {info.last_error_message}")
    return Line(True, "webhook", state)


def _probe_line(name: str, probe: Probe, setting: str) -> Line:
    if probe.accepted is False and probe.detail.startswith("model refused"):
        return Line(False, name, probe.detail)
    if probe.accepted is False:
        return Line(False, name, f"{setting} refused ({probe.detail})")
    warn = probe.accepted is None and probe.detail.startswith("not proven")
    return Line(bool(probe.accepted), name, probe.detail, warn=warn)


async def check_redis(url: str | None, settings: Settings | None = None) -> Line:
    """REDIS_URL's server, or with `settings` naming sentinels the master they name."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    setting = "REDIS_URL"
    if settings is not None and settings.redis_sentinels:
        try:
            redis = await connect_sentinel(settings)
        except StartupError as exc:
            return Line(False, "Redis", str(exc))
        setting = "REDIS_SENTINELS"
        host = f"master {settings.redis_sentinel_master!r} via Sentinel"
    elif not url:
        return Line(True, "Redis", "not used (REDIS_URL unset): jobs live in memory")
    else:
        host = where(url) if urlsplit(url).hostname else url.split("://", 1)[0]
        redis = Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
    try:
        await redis.ping()
        server = await redis.info("server")
        persistence = await redis.info("persistence")
    except (RedisError, OSError) as exc:
        return Line(False, "Redis", f"{setting}: cannot reach {host}: {network_cause(exc)}")
    finally:
        await redis.aclose()
    if persistence.get("aof_enabled") == 1:
        saved = "append-only file on"
    else:
        saved = "append-only file off: pending jobs are lost if Redis restarts"
    return Line(True, "Redis", f"{host}, version {server.get('redis_version')}, {saved}")


# `check --draw`: the prompt and the longest wait for one picture.
DRAW_PROMPT = "a small red circle on white"
DRAW_TIMEOUT = 180.0
DRAW_POLL = 1.0


async def draw_checks(settings: Settings) -> list[Line]:
    """One small picture with each model in MODELS (billed), timed; a model Yandex refuses,
    or whose picture is not ready in time, is ✗ with Yandex's own text."""
    http = create_yandex_http(settings)
    backends = create_backends(settings, http, http.credentials, None)
    request = ArtRequest(parts=(PromptPart(DRAW_PROMPT),))
    lines = []
    try:
        for model in settings.models:
            started = time.monotonic()
            try:
                async with asyncio.timeout(DRAW_TIMEOUT):
                    await _draw_one(backends.backend(model), request)
            except BackendError as exc:
                text = getattr(exc, "message", "") or type(exc).__name__
                lines.append(Line(False, f"draw {model}", f"refused: {text[:300]}"))
                continue
            except TimeoutError:
                detail = f"no picture in {DRAW_TIMEOUT:.0f} s (operations stay unfinished?)"
                lines.append(Line(False, f"draw {model}", detail))
                continue
            took = time.monotonic() - started
            lines.append(Line(True, f"draw {model}", f"a picture in {took:.1f} s"))
    finally:
        await backends.close()
    return lines


async def _draw_one(backend: ImageBackend, request: ArtRequest) -> None:
    """Submit, and poll an operation until it ends; a failure raises its typed error."""
    answer = await backend.submit(request, 1, str(uuid.uuid4()), time_left=DRAW_TIMEOUT)
    while isinstance(answer, Submitted):
        await asyncio.sleep(DRAW_POLL)
        state = await backend.get_operation(answer.operation_id)
        if isinstance(state, OperationFailed):
            raise state.error
        if isinstance(state, ImageReady):
            return


async def check(settings: Settings, *, draw: bool = False) -> int:
    """Print the lines; 0 when every part is fine."""
    lines = await run_checks(settings)
    if draw:
        models = ", ".join(settings.models)
        print(f"Drawing one small picture with each model ({models}): billed by Yandex.")
        lines += await draw_checks(settings)
    for line in lines:
        print(line.render(), flush=True)
    return 0 if all(line.ok for line in lines) else 1


def run_check(settings: Settings, *, draw: bool = False) -> int:
    return asyncio.run(check(settings, draw=draw))
