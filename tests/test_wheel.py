"""The package as an operator installs it: a wheel built from the sources, installed into a
fresh venv, run from an empty directory (no checkout, no PYTHONPATH) against the fakes."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path

from bot.emulators.telegram import FakeTelegram
from bot.emulators.yandexart import FakeYandex
from tests.bot_process import API_KEY, BOT_TOKEN, FOLDER, ROOT

SOURCES = ("pyproject.toml", "README.md", "bot", "handlers", "locales")
STEP_TIMEOUT = 300


async def _run(*args: str | Path, cwd: Path) -> str:
    """A build step; its output is shown when it fails."""
    process = await asyncio.create_subprocess_exec(
        *map(str, args),
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), STEP_TIMEOUT)
    assert process.returncode == 0, out.decode(errors="replace")
    return out.decode()


async def _install_wheel(tmp_path: Path) -> Path:
    """Build the wheel from a copy of the sources (the checkout stays clean) into a new venv;
    returns the venv's python."""
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
        else:
            shutil.copy(path, src / name)
    dist = tmp_path / "dist"
    await _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, src, cwd=src)
    (wheel,) = dist.glob("*.whl")
    venv = tmp_path / "venv"
    await _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    await _run(python, "-m", "pip", "install", "-q", wheel, cwd=tmp_path)
    shutil.rmtree(src)  # nothing of the checkout is left to lean on
    return python


async def test_an_installed_wheel_runs_from_any_directory(
    tmp_path: Path, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    python = await _install_wheel(tmp_path)
    workdir = tmp_path / "empty"
    workdir.mkdir()
    where = await _run(python, "-c", "import bot, locales; print(locales.__file__)", cwd=workdir)
    assert str(tmp_path / "venv") in where
    env = {
        "PATH": os.environ["PATH"],
        "BOT_TOKEN": BOT_TOKEN,
        "YANDEX_FOLDER_ID": FOLDER,
        "YANDEX_API_KEY": API_KEY,
        "TELEGRAM_API_URL": telegram.url,
        "YANDEX_API_URL": yandex.url,
        "POLL_FIRST_DELAY": "0.05",
        # YandexART alone (the defaults also offer the Images API, which has no fake here).
        "MODELS": "yandexart",
        "DEFAULT_MODEL": "yandexart",
        # The status message, not issue 23's live draft: its text is checked below.
        "LIVE_PROGRESS": "false",
    }
    # The console script `pip install` put next to the venv's python (issue 25).
    version = await _run(python.parent / "yandexart-bot", "--version", cwd=workdir)
    assert version.strip() == "yandexart-bot 0.1.0"
    process = await asyncio.create_subprocess_exec(
        python.parent / "yandexart-bot",
        "run",
        cwd=workdir,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await telegram.wait_for("setMyCommands", 2, timeout=60)
        telegram.push_message("/art a lighthouse at dawn --seed 5", language_code="ru")
        photo = (await telegram.wait_for("sendPhoto", timeout=60))[0]
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert "Traceback" not in log
    assert photo.params["caption"].startswith("a lighthouse at dawn")
    # The Russian catalog came with the package: the status message was in Russian.
    status = telegram.sent("sendMessage")[0]
    assert status.params["text"].startswith("🎨 Рисую… seed 5"), status.params
