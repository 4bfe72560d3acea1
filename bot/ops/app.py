"""Wiring: build the Bot, the services and the Dispatcher from settings, and run them.

Everything is created here and injected (dispatcher workflow data), so tests build the very
same app pointed at fake servers through the settings alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError
from aiogram.utils.i18n import I18n

import handlers
from bot.core.backend import ImageBackend
from bot.core.budget import Budget, WaitingLine
from bot.core.errors import StoreUnavailable
from bot.core.hazard import FinishModel, HazardPolicy, Prior
from bot.core.jobs import JobIds
from bot.core.limits import AccessRules
from bot.core.netcause import network_cause, where
from bot.core.prompt import Limits
from bot.core.schedule import LearnedSchedule, PollSchedule
from bot.core.styles import BUILTIN, StyleCatalog, StylesError, parse_styles
from bot.core.voice import MAX_BYTES
from bot.ops.settings import Settings, StartupError
from bot.services.art import ArtService
from bot.services.availability import ModelAvailability
from bot.services.backends import Backends, Model
from bot.services.durations import DurationModel
from bot.services.history import HistoryService
from bot.services.metrics import Metrics
from bot.services.planner import HazardPlanner, PollPlanner
from bot.services.prefs import PrefsService
from bot.services.profile import BotProfile
from bot.services.progress import job_active, typical_duration
from bot.services.quotas import Quotas
from bot.services.stats import StatsService
from bot.services.tracker import Tracker
from bot.services.voice import VoiceService
from bot.services.wallet import Wallet, hold_seconds
from bot.storage.base import JobStore
from bot.storage.budget import MemoryBudget, MemoryLine
from bot.storage.credits import CreditStore, MemoryCreditStore
from bot.storage.memory import MemoryJobStore
from bot.storage.picture_cache import PictureCache
from bot.telegram.access import AccessMiddleware
from bot.telegram.admin_notice import AdminNotice
from bot.telegram.catalogs import CatalogError, PackagedI18n
from bot.telegram.chat_actions import ChatActions
from bot.telegram.delivery import Delivery
from bot.telegram.drafts import Drafts
from bot.telegram.flood import FloodControl, FloodLimits
from bot.telegram.i18n import PrefsI18nMiddleware
from bot.telegram.notices import Notices
from bot.telegram.pressed import PressedButtons
from bot.telegram.response_types import PinResponseTypes
from bot.telegram.session import JsonSession
from bot.telegram.stars import Stars
from bot.telegram.status_edits import StatusEdits
from bot.telegram.texts import Texts
from bot.telegram.voice_files import VoiceFiles
from bot.yandex.art import YandexArtClient
from bot.yandex.enhancer import PromptEnhancer
from bot.yandex.http import Credentials, FixedCredentials, YandexHttp
from bot.yandex.images import ImagesClient
from bot.yandex.speechkit import SpeechKitClient

# Redis modules are imported only when REDIS_URL is set: the client costs ~6 MB of RSS.
if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

DEFAULT_LOCALE = "en"
COMMANDS = ("art", "styles", "history", "settings", "help", "privacy", "forget", "start")
# Shown only with payments on (CREDIT_PACKS).
PAYMENT_COMMANDS = ("buy", "balance", "paysupport")
# Answered to their sender alone in groups (bot.telegram.notices): marked `is_ephemeral`.
EPHEMERAL_COMMANDS = frozenset({"styles", "history", "help"})
REDIS_TIMEOUT = 5.0
# The poll bucket's share of POLL_RATE_LIMIT: Yandex counts polls as they arrive, and
# polls sent exactly at the cap arrive a little bunched (network and event-loop jitter: up
# to ~1.4 polls in a second in bench.lag's burst, whose time runs 4× faster).
POLL_MARGIN = 0.96
# Checking the ledger against Telegram's list of Stars payments at start-up.
RECOVER_TIMEOUT = 120.0


def create_i18n() -> I18n:
    """Texts compiled from the installed catalogs: what is in the .po files is what users see."""
    try:
        return PackagedI18n(default_locale=DEFAULT_LOCALE, domain="messages")
    except CatalogError as exc:
        raise StartupError(str(exc)) from None


def load_styles(path: Path | None) -> StyleCatalog:
    """The built-in styles, with the operator's file over them; a bad file stops start-up."""
    if path is None:
        return BUILTIN
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StartupError(f"STYLES_FILE: cannot read it ({type(exc).__name__})") from None
    try:
        return BUILTIN.merged(parse_styles(text))
    except StylesError as exc:
        raise StartupError(f"STYLES_FILE: {exc}") from None


def create_bot(settings: Settings) -> Bot:
    session = JsonSession(api=TelegramAPIServer.from_base(str(settings.telegram_api_url)))
    session.middleware(PinResponseTypes())
    session.middleware(
        FloodControl(
            FloodLimits(
                group_per_minute=settings.group_messages_per_minute,
                private_per_second=settings.chat_messages_per_second,
                global_per_second=settings.messages_per_second,
            )
        )
    )
    return Bot(
        settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def create_yandex_http(settings: Settings, timeout: float | None = None) -> YandexHttp:
    timeout = settings.http_timeout if timeout is None else timeout
    return YandexHttp(
        base_url=str(settings.yandex_api_url),
        credentials=create_credentials(settings, timeout),
        folder_id=settings.yandex_folder_id,
        timeout=timeout,
    )


def create_backends(
    settings: Settings,
    http: YandexHttp,
    credentials: Credentials,
    redis: Redis | None,
    yandexart: ImageBackend | None = None,
) -> Backends:
    """Every known model by name (KNOWN_MODELS in settings), each with its submit budget;
    users pick among MODELS. A new model is one more entry here."""
    images_http = YandexHttp(
        base_url=str(settings.images_api_url),
        credentials=credentials,
        folder_id=settings.yandex_folder_id,
        timeout=settings.images_http_timeout,
    )
    models = {
        "yandexart": Model(
            yandexart
            or YandexArtClient(http, model_uri=settings.model_uri, retries=settings.http_retries),
            # Submits may come in small bursts, as users do.
            create_budget(redis, "submit", settings.submit_rate_per_minute / 60, 10),
            create_line(redis, "submit", settings.generation_deadline),
        ),
        "aliceai": Model(
            ImagesClient(
                images_http,
                model_uri=settings.images_model_uri_resolved,
                timeout=settings.images_http_timeout,
                retries=settings.http_retries,
            ),
            create_budget(redis, "images", settings.images_rate_per_minute / 60, 5),
            create_line(redis, "images", settings.generation_deadline),
        ),
    }
    return Backends(models, offered=settings.models, default=settings.default_model)


def create_credentials(settings: Settings, timeout: float) -> Credentials:
    header = settings.yandex_auth_header
    if header is not None:
        return FixedCredentials(header)
    assert settings.yandex_sa_key_file is not None
    from bot.yandex.iam import IamTokenSource, ServiceAccountKey

    key = ServiceAccountKey.from_file(settings.yandex_sa_key_file)
    return IamTokenSource(key, iam_url=str(settings.yandex_iam_url), timeout=timeout)


async def connect_redis(url: str) -> Redis:
    """A client with timeouts, checked once: a wrong REDIS_URL stops start-up clearly."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    redis = Redis.from_url(url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT)
    try:
        await redis.ping()
    except (RedisError, OSError) as exc:
        await redis.aclose()
        host = where(url) if urlsplit(url).hostname else url.split("://", 1)[0]
        raise StartupError(
            f"REDIS_URL: cannot connect to Redis at {host}: {network_cause(exc)}"
        ) from None
    return redis


async def open_redis(settings: Settings) -> Redis | None:
    """The store's client (None: memory), checked once, its key layout brought up to date:
    REDIS_URL's server, or the master the sentinels name (followed through failovers)."""
    if not settings.redis_sentinels:
        redis = await connect_redis(settings.redis_url) if settings.redis_url else None
    else:
        redis = await connect_sentinel(settings)
    if redis is not None:
        from bot.core.errors import StoreUnavailable
        from bot.storage.redis_store import migrate_layout

        try:
            await migrate_layout(redis)
        except StoreUnavailable as exc:
            await redis.aclose()
            raise StartupError(f"Redis: cannot bring its keys up to date ({exc})") from None
    return redis


async def connect_sentinel(settings: Settings) -> Redis:
    """A client of the master REDIS_SENTINEL_MASTER names: each new connection asks a
    sentinel where the master is, and one to a demoted master is dropped (READONLY)."""
    from redis.exceptions import RedisError

    from bot.storage.redis_sentinel import master_client

    parts = urlsplit(settings.redis_url or "redis:///0")
    assert settings.redis_sentinel_master is not None
    redis = master_client(
        settings.sentinel_addresses,
        settings.redis_sentinel_master,
        socket_timeout=REDIS_TIMEOUT,
        socket_connect_timeout=REDIS_TIMEOUT,
        username=parts.username or None,
        password=parts.password or None,
        db=int(parts.path.strip("/") or 0),
    )
    try:
        await redis.ping()
    except (RedisError, OSError) as exc:
        await redis.aclose()
        raise StartupError(
            f"REDIS_SENTINELS: cannot reach the master {settings.redis_sentinel_master!r} "
            f"({type(exc).__name__})"
        ) from None
    return redis


def create_store(settings: Settings, redis: Redis | None) -> JobStore:
    if redis is None:
        return MemoryJobStore(
            lease_seconds=settings.job_lease_seconds,
            retention_seconds=settings.job_retention,
            kept_max_bytes=settings.kept_pictures_max_mb * 2**20,
        )
    from bot.storage.redis_store import RedisJobStore

    return RedisJobStore(
        redis,
        lease_seconds=settings.job_lease_seconds,
        retention_seconds=settings.job_retention,
        kept_max_bytes=settings.kept_pictures_max_mb * 2**20,
    )


def create_credit_store(redis: Redis | None) -> CreditStore:
    if redis is None:
        return MemoryCreditStore()
    from bot.storage.redis_credits import RedisCreditStore

    return RedisCreditStore(redis)


class Lifecycle:
    """Starts the background loops after the bot is up and stops them without losing jobs."""

    def __init__(
        self,
        *,
        tracker: Tracker,
        voice: VoiceService,
        actions: ChatActions,
        backends: Backends,
        store: JobStore,
        profile: BotProfile,
        notices: Notices,
        drafts: Drafts | None,
        pressed: PressedButtons,
        wallet: Wallet | None,
        texts: Texts,
        prefs: PrefsService,
    ) -> None:
        self._pressed = pressed
        self._notices = notices
        self._drafts = drafts
        self._wallet = wallet
        self._texts = texts
        self._prefs = prefs
        self._recover_task: asyncio.Task[None] | None = None
        self._tracker = tracker
        self._voice = voice
        self._actions = actions
        self._backends = backends
        self._store = store
        self._profile = profile
        self._actions_task: asyncio.Task[None] | None = None

    async def startup(self, bot: Bot) -> None:
        await self._profile.apply(bot)
        self._tracker.start()
        self._actions_task = asyncio.create_task(self._actions.run(), name="chat-actions")
        if self._wallet is not None and self._wallet.enabled:
            self._recover_task = asyncio.create_task(self._recover(bot), name="recover-payments")
        log.info("bot started")

    async def _recover(self, bot: Bot) -> None:
        """Payments a killed instance took but never credited (bounded; retried at the
        next start if Telegram or the store is down now); their users are thanked late."""
        assert self._wallet is not None
        try:
            async with asyncio.timeout(RECOVER_TIMEOUT):
                credited = await self._wallet.recover()
                for user_id, balance in credited:
                    locale = (await self._prefs.get(user_id)).language or DEFAULT_LOCALE
                    text = self._texts.get(locale, "pay.thanks", balance=balance)
                    with suppress(TelegramAPIError):
                        await bot.send_message(user_id, text)
        except (TelegramAPIError, StoreUnavailable, TimeoutError) as exc:
            log.warning("payments not checked against Telegram's list (%s)", type(exc).__name__)
            return
        log.info("payments checked against Telegram's list: %d credited now", len(credited))

    async def shutdown(self) -> None:
        if self._recover_task is not None:
            self._recover_task.cancel()
            with suppress(asyncio.CancelledError):
                await self._recover_task
        await self._tracker.stop()  # voices being heard are its steps
        await self._voice.close()
        await self._notices.close()
        await self._pressed.close()
        if self._drafts is not None:
            await self._drafts.close()
        if self._actions_task is not None:
            self._actions_task.cancel()
            with suppress(asyncio.CancelledError):
                await self._actions_task
        await self._backends.close()
        await self._store.close()
        log.info("bot stopped")


def create_budget(redis: Redis | None, name: str, per_second: float, burst: int) -> Budget:
    """A Yandex quota: per process in memory, shared by all instances in Redis."""
    if redis is None:
        return MemoryBudget(per_second, burst)
    from bot.storage.redis_budget import RedisBudget

    return RedisBudget(redis, f"art:budget:{name}", per_second, burst)


def create_line(redis: Redis | None, name: str, stale_after: float) -> WaitingLine:
    """The requests waiting for a budget: this process's, or every instance's in Redis."""
    if redis is None:
        return MemoryLine()
    from bot.storage.redis_budget import RedisLine

    return RedisLine(redis, f"art:line:{name}", stale_after)


def poll_rate(settings: Settings) -> float:
    """The poll bucket's rate, which the planner plans on too: a little under the limit."""
    return settings.poll_rate_limit * POLL_MARGIN


def create_planner(settings: Settings, store: JobStore) -> PollPlanner:
    schedule = PollSchedule(
        first_delay=settings.poll_first_delay,
        growth=settings.poll_growth,
        max_interval=settings.poll_max_interval,
    )
    learned = LearnedSchedule(
        fallback=schedule,
        target_lag=settings.poll_target_lag,
        late_share=settings.poll_late_share,
    )
    if settings.poll_schedule == "hazard":
        prior = Prior(median=settings.poll_prior_median)
        policy = HazardPolicy(
            min_gap=settings.poll_min_gap,
            max_gap=settings.poll_max_interval,
            rate=poll_rate(settings),
        )
        # Rebuilding a finish model is cheap: learn from every new duration.
        durations = DurationModel(store, lambda past: FinishModel(prior, past), replan_every=1)
        return PollPlanner(
            schedule,
            None,
            model_uri=settings.model_uri,
            learned=None,
            hazard=HazardPlanner(policy, durations, prior),
        )
    return PollPlanner(
        schedule,
        DurationModel(store, learned.plan),
        model_uri=settings.model_uri,
        learned=learned if settings.poll_schedule == "learned" else None,
    )


@dataclass(frozen=True)
class Services:
    """Everything the handlers and the lifecycle need, built once from the settings."""

    texts: Texts
    store: JobStore
    metrics: Metrics
    tracker: Tracker
    art_service: ArtService
    styles: StyleCatalog
    history: HistoryService
    voice: VoiceService
    prefs: PrefsService
    rules: AccessRules
    stats: StatsService
    backends: Backends
    actions: ChatActions
    wallet: Wallet
    notices: Notices
    drafts: Drafts | None  # None: LIVE_PROGRESS is off
    pressed: PressedButtons


def create_services(
    settings: Settings,
    bot: Bot,
    i18n: I18n,
    *,
    redis: Redis | None = None,
    backend: ImageBackend | None = None,
    clock: Callable[[], float] = time.time,
) -> Services:
    styles = load_styles(settings.styles_file)
    limits = Limits(
        max_length=settings.prompt_max_length,
        max_side=settings.ratio_max_side,
        max_elongation=settings.ratio_max_elongation,
        max_variants=settings.max_variants,
    )
    store = create_store(settings, redis)
    http = create_yandex_http(settings)
    backends = create_backends(settings, http, http.credentials, redis, backend)
    texts = Texts(
        i18n,
        limits,
        settings.generation_deadline,
        settings.job_retention,
        settings.yandex_daily_quota,
        private_text_prompts=settings.private_text_prompts,
        history_retention=settings.history_retention,
        models=backends.capabilities,
        offered=tuple(backends.offered),
        inline_storage=settings.inline_storage_chat_id is not None,
        button_icons=settings.button_emoji,
    )
    enhancer = PromptEnhancer(
        http,
        create_budget(redis, "completion", settings.completion_rate_per_minute / 60, 5),
        model_uri=settings.gpt_model_uri_resolved,
        system_prompt=lambda locale: texts.get(locale, "enhance.system", limit=limits.max_length),
        max_length=limits.max_length,
    )
    metrics = Metrics()
    # The chats that wait are those of the store's active jobs, whichever instance runs them.
    actions = ChatActions(
        bot, interval=settings.chat_action_interval, still_waiting=store.active_among
    )
    notice = AdminNotice(bot, texts, settings.admin_ids, DEFAULT_LOCALE)
    availability = ModelAvailability(
        store,
        backends,
        metrics,
        notice.model_set_aside,
        retry_after=settings.model_retry_after,
        stall_floor=settings.model_stall_floor,
        # The learned finish times are kept by model URI (the planner's keys).
        duration_keys={"yandexart": settings.model_uri},
        clock=clock,
    )
    # Only models with a seed can answer a repeated request from the cache.
    cache = PictureCache(store, {"yandexart": settings.model_uri}, settings.cache_ttl)
    rules = AccessRules(
        allowed_users=settings.allowed_user_ids,
        allowed_chats=settings.allowed_chat_ids,
        admins=settings.admin_ids,
    )
    planner = create_planner(settings, store)
    drafts = Drafts(
        bot,
        texts,
        interval=settings.draft_interval,
        active=job_active(store),
        estimate=typical_duration(store, planner),
    )
    delivery = Delivery(
        bot,
        texts,
        upload_chat_id=settings.inline_storage_chat_id,
        models=backends.capabilities,
        rules=rules,
        drafts=drafts,
    )
    quotas = Quotas(
        store,
        rules,
        max_concurrent=settings.max_concurrent_per_user,
        daily_quota=settings.daily_quota_per_user,
        slot_ttl=settings.generation_deadline * 2,
        clock=clock,
    )
    if settings.credit_packs and redis is None:
        log.warning("payments without REDIS_URL: the credit ledger is lost on restart")
    wallet = Wallet(
        create_credit_store(redis),
        settings.credit_packs,
        quotas=quotas,
        rules=rules,
        metrics=metrics,
        stars=Stars(bot),
        hold_seconds=hold_seconds(settings.generation_deadline),
        clock=clock,
    )
    tracker = Tracker(
        wallet=wallet,
        store=store,
        backends=backends,
        delivery=delivery,
        actions=actions,
        planner=planner,
        metrics=metrics,
        cache=cache,
        enhancer=enhancer,
        # Polls: one at a time, a little under the rate (never above it in any second).
        poll_budget=create_budget(redis, "poll", poll_rate(settings), 1),
        submit_patience=settings.submit_patience,
        quotas=quotas,
        availability=availability,
        clock=clock,
        backlog_max=settings.outage_backlog_max,
        stall_after=settings.loop_stall_seconds,
    )
    prefs = PrefsService(store)
    history = HistoryService(store, prefs, retention=settings.history_retention, clock=clock)
    art_service = ArtService(
        tracker=tracker,
        store=store,
        cache=cache,
        quotas=quotas,
        prefs=prefs,
        history=history,
        limits=limits,
        backends=backends,
        availability=availability,
        deadline=settings.generation_deadline,
        upload_chat=delivery.upload_chat,
        # Keyed by the token, which every instance of the bot shares and nobody else knows.
        job_ids=JobIds(
            hashlib.sha256(b"job ids:" + settings.bot_token.get_secret_value().encode()).digest()
        ),
        clock=clock,
        styles=styles,
        wallet=wallet,
    )
    stats = StatsService(store, models=tuple(backends.capabilities), clock=clock)
    voice = create_voice(
        settings, bot, redis, http.credentials, art_service, quotas, store, texts, wallet
    )
    tracker.hearer = voice  # voice requests are jobs; the tracker hears them
    return Services(
        texts=texts,
        store=store,
        metrics=metrics,
        tracker=tracker,
        art_service=art_service,
        styles=styles,
        history=history,
        voice=voice,
        prefs=prefs,
        rules=rules,
        stats=stats,
        backends=backends,
        actions=actions,
        wallet=wallet,
        notices=Notices(bot, settings.notice_ttl),
        drafts=drafts if settings.live_progress else None,
        pressed=PressedButtons(bot, active=job_active(store)),
    )


def create_voice(
    settings: Settings,
    bot: Bot,
    redis: Redis | None,
    credentials: Credentials,
    art: ArtService,
    quotas: Quotas,
    store: JobStore,
    texts: Texts,
    wallet: Wallet | None = None,
) -> VoiceService:
    """Voice prompts: SpeechKit on its own host and session, within its own budget."""
    http = YandexHttp(
        base_url=str(settings.stt_api_url),
        credentials=credentials,
        folder_id=None,
        timeout=settings.http_timeout,
    )
    return VoiceService(
        art=art,
        quotas=quotas,
        store=store,
        files=VoiceFiles(bot, max_bytes=MAX_BYTES, timeout=settings.http_timeout),
        stt=SpeechKitClient(http, folder_id=settings.stt_folder_id),
        budget=create_budget(redis, "stt", settings.stt_rate_per_minute / 60, 5),
        edits=StatusEdits(bot),
        texts=texts,
        enabled=settings.voice_prompts,
        max_in_flight=settings.stt_max_in_flight,
        wallet=wallet,
    )


def create_dispatcher(
    settings: Settings,
    bot: Bot,
    *,
    redis: Redis | None = None,
    backend: ImageBackend | None = None,
    clock: Callable[[], float] = time.time,
) -> Dispatcher:
    """The dispatcher with every service in its workflow data; Redis, when given, holds
    the jobs and the counters. No handler keeps a conversation state, so aiogram's FSM is
    off: it would read a state from its storage (Redis) for every update."""
    i18n = create_i18n()
    services = create_services(settings, bot, i18n, redis=redis, backend=backend, clock=clock)
    dispatcher = Dispatcher(
        disable_fsm=True,
        art_service=services.art_service,
        voice_service=services.voice,
        texts=services.texts,
        store=services.store,
        metrics=services.metrics,
        prefs=services.prefs,
        rules=services.rules,
        stats=services.stats,
        private_text_prompts=settings.private_text_prompts,
        styles=services.styles,
        history=services.history,
        tracker=services.tracker,
        wallet=services.wallet,
        paysupport_text=settings.paysupport_text,
        notices=services.notices,
        drafts=services.drafts,
        pressed=services.pressed,
    )
    dispatcher.include_routers(*handlers.routers())
    PrefsI18nMiddleware(i18n, services.prefs).setup(dispatcher)
    access = AccessMiddleware(services.rules, services.texts)
    for observer in (
        dispatcher.message,
        dispatcher.callback_query,
        dispatcher.inline_query,
        dispatcher.chosen_inline_result,
        dispatcher.guest_message,
    ):
        observer.outer_middleware(access)
    lifecycle = Lifecycle(
        tracker=services.tracker,
        voice=services.voice,
        actions=services.actions,
        backends=services.backends,
        store=services.store,
        notices=services.notices,
        drafts=services.drafts,
        pressed=services.pressed,
        profile=BotProfile(
            services.store,
            services.texts,
            commands=COMMANDS + (PAYMENT_COMMANDS if services.wallet.enabled else ()),
            default_locale=DEFAULT_LOCALE,
            ephemeral=EPHEMERAL_COMMANDS,
        ),
        # Only a shared ledger (Redis) can tell what Telegram's list adds: one in memory
        # starts empty and would credit every past payment again.
        wallet=services.wallet if redis is not None else None,
        texts=services.texts,
        prefs=services.prefs,
    )
    dispatcher.startup.register(lifecycle.startup)
    dispatcher.shutdown.register(lifecycle.shutdown)
    return dispatcher
