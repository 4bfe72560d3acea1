"""Burst: 1 000 /art from 200 users within 10 s, the fake Bot API enforcing Telegram's
flood limits (1 message a second per private chat, 20 a minute per group, 30 a second
overall; over a limit it answers 429 with retry_after, as Telegram does).

180 users write in private chats and 20 in 10 groups (two per group), 5 requests each, at
random moments of the first 10 s. The bot (`python -m bot`, jobs in memory) keeps its
default flood settings, which match those limits. Yandex time is scaled (`--scale`: the
generation times, poll settings, poll cap and submit budget) so the run is bounded by
Telegram, not by the tail of generation times; MAX_CONCURRENT_PER_USER is 5, so that
the fair-use limit (default 2 at a time) does not refuse part of the burst.

Checked: every picture delivered exactly once, one Yandex generation per request.
Reported: total time (first /art → last picture) against the least time Telegram's limits
allow for the messages sent (30 a second overall, 1 a second per private chat, 20 a minute
per group), the 429s the fake answered, how long users waited for the status reply and
the picture. A bot that stops answering (no getUpdates for 5 s) is reported frozen.

    .venv/bin/python -m bench.burst [--requests 1000] [--users 200] [--scale 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    bot_env,
    header,
    lognormal_durations,
    percentile,
    scaled_settings,
    table,
)
from bot.emulators.telegram import Call, FakeTelegram
from bot.emulators.yandexart import FakeYandex
from tests.bot_process import BotProcess

WINDOW = 10.0
GROUPS = 10
USERS_PER_GROUP = 2
FROZEN_AFTER = 5.0
TELEGRAM_GLOBAL_PER_SECOND = 30
GROUP_LIMIT = 20  # messages per minute
# Yandex-side settings follow the time scale; Telegram's limits and the bot's pacing do not.
YANDEX_SIDE = (
    "poll_first_delay",
    "poll_max_interval",
    "poll_target_lag",
    "poll_min_gap",
    "poll_prior_median",
    "generation_deadline",
    "submit_patience",
    "poll_rate_limit",
    "submit_rate_per_minute",
)


@dataclass(frozen=True)
class Planned:
    at: float
    user_id: int
    chat_id: int
    index: int


def plan(requests: int, users: int, rng: random.Random) -> list[Planned]:
    """Who sends which request when: users in groups first, the rest in private chats."""
    grouped = GROUPS * USERS_PER_GROUP
    people = []
    for u in range(users):
        if u < grouped:
            people.append((30_000 + u, -1_000_001 - u // USERS_PER_GROUP))
        else:
            people.append((20_000 + u, 20_000 + u))
    planned = [Planned(rng.uniform(0, WINDOW), *people[n % users], n) for n in range(requests)]
    return sorted(planned, key=lambda p: p.at)


def seed_index(body: dict[str, Any]) -> int:
    return int(body["generationOptions"]["seed"]) - 1


async def run(requests: int, users: int, scale: float, seed: int) -> None:
    rng = random.Random(seed)
    durations = lognormal_durations(requests, rng)
    planned = plan(requests, users, rng)
    header(
        "burst",
        requests=requests,
        users=users,
        window=f"{WINDOW:g} s",
        groups=GROUPS,
        scale=scale,
        seed=seed,
        durations=f"median {percentile(durations, 50) * scale:.1f} s,"
        f" max {max(durations) * scale:.1f} s (real, scaled)",
    )
    await one(planned, durations, scale)


async def one(planned: list[Planned], durations: list[float], scale: float) -> None:
    telegram, yandex = FakeTelegram(), FakeYandex()
    telegram.chat_limit, telegram.chat_window = 1, 1.0
    telegram.group_limit, telegram.group_window = GROUP_LIMIT, 60.0
    telegram.global_limit, telegram.global_window = TELEGRAM_GLOBAL_PER_SECOND, 1.0
    telegram.get_updates_limit = 100
    yandex.duration = lambda body: durations[seed_index(body)] * scale
    await telegram.start()
    await yandex.start()
    scaled = {k: v for k, v in scaled_settings(scale).items() if k in YANDEX_SIDE}
    env = bot_env(telegram, yandex, max_concurrent_per_user=5, **scaled)
    request_ids: dict[int, Planned] = {}
    pushed_at: dict[int, float] = {}
    frozen_at: float | None = None
    with tempfile.TemporaryDirectory(prefix="bench-burst-") as workdir:
        bot = BotProcess(env, Path(workdir))
        await bot.start()
        await telegram.wait_for("setMyCommands", 2, timeout=60)
        started = time.monotonic()

        async def push_all() -> None:
            for p in planned:
                await asyncio.sleep(max(0.0, started + p.at - time.monotonic()))
                text = f"/art burst {p.index} --seed {p.index + 1}"
                message_id = telegram.push_message(text, chat_id=p.chat_id, user_id=p.user_id)
                request_ids[message_id] = p
                pushed_at[message_id] = time.monotonic()

        pusher = asyncio.create_task(push_all())
        photos = PhotoCount(telegram)
        last_calls, last_change = 0, started
        try:
            while not (pusher.done() and photos.count() >= len(planned)):
                await asyncio.sleep(0.1)
                now = time.monotonic()
                if telegram.get_updates_calls != last_calls:
                    last_calls, last_change = telegram.get_updates_calls, now
                elif now - last_change > FROZEN_AFTER:
                    frozen_at = last_change - started
                    break
                if now - started > 600:
                    raise SystemExit("burst: not done in 10 minutes")
            finished = photos.last
            await asyncio.sleep(2.0)  # room for duplicates to show up
        finally:
            pusher.cancel()
            if frozen_at is None:
                await bot.stop(30)
            else:
                bot.kill()
                await bot.wait()
    await telegram.stop()
    await yandex.stop()
    if frozen_at is not None:
        report_frozen(frozen_at, telegram, yandex, len(planned))
    else:
        report(telegram, yandex, request_ids, pushed_at, started, finished, scale)


class PhotoCount:
    """Pictures accepted so far, counted as calls come in rather than rescanning them all
    (which would load the fake Bot API's process during the run)."""

    def __init__(self, telegram: FakeTelegram) -> None:
        self.telegram = telegram
        self.scanned = 0
        self.photos = 0
        self.last = 0.0

    def count(self) -> int:
        calls = self.telegram.calls
        for call in calls[self.scanned :]:
            if call.method == "sendPhoto" and call.result is not None:
                self.photos += 1
                self.last = call.at
        self.scanned = len(calls)
        return self.photos


def refusals(telegram: FakeTelegram) -> str:
    by = telegram.flood_refusals_by
    return f"{by['chat']} / {by['group']} / {by['global']}"


def report_frozen(after: float, telegram: FakeTelegram, yandex: FakeYandex, total: int) -> None:
    print(
        table(
            ["figure", "value"],
            [
                ["bot froze (no getUpdates from then on), s after the first /art", after],
                ["status replies sent until then", len(telegram.sent("sendMessage", ok=True))],
                ["generations created until then", yandex.generations],
                ["pictures delivered until then", len(telegram.sent("sendPhoto", ok=True))],
                ["429s answered until then", telegram.flood_refusals],
                ["  of which over the limit per chat / group / overall", refusals(telegram)],
            ],
        )
    )
    print(f"every one of {total} pictures delivered exactly once: NOT MET (the bot froze)")


def least_time(sent: list[Call], pushed_at: dict[int, float], started: float) -> float:
    """The least time, from the first /art, in which Telegram's limits let these messages
    out: 30 a second overall, one a second per private chat, 20 in any minute per group;
    and no earlier than the last request came in."""
    per_chat = Counter(int(c.params["chat_id"]) for c in sent)
    bounds = [len(sent) / TELEGRAM_GLOBAL_PER_SECOND, max(pushed_at.values()) - started]
    for chat, n in per_chat.items():
        if chat < 0:
            bounds.append(60.0 * ((n - 1) // GROUP_LIMIT))
        else:
            bounds.append(float(n - 1))
    return max(bounds)


def report(
    telegram: FakeTelegram,
    yandex: FakeYandex,
    request_ids: dict[int, Planned],
    pushed_at: dict[int, float],
    started: float,
    finished: float,
    scale: float,
) -> None:
    photos: dict[int, list[float]] = {}
    statuses: dict[int, float] = {}
    for call in telegram.calls:
        if call.result is None or "reply_parameters" not in call.params:
            continue
        request = call.json("reply_parameters")["message_id"]
        if call.method == "sendPhoto":
            photos.setdefault(request, []).append(call.at)
        elif call.method == "sendMessage":
            statuses.setdefault(request, call.at)
    copies = Counter(len(photos.get(r, [])) for r in request_ids)
    exactly_once = copies == Counter({1: len(request_ids)})
    by_prompt = Counter(seed_index(op.body) for op in yandex.operations.values())
    one_generation = len(by_prompt) == len(request_ids) and set(by_prompt.values()) == {1}
    sent = [
        c
        for c in telegram.calls
        if c.result is not None and c.method.startswith("send") and c.method != "sendChatAction"
    ]
    messages = len(sent)
    bound = least_time(sent, pushed_at, started)
    total = finished - started
    status_wait = [statuses[r] - pushed_at[r] for r in request_ids if r in statuses]
    picture_wait = [photos[r][0] - pushed_at[r] for r in request_ids if r in photos]
    lags = []
    for op in yandex.operations.values():
        index = seed_index(op.body)
        request = next((r for r, p in request_ids.items() if p.index == index), None)
        if request is not None and request in photos and op.finishes_at is not None:
            lags.append(photos[request][0] - op.finishes_at)
    print(
        table(
            ["figure", "value"],
            [
                ["requests", len(request_ids)],
                ["pictures delivered exactly once", copies.get(1, 0)],
                [
                    "requests with no picture / with 2+",
                    f"{copies.get(0, 0)} / {sum(n for k, n in copies.items() if k > 1)}",
                ],
                ["Yandex generations", yandex.generations],
                ["total time, first /art → last picture, s", total],
                ["messages sent (status replies, pictures, other)", messages],
                ["least time Telegram's limits allow for them, s", bound],
                ["total ÷ least time", total / bound],
                ["429s answered by the fake Bot API", telegram.flood_refusals],
                ["  of which over the limit per chat / group / overall", refusals(telegram)],
                [
                    "status reply after /art, p50 / p95 s",
                    f"{percentile(status_wait, 50):.1f} / {percentile(status_wait, 95):.1f}",
                ],
                [
                    "picture after /art, p50 / p95 s",
                    f"{percentile(picture_wait, 50):.1f} / {percentile(picture_wait, 95):.1f}",
                ],
                [
                    "picture after generation done, p50 / p95 s",
                    f"{percentile(lags, 50):.1f} / {percentile(lags, 95):.1f}",
                ],
            ],
        )
    )
    print(f"every picture delivered exactly once: {'MET' if exactly_once else 'NOT MET'}")
    print(f"one generation per request: {'MET' if one_generation else 'NOT MET'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--scale", type=float, default=0.1, help="Yandex time: real s per model s")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.users, args.scale, args.seed))


if __name__ == "__main__":
    main()
