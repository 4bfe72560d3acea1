"""`python -m bot`: load settings, set up logging, run until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import sys

from bot.ops.logs import setup_logging
from bot.ops.server import run
from bot.ops.settings import StartupError, load_settings


def main() -> int:
    try:
        settings = load_settings()
        setup_logging(settings.log_level, settings.secrets())
        asyncio.run(run(settings))
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
