"""`python -m bot` as a child process, the way an operator (or a crash) sees it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bot_env(values: dict[str, str]) -> dict[str, str]:
    """A clean environment: none of the developer's own settings leak in."""
    return {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **values}


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
