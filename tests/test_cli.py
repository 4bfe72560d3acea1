"""The command line as an operator meets it: `--help`, `--version`, the console script, and
every missing setting named at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.bot_process import bot_env

SCRIPT = Path(sys.executable).parent / "yandexart-bot"


def _run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=bot_env(env or {}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["-h"], ["run", "--help"], ["check", "--help"], ["health", "-h"]],
)
def test_help_goes_to_stdout_and_exits_0(tmp_path: Path, argv: list[str]) -> None:
    done = _run(sys.executable, "-m", "bot", *argv, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("usage: python -m bot")
    assert "a .env file in the current directory" in done.stdout
    if argv in (["--help"], ["-h"]):
        assert "  python -m bot check    one ✓/✗ line each" in done.stdout
    if len(argv) == 1:
        for command in ("run", "check", "health", "demo", "payments"):
            assert f"\n    {command} " in done.stdout, command


def test_version(tmp_path: Path) -> None:
    done = _run(sys.executable, "-m", "bot", "--version", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.strip() == "python -m bot 0.1.0"


def test_the_console_script_has_the_same_commands(tmp_path: Path) -> None:
    assert SCRIPT.is_file(), "pip install -e . installs the console script"
    done = _run(str(SCRIPT), "--help", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.startswith("usage: yandexart-bot [-h] [--version] COMMAND ...")
    done = _run(str(SCRIPT), "chek", cwd=tmp_path)
    assert done.returncode == 2
    assert (
        "invalid choice: 'chek' (choose from 'run', 'check', 'health', 'demo', 'payments')"
        in done.stderr
    )


def test_every_missing_setting_is_named_at_once(tmp_path: Path) -> None:
    done = _run(sys.executable, "-m", "bot", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"error: 3 settings to fix (read from the environment; no .env file in {tmp_path}):",
        "  BOT_TOKEN: missing; e.g. BOT_TOKEN=123456789:AAE-token-from-BotFather",
        "  YANDEX_FOLDER_ID: missing; e.g. YANDEX_FOLDER_ID=b1g-your-folder-id",
        "  YANDEX_API_KEY: set YANDEX_API_KEY, YANDEX_SA_KEY_FILE or YANDEX_IAM_TOKEN; "
        "e.g. YANDEX_API_KEY=AQVN-your-api-key",
    ]


def test_missing_and_invalid_settings_together_and_the_dotenv_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("YANDEX_FOLDER_ID=b1g\nPOLL_GROWTH=0.5\n")
    done = _run(sys.executable, "-m", "bot", "check", cwd=tmp_path, env={"LOG_LEVEL": "LOUD"})
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert (
        lines[0]
        == f"✗ settings: 4 settings to fix (read from the environment and {tmp_path / '.env'}):"
    )
    assert lines[1] == "  BOT_TOKEN: missing; e.g. BOT_TOKEN=123456789:AAE-token-from-BotFather"
    assert lines[2] == "  LOG_LEVEL: is not in the expected form; e.g. LOG_LEVEL=INFO"
    assert lines[3] == ("  POLL_GROWTH: must be at least 1; e.g. POLL_GROWTH=1.5")
    assert lines[4].startswith("  YANDEX_API_KEY: set YANDEX_API_KEY,")
    assert len(lines) == 5
