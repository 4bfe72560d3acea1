"""Every request ends, whatever fails: real Redis faults (OOM, READONLY), damaged records,
steps that crash, pictures Telegram refuses, results that are no pictures, and deliveries
that cannot happen before the deadline. The real bot against the fakes and a real Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError, ReadOnlyError, ResponseError

from bot.core.backend import ImageBackend, ImageReady, OperationState, Submitted
from bot.core.models import Capabilities
from bot.core.prompt import ArtRequest, PromptPart
from bot.emulators.telegram import FakeTelegram, files_of
from bot.emulators.yandexart import FakeYandex
from bot.ops.health import Ops
from bot.services.tracker import STEP_ERRORS_MAX
from bot.storage.picture_cache import PictureCache, request_key
from bot.storage.redis_store import RedisJobStore
from bot.telegram.keyboards import JobAction
from bot.yandex.art import YandexArtClient
from bot.yandex.http import BodyTooLarge, FixedCredentials, YandexHttp
from tests.bot_process import API_KEY, FOLDER
from tests.conftest import RunningBot
from tests.test_store import make_job

CHAT = 7001
StartBot = Callable[..., Awaitable[RunningBot]]


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def _error_count(redis: Redis, prefix: str) -> int:
    """How many replies of this error kind the server has sent (INFO errorstats)."""
    stats = await redis.info("errorstats")
    entry = stats.get(f"errorstat_{prefix}", {})
    return int(entry.get("count", 0)) if isinstance(entry, dict) else 0


@asynccontextmanager
async def redis_fault(redis: Redis, kind: str) -> AsyncIterator[str]:
    """A real fault of the whole server: every write refused with OOM (maxmemory 1, no
    eviction) or READONLY (a replica of a master that does not exist). Yields the error
    prefix the server answers with, once a write of our own was refused with it."""
    config = await redis.config_get("maxmemory*")
    try:
        if kind == "oom":
            await redis.config_set("maxmemory-policy", "noeviction")
            await redis.config_set("maxmemory", "1")
            expected: type[ResponseError] = OutOfMemoryError
        else:
            await redis.replicaof("127.0.0.1", 1)
            expected = ReadOnlyError
        with pytest.raises(expected):
            await redis.set("probe", "1")
        yield kind.upper()
    finally:
        await redis.replicaof("NO", "ONE")
        await redis.config_set("maxmemory", config.get("maxmemory") or "0")
        await redis.config_set("maxmemory-policy", config.get("maxmemory-policy") or "noeviction")


# --- item 1: the job loop never dies ------------------------------------------------------


@pytest.mark.parametrize("kind", ["oom", "readonly"])
async def test_redis_refusing_writes_is_an_outage_the_bot_rides_out(
    start_bot: StartBot,
    telegram: FakeTelegram,
    yandex: FakeYandex,
    redis_url: str,
    kind: str,
) -> None:
    instance = await start_bot(redis_url=redis_url, loop_stall_seconds=0.5)
    tracker = instance.dispatcher["tracker"]
    ops = Ops(instance.bot, instance.dispatcher["store"], instance.dispatcher["metrics"], tracker)
    redis = Redis.from_url(redis_url)
    try:
        telegram.push_message("/art a fox before the fault --seed 1")
        await telegram.wait_for("sendPhoto", 1, ok=True)
        async with redis_fault(redis, kind) as prefix:
            refused = await _error_count(redis, prefix)
            telegram.push_message("/art a fox during the fault --seed 2")
            await telegram.wait_for("sendMessage", 2, ok=True)  # answered: "Generating…"
            # The bot's own calls are refused too, and its loop keeps trying.
            await _until(lambda: _more_errors(redis, prefix, refused + 3))
            await _until(lambda: _health(ops, 503))
            assert len(telegram.sent("sendPhoto")) == 1
        await telegram.wait_for("sendPhoto", 2, ok=True, timeout=15)
        await _until(lambda: _health(ops, 200))
    finally:
        await redis.aclose()


async def _more_errors(redis: Redis, prefix: str, at_least: int) -> bool:
    return await _error_count(redis, prefix) >= at_least


async def _health(ops: Ops, status: int) -> bool:
    response = await ops.health(make_mocked_request("GET", "/healthz"))
    return response.status == status


async def test_shutdown_with_redis_refusing_writes_ends_within_its_grace(
    start_bot: StartBot, telegram: FakeTelegram, yandex: FakeYandex, redis_url: str
) -> None:
    yandex.hold = True
    instance = await start_bot(redis_url=redis_url)
    redis = Redis.from_url(redis_url)
    try:
        telegram.push_message("/art a fox caught in the outage --seed 3")
        await telegram.wait_for("sendMessage", 1, ok=True)
        await _until(lambda: _has_operations(yandex))
        async with redis_fault(redis, "oom") as prefix:
            refused = await _error_count(redis, prefix)
            await _until(lambda: _more_errors(redis, prefix, refused + 1))
            # The loop and a job in flight hit OOM; stopping must not raise nor hang.
            await asyncio.wait_for(instance.stop(), 30)
    finally:
        await redis.aclose()


async def _has_operations(yandex: FakeYandex) -> bool:
    return bool(yandex.operations)


async def test_an_undecodable_record_is_moved_aside_and_the_rest_goes_on(
    start_bot: StartBot,
    telegram: FakeTelegram,
    yandex: FakeYandex,
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    redis = Redis.from_url(redis_url)
    await redis.hset("art:{jobs}:job:damaged", "data", "{not json")
    await redis.zadd("art:{jobs}:due", {"damaged": 0})
    await redis.hset("art:{jobs}:job:halfjob", "data", '{"id": "halfjob"}')
    await redis.zadd("art:{jobs}:due", {"halfjob": 0})
    try:
        await start_bot(redis_url=redis_url)
        telegram.push_message("/art a fox after the damage --seed 4")
        await telegram.wait_for("sendPhoto", 1, ok=True)
        for job_id in ("damaged", "halfjob"):
            assert await redis.zscore("art:{jobs}:due", job_id) is None
            assert not await redis.exists(f"art:{{jobs}}:job:{job_id}")
            assert await redis.exists(f"art:{{jobs}}:quarantine:{job_id}")
            assert f"record {job_id} cannot be decoded" in caplog.text
        assert await redis.hget("art:{jobs}:quarantine:damaged", "data") == b"{not json"
    finally:
        await redis.aclose()


class CrashingPolls:
    """The real YandexART client, except that every poll fails with a bug's exception."""

    def __init__(self, real: ImageBackend) -> None:
        self.real = real
        self.polls = 0

    @property
    def capabilities(self) -> Capabilities:
        return self.real.capabilities

    async def submit(
        self, request: ArtRequest, seed: int, idempotency_key: str, time_left: float
    ) -> Submitted | ImageReady:
        return await self.real.submit(request, seed, idempotency_key, time_left)

    async def get_operation(self, operation_id: str) -> OperationState:
        self.polls += 1
        raise RuntimeError("a bug in a step")

    async def cancel(self, operation_id: str) -> None:
        await self.real.cancel(operation_id)

    async def close(self) -> None:
        await self.real.close()


def _art_client(yandex: FakeYandex, **http: Any) -> YandexArtClient:
    client = YandexHttp(
        base_url=yandex.url,
        credentials=FixedCredentials(f"Api-Key {API_KEY}"),
        folder_id=FOLDER,
        timeout=5,
        **http,
    )
    return YandexArtClient(client, model_uri=f"art://{FOLDER}/yandex-art/latest", retries=0)


async def test_a_step_that_keeps_crashing_is_retried_a_few_times_then_told(
    start_bot: StartBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    backend = CrashingPolls(_art_client(yandex))
    await start_bot(backend=backend)
    telegram.push_message("/art a fox that trips a bug --seed 5")
    edit = (await telegram.wait_for("editMessageText", ok=True))[0]
    assert edit.params["text"].startswith("Something went wrong on the bot's side")
    assert backend.polls == STEP_ERRORS_MAX
    await asyncio.sleep(0.5)  # nothing more happens to the ended job
    assert backend.polls == STEP_ERRORS_MAX
    assert not telegram.sent("sendPhoto")


# --- item 2: every job ends by its deadline, pictures Telegram refuses, non-images --------


async def test_a_photo_telegram_refuses_goes_out_as_a_document(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.fail("sendPhoto", 400, "Bad Request: IMAGE_PROCESS_FAILED")
    request_id = telegram.push_message("/art a fox Telegram cannot process --seed 6")
    document = (await telegram.wait_for("sendDocument", ok=True))[0]
    assert document.json("reply_parameters")["message_id"] == request_id
    assert "a fox Telegram cannot process" in document.params["caption"]
    assert document.json("reply_markup")["inline_keyboard"]  # Again / Original
    operation = next(iter(yandex.operations.values()))
    assert files_of(document, document.params["document"]) == operation.image
    await telegram.wait_for("deleteMessage", ok=True)  # the status message goes
    assert not telegram.sent("editMessageText")


async def test_a_picture_refused_as_photo_and_as_document_is_explained(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.fail("sendPhoto", 413, "Request Entity Too Large")
    telegram.fail("sendDocument", 400, "Bad Request: file is too big")
    telegram.push_message("/art a fox too large for Telegram --seed 7")
    edit = (await telegram.wait_for("editMessageText", ok=True))[0]
    assert edit.params["text"].startswith("The picture is ready, but Telegram would not")
    assert len(telegram.sent("sendPhoto")) == 1  # a refusal is not retried as such
    assert len(telegram.sent("sendDocument")) == 1


async def test_a_result_that_is_not_an_image_is_a_failure_the_user_is_told(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    yandex.hold = True
    telegram.push_message("/art a fox that comes back as HTML --seed 8")
    await _until(lambda: _has_operations(yandex))
    next(iter(yandex.operations.values())).image = b"<html>502 Bad Gateway</html>"
    yandex.hold = False
    edit = (await telegram.wait_for("editMessageText", ok=True))[0]
    assert edit.params["text"].startswith("YandexART could not generate this picture")
    assert not telegram.sent("sendPhoto")
    assert not telegram.sent("sendDocument")


async def test_yandex_answers_over_the_size_cap_are_refused_unread(yandex: FakeYandex) -> None:
    client = _art_client(yandex, max_body=64 * 1024)
    try:
        request = _request("a fox in a huge answer")
        operation_id = (await client.submit(request, 1, str(uuid.uuid4()), 30)).operation_id
        yandex.image_padding = 64 * 1024  # base64 of more than the cap
        with pytest.raises(BodyTooLarge):
            await client.get_operation(operation_id)
        yandex.image_padding = 0
        state = await client.get_operation(operation_id)
        assert isinstance(state, ImageReady)
    finally:
        await client.close()


def _request(text: str) -> ArtRequest:
    return ArtRequest(parts=(PromptPart(text),))


async def test_a_picture_that_cannot_be_delivered_by_the_deadline_ends_told(
    start_bot: StartBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    # Telegram keeps asking to wait far longer than the bot waits: every delivery is
    # "retry later". Before the fix the job looped (poll, refused send) forever.
    telegram.fail(
        "sendPhoto", 429, "Too Many Requests: retry after 600", times=10**6, retry_after=600
    )
    await start_bot(generation_deadline=1.0)
    telegram.push_message("/art a fox Telegram will not take now --seed 9")
    edit = (await telegram.wait_for("editMessageText", ok=True))[0]
    assert edit.params["text"].startswith("The picture was ready, but Telegram could not")
    attempts = len(telegram.sent("sendPhoto"))
    assert attempts >= 2  # it did retry until the deadline
    await asyncio.sleep(0.5)
    assert len(telegram.sent("sendPhoto")) == attempts  # and then stopped


async def test_an_active_job_expires_in_redis_by_what_privacy_promises(redis_url: str) -> None:
    store = RedisJobStore(Redis.from_url(redis_url), retention_seconds=600)
    try:
        job = make_job("stuck", 0.0)
        await store.add(job)
        ttl_ms = await Redis.from_url(redis_url).pttl("art:{jobs}:job:stuck")
        promised = job.keep_until - job.created_at + 600
        assert 0 < ttl_ms <= promised * 1000
        assert ttl_ms > (promised - 60) * 1000
    finally:
        await store.close()


# --- item 3: a bounded backlog --------------------------------------------------------------


async def test_while_redis_refuses_writes_new_requests_wait_up_to_the_cap_then_hear_busy(
    start_bot: StartBot, telegram: FakeTelegram, yandex: FakeYandex, redis_url: str
) -> None:
    # The limits (a write: the daily counter) and the store both get OOM: before the fix the
    # limits code raised and the request got no answer at all.
    await start_bot(redis_url=redis_url, outage_backlog_max=2)
    redis = Redis.from_url(redis_url)
    try:
        async with redis_fault(redis, "oom"):
            for n in range(3):
                telegram.push_message(
                    f"/art fox {n} in the outage --seed {n + 1}", chat_id=CHAT + n
                )
                await telegram.wait_for("sendMessage", n + 1, ok=True)
            replies = [c.params["text"] for c in telegram.sent("sendMessage", ok=True)]
            assert [text.startswith("🎨 Generating") for text in replies] == [True, True, False]
            assert replies[2] == "The bot is busy right now. Please try again in a few minutes."
            assert not yandex.submits  # held, not lost: nothing can be recorded yet
        photos = await telegram.wait_for("sendPhoto", 2, ok=True, timeout=15)
        assert sorted(int(p.params["chat_id"]) for p in photos) == [CHAT, CHAT + 1]
        assert len(yandex.submits) == 2
    finally:
        await redis.aclose()


async def test_a_failure_that_cannot_be_told_ends_the_job_at_keep_until(
    start_bot: StartBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    """Telegram takes the status, then refuses every later message: the failure stays
    untold and is retried, until the job's `keep_until`, where the job (and its prompt)
    ends anyway. Before the fix it was retried, and kept, forever."""
    offset = [0.0]
    running = await start_bot(clock=lambda: time.time() + offset[0])
    telegram.push_message("/art a forbidden fox nobody hears about --seed 10")
    (status,) = await telegram.wait_for("sendMessage", ok=True)
    job_id = JobAction.unpack(
        status.json("reply_markup")["inline_keyboard"][0][0]["callback_data"]
    ).job_id
    for method in ("editMessageText", "sendMessage"):
        telegram.fail(
            method, 429, "Too Many Requests: retry after 600", times=10**6, retry_after=600
        )
    await telegram.wait_for("editMessageText", 2)  # the explanation is retried
    store = running.dispatcher["store"]
    job = await store.get(job_id)
    assert job is not None
    assert job.active
    offset[0] = job.keep_until - time.time() + 1
    await _until(lambda: _ended(store, job_id))
    tries = len(telegram.sent("editMessageText"))
    await asyncio.sleep(0.5)
    assert len(telegram.sent("editMessageText")) == tries  # no more retries


async def _ended(store: Any, job_id: str) -> bool:
    job = await store.get(job_id)
    return job is None or not job.active


async def test_an_inline_photo_telegram_refuses_is_edited_in_as_a_document(
    running: RunningBot, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    telegram.fail("sendPhoto", 400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
    inline_id = telegram.push_chosen_inline_result("job123abc456:77", "a very wide owl")
    await telegram.wait_for("editMessageMedia", ok=True)
    (upload,) = telegram.sent("sendDocument", ok=True)
    media = telegram.inline_messages[inline_id]["media"]
    assert media["type"] == "document"
    assert media["media"] == upload.result["document"]["file_id"]
    assert media["caption"] == "a very wide owl\n\nseed 77 · 1:1"
    operation = next(iter(yandex.operations.values()))
    assert files_of(upload, upload.params["document"]) == operation.image


async def test_a_damaged_picture_cache_entry_is_a_miss(redis_url: str) -> None:
    store = RedisJobStore(Redis.from_url(redis_url))
    cache = PictureCache(store, {"yandexart": "art://model"}, ttl=60)
    request = _request("a fox from a damaged cache")
    try:
        await store.cache_put(request_key("art://model", request, 5), "{damaged", ttl=60)
        assert await cache.lookup(request, 5) is None
        await store.cache_put(request_key("art://model", request, 5), '{"file_id": "f"}', ttl=60)
        assert await cache.lookup(request, 5) is not None
    finally:
        await store.close()
