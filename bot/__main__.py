"""`python -m bot [run|check|health|demo]`: load settings, then serve until SIGINT/SIGTERM (run,
the default), check every dependency once (check), ask a running bot's /healthz (health),
or try the bot with no keys against local emulators and a chat page (demo)."""

from __future__ import annotations

import asyncio
import sys

from bot.ops.logs import setup_logging
from bot.ops.settings import SettingsError, StartupError, load_settings

COMMANDS = ("run", "check", "health", "demo")
USAGE = "usage: python -m bot [run|check|health|demo]"


def main(argv: list[str] | None = None) -> int:
    # Each command imports only what it needs: `health` runs every 30 s in the container.
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "run"
    if command == "payments":  # reconcile the credit ledger with Telegram (docs/payments.md)
        from bot.ops.payments_cli import main as payments

        return payments(args[1:])
    if command not in COMMANDS or len(args) > 1:
        print(USAGE, file=sys.stderr)
        return 2
    if command == "check":
        return check()
    if command == "demo":
        return demo()
    try:
        settings = load_settings()
        if command == "health":
            from bot.ops.healthcheck import probe

            return probe(settings)
        setup_logging(settings.log_level, settings.secrets())
        from bot.ops.server import run

        asyncio.run(run(settings))
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def check() -> int:
    """The preflight: exit 0 only when every part is fine."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"✗ settings: {exc}")
        return 1
    # Only errors are logged: the lines say the rest.
    setup_logging("ERROR", settings.secrets())
    from bot.ops.preflight import run_check

    return run_check(settings)


def demo() -> int:
    """No settings at all: the bot against local emulators, and a chat page (bot/demo)."""
    import os

    from bot.demo.options import options_from_env

    try:
        options = options_from_env(os.environ)
        setup_logging("INFO", [])
        from bot.demo.runner import run_demo

        asyncio.run(run_demo(options))
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass  # Ctrl-C before the bot took the signal over: whatever had started is stopped
    return 0


if __name__ == "__main__":
    sys.exit(main())
