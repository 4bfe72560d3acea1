"""`python -m bot health`: the container's health check, asking the running bot's `/healthz`
(on OPS_PORT; else the webhook port in webhook mode, HEALTH_PORT in polling mode)."""

from __future__ import annotations

import urllib.error
import urllib.request

from bot.core.netcause import network_cause, where
from bot.ops.settings import Settings

TIMEOUT = 5.0
ANY_ADDRESS = {"0.0.0.0", "::", ""}  # noqa: S104 - compared with, not bound to


def health_url(settings: Settings) -> str | None:
    listener = settings.ops_listener
    if listener is None:
        return None
    port = listener[1]
    host = "127.0.0.1" if settings.webhook_host in ANY_ADDRESS else settings.webhook_host
    return f"http://{host}:{port}/healthz"


def probe(settings: Settings) -> int:
    """0 when the bot answers 200, 1 otherwise, with one line saying why."""
    url = health_url(settings)
    if url is None:
        print("✗ health: OPS_PORT and HEALTH_PORT are unset, the bot serves no /healthz")
        return 1
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:  # noqa: S310 - http to self
            print(f"✓ health: {response.read().decode(errors='replace')}")
            return 0
    except urllib.error.HTTPError as exc:
        print(f"✗ health: {exc.code} {exc.read().decode(errors='replace')}")
    except (urllib.error.URLError, OSError) as exc:
        print(f"✗ health: no answer from {where(url)}: {network_cause(exc)}")
    return 1
