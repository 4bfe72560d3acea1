"""Update throughput: updates handled per second by the bot against a bare aiogram echo bot
(bench/echo_bot.py), in one run, against the same fake Bot API.

Each round starts one process, waits until it polls, queues `--updates` messages from as
many users at once (getUpdates hands out 100 at a time, as Telegram does) and times the
replies: an update counts as handled when its reply reaches the fake Bot API. The bot
answers `/art` (parse, fair-use check, status reply with a Cancel button, job stored and
submitted to the fake YandexART in the background) and `/help` (a localized text); the echo
bot answers the same texts with themselves. A second echo bot row also submits one
generation per message to the fake YandexART as the bot's client does (`SUBMIT=1` in
bench/echo_bot.py): the floor of any `/art`, one reply and one submit, whose ratio is
printed beside the issue's ratio to the plain echo bot. Every round checks that the fake
YandexART got one generation per update where the variant submits, none elsewhere. The
bot's message pacing is lifted (MESSAGES_PER_SECOND), or Telegram's 30 a second would be
the figure; operations are held at Yandex and the first poll is a minute away, so no
picture traffic mixes in; LOG_LEVEL is WARNING as for the echo bot (an INFO row shows what
logging costs). The variants take turns, `--rounds` times; the best round of each counts.

A fair race: the targets compare the bot with the echo bot tuned alike: the same garbage
collector settings (bot/ops/gc_tuning.py), aiogram's answer types kept alive across
collections (bot/telegram/response_types.py: else each rebuilds after a collection, ~8 %
of the echo bot's CPU), no FSM storage (the bot's `disable_fsm`), the same event loop and
JSON library. Both run once on asyncio's loop with the json module (the bot's defaults)
and once on uvloop with orjson (`bench/fast.py`), to see whether those would pay. The bare
echo bot is shown for reference.

    .venv/bin/python -m bench.throughput [--updates 2000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import ROOT, bot_env, eventually, header, memory_mb, table
from bot.emulators.telegram import FakeTelegram
from bot.emulators.yandexart import FakeYandex
from tests.bot_process import bot_env as process_env

FIRST_CHAT = 50_000


@dataclass(frozen=True)
class Variant:
    name: str
    module: str  # what `python -m` runs
    text: str  # the message each user sends
    log_level: str = "WARNING"
    env: dict[str, str] = field(default_factory=dict)
    fast: bool = False  # on uvloop, with orjson as aiogram's JSON library (bench/fast.py)
    submits: bool = False  # one generation per update reaches the fake YandexART


ART = "/art a red fox in the snow --seed {n}"


# The echo bot tuned as the bot is: the same garbage collector settings, aiogram's answer
# types kept alive (bot/telegram/response_types.py), no FSM storage.
FAIR = {"TUNE_GC": "1", "PIN_TYPES": "1", "DISABLE_FSM": "1"}
# The floor of any /art: the echo bot alike that also submits one generation per message.
FLOOR = {**FAIR, "SUBMIT": "1"}
VARIANTS = [
    Variant("echo bot, tuned alike (GC, types, no FSM)", "bench.echo_bot", ART, env=FAIR),
    Variant("echo bot alike + a submit", "bench.echo_bot", ART, env=FLOOR, submits=True),
    Variant("bot: /art", "bot", ART, submits=True),
    Variant("bot: /help", "bot", "/help"),
    Variant("echo bot, tuned alike, uvloop + orjson", "bench.echo_bot", ART, env=FAIR, fast=True),
    Variant(
        "echo bot alike + a submit, uvloop + orjson",
        "bench.echo_bot",
        ART,
        env=FLOOR,
        fast=True,
        submits=True,
    ),
    Variant("bot: /art, uvloop + orjson", "bot", ART, fast=True, submits=True),
    Variant("bot: /help, uvloop + orjson", "bot", "/help", fast=True),
    Variant("echo bot (bare aiogram)", "bench.echo_bot", ART),
]
# Each bot row is compared with the echo bot on the same event loop and JSON library, and
# each row that submits with the floor too (what any /art has to pay).
BASELINE = {False: VARIANTS[0].name, True: VARIANTS[4].name}
FLOOR_ROW = {False: VARIANTS[1].name, True: VARIANTS[5].name}
# Issue 24's targets: each command's rate over the echo bot's, on the same loop and JSON.
TARGETS = {"/art": 0.8, "/help": 0.95}


@dataclass
class Result:
    rates: list[float] = field(default_factory=list)
    peak_rss: list[float] = field(default_factory=list)


class Runner:
    """A fresh interpreter for each side of the race (not a fork of the tests' zygote: the
    echo bot and the bot start alike, each from its own imports)."""

    def __init__(
        self, env: dict[str, str], workdir: Path, module: str, name: str, *, fast: bool = False
    ) -> None:
        self.env = process_env(env)
        self.env["PYTHONPATH"] = str(ROOT)
        self.workdir = workdir
        self.module = module
        self.fast = fast
        self.log_path = workdir / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                *(("bench.fast",) if self.fast else ()),
                self.module,
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=log,
            )

    async def stop(self, grace: float) -> None:
        """SIGTERM, then kill -9 if it has not ended within `grace` seconds."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), grace)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def round_of(variant: Variant, updates: int, workdir: Path, n: int) -> tuple[float, float]:
    """One process, `updates` messages; returns (updates handled per second, peak RSS MB)."""
    telegram, yandex = FakeTelegram(), FakeYandex()
    telegram.get_updates_limit = 100
    yandex.hold = True
    await telegram.start()
    await yandex.start()
    env = bot_env(
        telegram,
        yandex,
        log_level=variant.log_level,
        messages_per_second=1_000_000.0,
        submit_rate_per_minute=100_000_000.0,
        poll_first_delay=60.0,
    )
    env.update(variant.env)
    runner = Runner(env, workdir, variant.module, f"round{n}", fast=variant.fast)
    await runner.start()
    try:
        await eventually(lambda: telegram.get_updates_calls > 0, within=60)
        await asyncio.sleep(0.5)  # start-up calls (setMyCommands) are over
        replies = Replies(telegram, FIRST_CHAT, updates)
        started = time.monotonic()
        for i in range(updates):
            text = variant.text.format(n=i + 1)
            telegram.push_message(text, chat_id=FIRST_CHAT + i)
        await replies.wait()
        assert runner.process is not None
        peak = memory_mb("VmHWM", runner.process.pid)
        rate = updates / (replies.last - started)
        await submitted(yandex, updates if variant.submits else 0, variant.name)
    finally:
        await runner.stop(30)
        await telegram.stop()
        await yandex.stop()
    return rate, peak


async def submitted(yandex: FakeYandex, expected: int, name: str) -> None:
    """The round did the work it stands for: one generation per update where it submits
    (the floor's and /art's, all to be drawn), none elsewhere; SystemExit if not."""
    with contextlib.suppress(TimeoutError):
        await eventually(lambda: yandex.generations >= expected, within=10)
    if yandex.generations != expected:
        raise SystemExit(f"{name}: {yandex.generations} generations, {expected} expected")


class Replies:
    """Counts replies to the pushed messages as they come, without rescanning every call."""

    def __init__(self, telegram: FakeTelegram, first_chat: int, count: int) -> None:
        self.telegram = telegram
        self.chats = range(first_chat, first_chat + count)
        self.count = count
        self.seen: set[int] = set()
        self.scanned = 0
        self.last = 0.0

    async def wait(self, stalled: float = 10.0) -> None:
        """Until every message is answered; SystemExit if no reply comes for `stalled` s."""
        progress, since = 0, time.monotonic()
        while not self.done():
            await asyncio.sleep(0.02)
            if len(self.seen) != progress:
                progress, since = len(self.seen), time.monotonic()
            elif time.monotonic() - since > stalled:
                raise SystemExit(f"no reply for {stalled:g} s after {progress} of {self.count}")

    def done(self) -> bool:
        calls = self.telegram.calls
        for call in calls[self.scanned :]:
            if call.method == "sendMessage" and call.result is not None:
                chat = int(call.params["chat_id"])
                if chat in self.chats and chat not in self.seen:
                    self.seen.add(chat)
                    self.last = call.at
        self.scanned = len(calls)
        return len(self.seen) >= self.count


async def run(updates: int, rounds: int) -> None:
    header("update throughput", updates=updates, rounds=rounds, getUpdates_batch=100)
    turns = VARIANTS
    results = {v.name: Result() for v in turns}
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as workdir:
        n = 0
        for _ in range(rounds):
            for variant in turns:
                rate, peak = await round_of(variant, updates, Path(workdir), n)
                results[variant.name].rates.append(rate)
                results[variant.name].peak_rss.append(peak)
                n += 1
                print(f"   {variant.name}: {rate:.0f} updates/s", flush=True)
    rows = []
    for variant in turns:
        result = results[variant.name]
        best = max(result.rates)
        echo = max(results[BASELINE[variant.fast]].rates)
        floor = max(results[FLOOR_ROW[variant.fast]].rates)
        over_floor = f"{best / floor:.2f}" if variant.submits else ""
        rounds_text = ", ".join(f"{r:.0f}" for r in result.rates)
        peak = max(result.peak_rss)
        rows.append([variant.name, best, best / echo, over_floor, rounds_text, peak])
    headers = [
        "handler",
        "updates/s (best)",
        "÷ echo bot alike",
        "÷ echo + a submit",
        "each round",
        "peak RSS MB",
    ]
    print(table(headers, rows))
    for fast in (False, True):
        echo = max(results[BASELINE[fast]].rates)
        both = " (both on uvloop + orjson)" if fast else ""
        for command, target in TARGETS.items():
            name = f"bot: {command}" + (", uvloop + orjson" if fast else "")
            ratio = max(results[name].rates) / echo
            verdict = "MET" if ratio >= target else "NOT MET"
            print(
                f"target {command} ≥ {target}× the echo bot alike{both}: {verdict} ({ratio:.2f}×)"
            )
        floor = max(results[FLOOR_ROW[fast]].rates)
        art = max(results["bot: /art" + (", uvloop + orjson" if fast else "")].rates)
        print(
            f"the floor{both}: the echo bot alike + a submit runs at {floor / echo:.2f}× the echo"
            f" bot alike; /art at {art / floor:.2f}× that floor (what any /art has to pay)"
        )
    plain = max(results["bot: /art"].rates)
    print(
        f"uvloop + orjson for /art: {max(results['bot: /art, uvloop + orjson'].rates) / plain:.2f}×"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=2000, help="messages per round")
    parser.add_argument("--rounds", type=int, default=2, help="turns of every variant")
    args = parser.parse_args()
    asyncio.run(run(args.updates, args.rounds))


if __name__ == "__main__":
    main()
