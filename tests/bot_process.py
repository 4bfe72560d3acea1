"""`python -m bot` as a child process, the way an operator (or a crash) sees it.

Every process-level test pays the same start-up before it can begin: importing aiogram builds
its pydantic models, 2-3 s of CPU per process, most of the suite's CPU when each test
started its own interpreter. So a bot process is forked from a zygote, one interpreter per
test worker that has done those imports once (`Zygote`). The fork then runs the bot's own
`main()` with its own environment, working directory, arguments and log file, in a process
of its own that a signal stops or kills like any other; the tests that check the
interpreter's own start (`test_main.py`, `test_cli.py`, `test_wheel.py`) still exec it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
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


# The zygote: imports what `python -m bot` imports, then forks one child per request line
# ({"env", "cwd", "log", "argv"}) and answers "started <pid>", later "exited <pid> <code>"
# (the code as asyncio gives it: negative for a signal). Children are killed when its stdin
# closes. The child resets what the zygote changed (SIGCHLD, the wakeup fd, the collector)
# and becomes `python -m bot <argv>`: environment, directory, stdin from /dev/null, stdout
# and stderr to its log file.
ZYGOTE = r"""
import gc, json, os, selectors, signal, sys, traceback
import bot.__main__, bot.ops.server, bot.ops.preflight

def child(request, selector, wake):
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    selector.close()
    for fd in wake:
        os.close(fd)
    gc.unfreeze()
    gc.enable()
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    null = os.open(os.devnull, os.O_RDONLY)
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    sys.argv = [bot.__main__.__file__, *request["argv"]]
    try:
        code = bot.__main__.main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

def serve():
    gc.collect()
    gc.disable()
    gc.freeze()
    wake = os.pipe()
    os.set_blocking(wake[1], False)
    signal.set_wakeup_fd(wake[1])
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    selector.register(wake[0], selectors.EVENT_READ)
    children = set()
    pending = b""
    out = sys.stdout
    while True:
        for key, _ in selector.select():
            if key.fd == wake[0]:
                os.read(wake[0], 4096)
                continue
            data = os.read(0, 65536)
            if not data:
                for pid in children:
                    os.kill(pid, signal.SIGKILL)
                return
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                pid = os.fork()
                if pid == 0:
                    child(json.loads(line), selector, wake)
                children.add(pid)
                out.write(f"started {pid}\n")
                out.flush()
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            children.discard(pid)
            out.write(f"exited {pid} {os.waitstatus_to_exitcode(status)}\n")
            out.flush()

serve()
"""


class Zygote:
    """One per test worker, started on first use; `close()` ends it and its children."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE],
            env=bot_env({}),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self._started: list[int] = []
        self.exits: dict[int, int] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            word, pid, *code = line.split()
            with self._changed:
                if word == b"started":
                    self._started.append(int(pid))
                else:
                    self.exits[int(pid)] = int(code[0])
                self._changed.notify_all()

    def fork(self, env: dict[str, str], cwd: Path, log: Path, argv: list[str]) -> int:
        """A new bot process; its pid. Blocks for the fork only (a few ms once the zygote is
        up, its imports the first time)."""
        request = {"env": env, "cwd": str(cwd), "log": str(log), "argv": argv}
        with self._lock:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
            with self._changed:
                # The first fork waits for the imports: tens of seconds on a loaded machine.
                if not self._changed.wait_for(lambda: self._started, timeout=120):
                    raise RuntimeError(f"the bot zygote did not fork (exit {self.process.poll()})")
                return self._started.pop(0)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)


_zygote: list[Zygote] = []


def zygote() -> Zygote:
    """This worker's zygote: tests/conftest.py starts it after collection when a collected
    test needs it, and ends it with the session; started here if it was not."""
    if not _zygote:
        _zygote.append(Zygote())
    return _zygote[0]


def close_zygote() -> None:
    while _zygote:
        _zygote.pop().close()


class BotProcess:
    """Its log goes to a file, so a chatty bot never blocks on a full pipe."""

    def __init__(
        self, env: dict[str, str], workdir: Path, name: str = "bot", argv: list[str] | None = None
    ) -> None:
        self.env = bot_env(env)
        self.workdir = workdir
        self.argv = argv or []
        self.log_path = workdir / f"{name}.log"
        self.pid: int | None = None

    async def start(self) -> None:
        self.log_path.touch()  # there to read at once, as the child opens it only later
        self.pid = await asyncio.to_thread(
            zygote().fork, self.env, self.workdir, self.log_path, self.argv
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def returncode(self) -> int | None:
        assert self.pid is not None
        return zygote().exits.get(self.pid)

    def _signal(self, number: signal.Signals) -> None:
        assert self.pid is not None
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # it ended just now
                os.kill(self.pid, number)

    def kill(self) -> None:
        """kill -9: no shutdown hook runs."""
        self._signal(signal.SIGKILL)

    async def wait(self, timeout: float = 30) -> int:
        """Wait for the process to exit by itself; returns the exit code."""
        deadline = time.monotonic() + timeout
        while (code := self.returncode) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"bot process {self.pid} still running after {timeout} s")
            await asyncio.sleep(0.01)
        return code

    async def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait; returns the exit code."""
        self._signal(signal.SIGTERM)
        return await self.wait(timeout)


async def run_command(
    argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 60
) -> tuple[int, list[str]]:
    """A command that ends by itself (`check`, `health`): its exit code and the lines it
    wrote, stdout and stderr together."""
    name = f"{argv[0] if argv else 'run'}-{time.monotonic_ns()}"
    process = BotProcess(env, cwd, name, argv)
    await process.start()
    try:
        code = await process.wait(timeout)
    finally:
        process.kill()
    return code, process.log.splitlines()
