"""What the benchmarks share: the bot as a process against the fakes, sampled durations,
percentiles, an event-loop lag sampler, memory readings and plain-text tables.

Every benchmark runs the real bot (`python -m bot`, configured only through environment
settings) against `bot/emulators/telegram.py` and `bot/emulators/yandexart.py` on 127.0.0.1, so the
figures include HTTP, JSON and the scheduler, not a mock of them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from bot.emulators.telegram import FakeTelegram
from bot.emulators.yandexart import FakeYandex
from bot.ops.settings import Settings
from tests.bot_process import API_KEY, BOT_TOKEN, FOLDER, BotProcess

ROOT = Path(__file__).resolve().parent.parent

# Generation time of YandexART as the benchmarks model it: log-normal, median 20 s, with a
# tail to minutes (sigma 0.75 puts p95 near 70 s and p99 near 115 s), capped at 5 minutes.
MEDIAN_SECONDS = 20.0
SIGMA = 0.75
CAP_SECONDS = 300.0


def lognormal_durations(
    n: int,
    rng: random.Random,
    *,
    median: float = MEDIAN_SECONDS,
    sigma: float = SIGMA,
    cap: float = CAP_SECONDS,
) -> list[float]:
    """`n` generation times in seconds (model time, before any time scaling)."""
    return [min(cap, rng.lognormvariate(math.log(median), sigma)) for _ in range(n)]


def default(name: str) -> float:
    """A setting's default value: the benchmarks follow the bot's own defaults."""
    value = Settings.model_fields[name].default
    assert isinstance(value, int | float), name
    return float(value)


# Settings that are durations (scaled by the time factor) and rates (divided by it).
SCALED_DURATIONS = (
    "poll_first_delay",
    "poll_max_interval",
    "poll_target_lag",
    "poll_min_gap",
    "poll_prior_median",
    "generation_deadline",
    "submit_patience",
)
SCALED_RATES = (
    "poll_rate_limit",
    "submit_rate_per_minute",
    "completion_rate_per_minute",
    "messages_per_second",
    "chat_messages_per_second",
    "group_messages_per_minute",
)


def scaled_settings(scale: float, **overrides: float) -> dict[str, float]:
    """The bot's time settings on a clock running 1/`scale` times faster: durations times
    `scale`, rates divided by it; `overrides` (model values) replace the defaults."""
    values: dict[str, float] = {}
    for name in (*SCALED_DURATIONS, *SCALED_RATES):
        if name in Settings.model_fields:
            model = overrides.get(name, default(name))
            values[name] = model * scale if name in SCALED_DURATIONS else model / scale
    return values


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linearly interpolated; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def sliding_max(times: Iterable[float], window: float) -> int:
    """The most events in any half-open window [t, t + window)."""
    ordered = sorted(times)
    best = start = 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain-text table, right-aligned numbers, for the console and docs/PERFORMANCE.md."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append(
            "| "
            + " | ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
            + " |"
        )
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return (
            f"{value:.3g}"
            if abs(value) < 10
            else f"{value:,.0f}"
            if abs(value) >= 1000
            else f"{value:.1f}"
        )
    return str(value)


def machine() -> str:
    """Where the figures come from: date, CPUs, CPU model, Python."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{today}; {os.cpu_count()} CPUs ({model}); "
        f"Python {platform.python_version()}; {platform.system()} {platform.release()}"
    )


def header(title: str, **params: object) -> None:
    print(f"== {title}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"   {machine()}; load average {load}")
    if params:
        print("   " + ", ".join(f"{k}={v}" for k, v in params.items()))
    sys.stdout.flush()


def bot_env(telegram: FakeTelegram, yandex: FakeYandex, **settings: object) -> dict[str, str]:
    """Environment for `python -m bot` against the fakes; `settings` by field name."""
    env = {
        "BOT_TOKEN": BOT_TOKEN,
        "YANDEX_FOLDER_ID": FOLDER,
        "YANDEX_API_KEY": API_KEY,
        "TELEGRAM_API_URL": telegram.url,
        "YANDEX_API_URL": yandex.url,
        "LOG_LEVEL": "WARNING",
        # YandexART alone, the model these benchmarks measure (the defaults offer both).
        "MODELS": "yandexart",
        "DEFAULT_MODEL": "yandexart",
        # The status-message path, comparable with the earlier runs in docs/PERFORMANCE.md;
        # pass live_progress=True to measure private chats with live drafts.
        "LIVE_PROGRESS": "false",
    }
    env.update({name.upper(): _env_value(value) for name, value in settings.items()})
    return env


def _env_value(value: object) -> str:
    return repr(value) if isinstance(value, float) else str(value)


async def start_bot(
    env: dict[str, str], workdir: Path, name: str, telegram: FakeTelegram
) -> BotProcess:
    """A bot process, returned once it registered its commands and polls for updates."""
    process = BotProcess(env, workdir, name)
    await process.start()
    try:
        await telegram.wait_for("setMyCommands", 2, timeout=60)
        await eventually(lambda: telegram.get_updates_calls > 0, within=30)
    except (AssertionError, TimeoutError):
        print(process.log, file=sys.stderr)
        raise
    return process


async def stop_bot(process: BotProcess, grace: float = 30) -> None:
    """SIGTERM, and kill -9 if the graceful stop takes longer than `grace` seconds."""
    try:
        await process.stop(grace)
    except TimeoutError:
        process.kill()
        await process.wait()


async def eventually(check: Callable[[], bool], within: float, interval: float = 0.05) -> None:
    """Wait until `check()` holds; TimeoutError after `within` seconds."""
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 - the fakes' state has no event to wait on
            await asyncio.sleep(interval)


class LoopLag:
    """How late the event loop wakes a sleeper: the delay every other task also sees.

    A task sleeps `interval` again and again and records how much longer each sleep took,
    with the monotonic time it ended (shared by the processes of one machine)."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def lags(self, start: float = -math.inf, end: float = math.inf) -> list[float]:
        return [lag for t, lag in self.samples if start <= t < end]

    async def _run(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.interval)
            now = time.monotonic()
            self.samples.append((now, max(0.0, now - before - self.interval)))


def memory_mb(field: str = "VmHWM", pid: int | str = "self") -> float:
    """A memory figure of a process from /proc (VmHWM: peak resident set; VmRSS: now), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise ValueError(field)
