"""The package as an operator installs it: a wheel built from the sources, installed into a
fresh venv, run from an empty directory (no checkout, no PYTHONPATH) against the fakes.

The venv holds the wheel and exactly the dependencies it declares, linked from the test
venv's locked copies rather than downloaded and unpacked again (that took most of the test's
time): a dependency the package uses but does not declare is still missing there."""

from __future__ import annotations

import asyncio
import email
import importlib.metadata
import os
import shutil
import signal
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

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


def _requires(lines: list[str], extras: frozenset[str]) -> list[Requirement]:
    """The requirements (Requires-Dist lines) that apply here, with these extras asked for."""
    found = []
    for line in lines:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": e}) for e in extras | {""}):
            found.append(requirement)
    return found


def _link_dependencies(wheel: Path, site: Path) -> int:
    """Link what the wheel declares, and what that declares in turn, from this venv's installed
    copies (the locked versions) into `site`: the new venv holds exactly the declared
    dependencies, nothing else of this venv, with no download and no unpacking. Returns
    how many distributions were linked."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(archive.read(name))
    queue = _requires(metadata.get_all("Requires-Dist") or [], frozenset())
    seen: set[tuple[str, frozenset[str]]] = set()
    linked: set[str] = set()
    while queue:
        requirement = queue.pop()
        dist = importlib.metadata.distribution(requirement.name)
        key, extras = dist.metadata["Name"].lower(), frozenset(requirement.extras)
        if (key, extras) in seen:
            continue
        seen.add((key, extras))
        queue += _requires(dist.requires or [], extras)
        if key in linked:
            continue
        linked.add(key)
        for file in dist.files or []:
            if file.parts[0] == "..":  # a script in bin/: the package's own is what counts
                continue
            target = site / file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(Path(str(dist.locate_file(file))).resolve())
    return len(linked)


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
    # This venv's pip installs into the new one: no pip of its own to set up.
    await _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    (site,) = venv.glob("lib/python*/site-packages")
    assert _link_dependencies(wheel, site) >= 10
    # --no-index: were a declared dependency missing, pip would fail here, not download it.
    pip = (sys.executable, "-m", "pip", "--python", python)
    await _run(*pip, "install", "-q", "--no-index", "--find-links", dist, wheel, cwd=tmp_path)
    await _run(*pip, "check", cwd=tmp_path)
    shutil.rmtree(src)  # nothing of the checkout is left to lean on
    return python


@pytest.mark.long
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
