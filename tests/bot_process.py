"""`python -m bot` as a child process, the way an operator (or a crash) sees it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bot.emulators.telegram import BOT_TOKEN as BOT_TOKEN

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "test-api-key"
FOLDER = "b1gfolder"


def bot_env(values: dict[str, str]) -> dict[str, str]:
    """A clean environment: none of the developer's own settings leak in."""
    return {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **values}


def fast_settings(
    telegram_url: str, yandex_url: str, redis_url: str, **overrides: str
) -> dict[str, str]:
    """Settings for a bot process against the fakes: fast polls and short leases, and the
    fair-use limits lifted (they are tested on their own)."""
    return {
        "BOT_TOKEN": BOT_TOKEN,
        "YANDEX_FOLDER_ID": FOLDER,
        "YANDEX_API_KEY": API_KEY,
        "TELEGRAM_API_URL": telegram_url,
        "YANDEX_API_URL": yandex_url,
        "REDIS_URL": redis_url,
        "POLL_FIRST_DELAY": "0.05",
        "POLL_MAX_INTERVAL": "0.2",
        "POLL_MIN_GAP": "0.05",
        "POLL_PRIOR_MEDIAN": "0.2",
        "MAX_CONCURRENT_PER_USER": "1000",
        "SUBMIT_RATE_PER_MINUTE": "600000",
        "MODELS": "yandexart",
        "DEFAULT_MODEL": "yandexart",
        "ART_MODEL_URI": "art://{folder}/yandex-art/latest",
        # Private chats answer with the status message, as in tests/conftest.py.
        "LIVE_PROGRESS": "false",
        **overrides,
    }


class BotProcess:
    """Its log goes to a file, so a chatty bot never blocks on a full pipe."""

    def __init__(self, env: dict[str, str], workdir: Path, name: str = "bot") -> None:
        self.env = bot_env(env)
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=log,
            )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """kill -9: no shutdown hook runs."""
        assert self.process is not None
        self.process.kill()

    async def wait(self, timeout: float = 30) -> int:
        """Wait for the process to exit by itself; returns the exit code."""
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), timeout)
