"""Restart safety and several instances, with real `python -m bot` processes and a real Redis."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.emulators.telegram import FakeTelegram
from bot.emulators.yandexart import FakeYandex
from tests.bot_process import API_KEY, BOT_TOKEN, FOLDER, BotProcess, fast_settings
from tests.redis_server import RedisServer, free_port

SECRET = "multi_instance_secret"


def env_for(
    telegram: FakeTelegram, yandex: FakeYandex, redis_url: str, **extra: str
) -> dict[str, str]:
    return fast_settings(telegram.url, yandex.url, redis_url, **{"JOB_LEASE_SECONDS": "2", **extra})


async def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


async def test_redis_down_at_start_is_one_clear_line(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "BOT_TOKEN": BOT_TOKEN,
        "YANDEX_FOLDER_ID": FOLDER,
        "YANDEX_API_KEY": API_KEY,
        "REDIS_URL": f"redis://:hunter2-hunter2@127.0.0.1:{port}/0",
    }
    bot = BotProcess(env, tmp_path)
    await bot.start()
    assert await bot.wait() == 2
    assert bot.log.strip() == (
        f"error: REDIS_URL: cannot connect to Redis at 127.0.0.1:{port}: "
        "connection refused (nothing listens on that port)"
    )


async def test_kill_9_while_pending_then_restart_delivers_exactly_once(
    tmp_path: Path, telegram: FakeTelegram, yandex: FakeYandex, redis_url: str
) -> None:
    yandex.hold = True
    env = env_for(telegram, yandex, redis_url)
    first = BotProcess(env, tmp_path, "first")
    await first.start()
    await telegram.wait_for("setMyCommands", 2, timeout=30)
    request_id = telegram.push_message("/art a fox that survives crashes --seed 5")
    status = (await telegram.wait_for("sendMessage", timeout=30))[0]
    await eventually(lambda: yandex.polls >= 2)  # submitted and pending
    first.kill()
    await first.wait()

    yandex.hold = False
    second = BotProcess(env, tmp_path, "second")
    await second.start()
    photo = (await telegram.wait_for("sendPhoto", timeout=30))[0]
    assert photo.json("reply_parameters")["message_id"] == request_id
    deleted = await telegram.wait_for("deleteMessage", timeout=10)
    assert deleted[0].params["message_id"] == str(status.result["message_id"])
    await asyncio.sleep(1.0)  # room for a duplicate to show up
    assert len(telegram.sent("sendPhoto")) == 1
    assert len(yandex.submits) == 1
    assert yandex.generations == 1
    assert await second.stop() == 0
    assert "Traceback" not in second.log


@pytest.mark.long
async def test_two_instances_share_the_work_and_deliver_each_picture_once(
    tmp_path: Path, telegram: FakeTelegram, yandex: FakeYandex, redis_url: str
) -> None:
    yandex.polls_to_finish = 4
    ports = [free_port(), free_port()]
    instances = []
    for n, port in enumerate(ports):
        env = env_for(
            telegram,
            yandex,
            redis_url,
            WEBHOOK_URL=f"http://127.0.0.1:{port}/hook",
            WEBHOOK_SECRET=SECRET,
            WEBHOOK_HOST="127.0.0.1",
            WEBHOOK_PORT=str(port),
        )
        instance = BotProcess(env, tmp_path, f"instance{n}")
        await instance.start()
        instances.append(instance)
    await telegram.wait_for("setWebhook", 2, timeout=30)

    requests = 40
    expected: set[tuple[str, int]] = set()
    async with aiohttp.ClientSession() as http:
        await _wait_healthy(http, ports)
        for n in range(requests):
            chat = 9000 + n % 10
            update = telegram.new_update(f"/art picture {n} --seed {n + 1}", chat_id=chat)
            expected.add((str(chat), update["message"]["message_id"]))
            port = ports[n % 2]  # the test is the load balancer
            async with http.post(
                f"http://127.0.0.1:{port}/hook",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            ) as resp:
                assert resp.status == 200
        photos = await telegram.wait_for("sendPhoto", requests, timeout=60)
        await asyncio.sleep(1.0)  # room for duplicates to show up
        polls = [await _polls(http, port) for port in ports]

    delivered = Counter(
        (c.params["chat_id"], c.json("reply_parameters")["message_id"])
        for c in telegram.sent("sendPhoto")
    )
    assert set(delivered) == expected
    assert set(delivered.values()) == {1}
    assert len(photos) == requests
    assert yandex.generations == requests
    assert len(yandex.submits) == requests
    assert all(p > 0 for p in polls), polls  # both instances polled
    for instance in instances:
        assert await instance.stop() == 0
        assert "Traceback" not in instance.log


async def _wait_healthy(http: aiohttp.ClientSession, ports: list[int]) -> None:
    async def healthy(port: int) -> bool:
        try:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                return resp.status == 200
        except aiohttp.ClientError:
            return False

    async with asyncio.timeout(30):
        for port in ports:
            while not await healthy(port):
                await asyncio.sleep(0.1)


async def _polls(http: aiohttp.ClientSession, port: int) -> float:
    async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
        text = await resp.text()
    match = re.search(r"^art_polls_total (\S+)$", text, re.MULTILINE)
    assert match is not None, text
    return float(match.group(1))


async def test_redis_lost_while_running_keeps_answering_and_recovers(
    tmp_path: Path, start_bot: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yandex.hold = True
        await start_bot(redis_url=server.url)
        telegram.push_message("/art stored before the outage --seed 1")
        await telegram.wait_for("sendMessage")
        await eventually(lambda: yandex.polls >= 1)

        server.stop()
        telegram.push_message("/help")
        help_text = (await telegram.wait_for("sendMessage", 2))[1]
        assert "--seed N" in help_text.params["text"]
        telegram.push_message("/art accepted during the outage --seed 2")
        status = (await telegram.wait_for("sendMessage", 3))[2]
        assert status.params["text"] == "🎨 Generating… seed 2, 1:1"
        await asyncio.sleep(0.5)

        server.start()
        yandex.hold = False
        photos = await telegram.wait_for("sendPhoto", 2, timeout=30)
        captions = sorted(p.params["caption"].split("\n")[0] for p in photos)
        assert captions == ["accepted during the outage", "stored before the outage"]
        await asyncio.sleep(0.5)
        assert len(telegram.sent("sendPhoto")) == 2
        assert yandex.generations == 2
    finally:
        server.stop()


async def test_sigterm_hands_pending_jobs_back_at_once(
    tmp_path: Path, telegram: FakeTelegram, yandex: FakeYandex, redis_url: str
) -> None:
    """A graceful stop releases its leases: the next process resumes without waiting them out."""
    yandex.hold = True
    env = env_for(telegram, yandex, redis_url, JOB_LEASE_SECONDS="300")
    first = BotProcess(env, tmp_path, "first")
    await first.start()
    await telegram.wait_for("setMyCommands", 2, timeout=30)
    telegram.push_message("/art a fox that restarts politely --seed 8")
    await telegram.wait_for("sendMessage", timeout=30)
    await eventually(lambda: yandex.polls >= 2)
    assert await first.stop() == 0
    assert "Traceback" not in first.log

    yandex.hold = False
    second = BotProcess(env, tmp_path, "second")
    await second.start()
    photo = (await telegram.wait_for("sendPhoto", timeout=20))[0]
    assert photo.params["caption"].startswith("a fox that restarts politely")
    assert len(yandex.submits) == 1
    assert await second.stop() == 0


async def test_kill_9_while_a_voice_is_heard_then_restart_hears_and_draws_it_once(
    tmp_path: Path, telegram: FakeTelegram, yandex: FakeYandex, redis_url: str
) -> None:
    """Issue 21 item 4: the voice request is a job in Redis from its admission, so the
    restarted bot hears it again and draws it; nothing stays "Listening…", no slot is held."""
    from bot.emulators.speechkit import FakeSpeechKit

    speechkit = FakeSpeechKit(api_key=API_KEY)
    await speechkit.start()
    try:
        speechkit.gate.clear()  # the first recognition never answers
        env = env_for(
            telegram, yandex, redis_url, STT_API_URL=speechkit.url, MAX_CONCURRENT_PER_USER="1"
        )
        first = BotProcess(env, tmp_path, "first")
        await first.start()
        await telegram.wait_for("setMyCommands", 2, timeout=30)
        voice = telegram.push_voice(b"OggS\x00\x02" + bytes(2000), size=2006)
        listening = (await telegram.wait_for("sendMessage", timeout=30))[0]
        assert listening.params["text"] == "🎙 Listening…"
        await eventually(lambda: len(speechkit.requests) == 1)
        first.kill()
        await first.wait()
        speechkit.gate.set()

        second = BotProcess(env, tmp_path, "second")
        await second.start()
        photo = (await telegram.wait_for("sendPhoto", timeout=30))[0]
        assert photo.json("reply_parameters")["message_id"] == voice["message_id"]
        heard = telegram.sent("editMessageText")[0]
        assert heard.params["message_id"] == str(listening.result["message_id"])
        assert heard.params["text"].startswith("🎙 a red fox in the snow\n")
        # The one concurrent slot was freed with the job: the next request is drawn.
        await telegram.wait_for("deleteMessage", timeout=10)  # the job has ended
        await asyncio.sleep(0.5)
        telegram.push_message("/art an owl after the crash")
        answer = (await telegram.wait_for("sendMessage", 2, timeout=30))[-1]
        assert answer.params["text"].startswith("🎨 Generating"), answer.params["text"]
        await telegram.wait_for("sendPhoto", 2, timeout=30)
        assert len(speechkit.requests) == 2  # heard again: the first answer never came
        assert yandex.generations == 2
        assert await second.stop() == 0
        assert "Traceback" not in second.log
    finally:
        speechkit.gate.set()
        await speechkit.stop()
