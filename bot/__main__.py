"""The operator's command line: `yandexart-bot` (the console script) or `python -m bot`.

`run` (the default) serves until SIGINT/SIGTERM, `check` tries every dependency once,
`health` asks a running bot's /healthz, `demo` runs the bot with no keys against local
emulators and a chat page, `payments` reconciles the credit ledger with Telegram. Each
command imports only what it needs: `health` runs every 30 s in the container.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from bot.ops.logs import setup_logging
from bot.ops.settings import SettingsError, StartupError, load_settings

DISTRIBUTION = "yandexart-bot"
SETTINGS_HELP = """\
settings:
  Read from environment variables and from a .env file in the current directory
  (a variable set in the environment wins). Required: BOT_TOKEN, YANDEX_FOLDER_ID and one
  of YANDEX_API_KEY, YANDEX_SA_KEY_FILE, YANDEX_IAM_TOKEN. Every setting, with its
  default: .env.example and docs/settings.md."""
FIRST_RUN = (
    ("cp .env.example .env", "then fill in the required settings"),
    ("{prog} check", "one ✓/✗ line each: settings, Telegram, Yandex, Redis"),
    ("{prog}", "serve (the same as `{prog} run`)"),
)


@dataclass(frozen=True)
class Command:
    help: str
    description: str
    run: Callable[[argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] | None = None


def run(_args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
        setup_logging(settings.log_level, settings.secrets())
        from bot.ops.server import run as serve

        asyncio.run(serve(settings))
    except SettingsError as exc:
        print(f"error: {exc.report()}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def check(args: argparse.Namespace) -> int:
    """The preflight: exit 0 only when every part is fine."""
    try:
        settings = load_settings()
        # Only errors are logged: the lines say the rest.
        setup_logging("ERROR", settings.secrets())
    except SettingsError as exc:
        print(f"✗ settings: {exc.report()}")
        return 1
    except StartupError as exc:
        print(f"✗ settings: {exc}")
        return 1
    from bot.ops.preflight import run_check

    return run_check(settings, draw=args.draw)


def health(_args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"✗ health: {exc.report()}")
        return 1
    from bot.ops.healthcheck import probe

    return probe(settings)


def demo(_args: argparse.Namespace) -> int:
    """No settings at all: the bot against local emulators, and a chat page (bot/demo)."""
    import os

    from bot.demo.options import options_from_env

    try:
        options = options_from_env(os.environ)
        setup_logging("INFO", {})
        from bot.demo.runner import run_demo

        asyncio.run(run_demo(options))
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass  # Ctrl-C before the bot took the signal over: whatever had started is stopped
    return 0


def payments(args: argparse.Namespace) -> int:
    from bot.ops.payments_cli import main as reconcile

    return reconcile(["--since", args.since])


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--draw",
        action="store_true",
        help="also draw one small picture with each model in MODELS (billed), timing each",
    )


def _payments_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since", required=True, metavar="YYYY-MM-DD", help="compare payments from this UTC day on"
    )


COMMANDS = {
    "run": Command(
        "serve Telegram until SIGINT or SIGTERM (the default command)",
        "Check the settings, wait for Telegram to accept BOT_TOKEN, then serve: long "
        "polling, or a webhook when WEBHOOK_URL is set. Exits 0 on SIGINT/SIGTERM after "
        "finishing what it can, 2 when it cannot start (one line says why).",
        run,
    ),
    "check": Command(
        "try the settings, Telegram, Yandex and Redis once; one line each",
        "The preflight to run first: one line per dependency, ✓ or ✗ with the host and "
        "the cause. Nothing is generated or billed and nothing changes at Telegram. "
        "Exits 0 when every line is ✓, 1 otherwise. With --draw, also draws one small "
        "picture with each model (billed by Yandex) and prints the time each took.",
        check,
        _check_arguments,
    ),
    "health": Command(
        "ask the running bot's /healthz (the container's health check)",
        "GET /healthz of the bot running on this machine (HEALTH_PORT, or WEBHOOK_PORT in "
        "webhook mode). Exits 0 when it answers 200, 1 otherwise.",
        health,
    ),
    "demo": Command(
        "try the bot with no keys: local emulators and a chat page in the browser",
        "Start the bot against local emulators of Telegram and Yandex (pictures drawn "
        "locally, nothing sent anywhere) and serve a chat page, http://127.0.0.1:8008 by "
        "default (the address is printed). "
        "Needs no settings; DEMO_PORT (0: any free port) and DEMO_TIME_SCALE (generation "
        "times scaled, default 0.2) from the environment. See docs/demo.md.",
        demo,
    ),
    "payments": Command(
        "reconcile the credit ledger with Telegram's Stars transactions",
        "Compare the credit ledger in Redis with Telegram's list of Stars transactions "
        "(getStarTransactions) since a day, and print every difference. Needs REDIS_URL. "
        "Exits 0 when both agree, 1 when they differ, 2 when the check cannot run. See "
        "docs/payments.md.",
        payments,
        _payments_arguments,
    ),
}


def _version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown (not installed)"


def _prog() -> str:
    return "python -m bot" if Path(sys.argv[0]).name == "__main__.py" else DISTRIBUTION


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    prog = prog or _prog()
    steps = [(step.format(prog=prog), why.format(prog=prog)) for step, why in FIRST_RUN]
    width = max(len(step) for step, _ in steps) + 3
    first_run = "first run:\n" + "\n".join(f"  {step:<{width}}{why}" for step, why in steps)
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Telegram bot that draws pictures with YandexART.",
        epilog=f"{first_run}\n\n{SETTINGS_HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    for name, command in COMMANDS.items():
        sub = commands.add_parser(
            name,
            help=command.help,
            description=textwrap.fill(command.description, 79),
            epilog=SETTINGS_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if command.arguments is not None:
            command.arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else 2
    return COMMANDS[args.command or "run"].run(args)


if __name__ == "__main__":
    sys.exit(main())
