"""The demo's two options, read before anything heavy is imported (a typo fails at once)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.ops.settings import SettingsError

_SOURCE = "read from the environment only"
DEFAULT_PORT = 8008
# Generation times are the real ones scaled by this; 0.2 makes YandexART's median of about
# 20 s into 4 s, long enough to watch the status message.
DEFAULT_TIME_SCALE = 0.2


@dataclass(frozen=True)
class DemoOptions:
    port: int = DEFAULT_PORT
    time_scale: float = DEFAULT_TIME_SCALE


def options_from_env(env: Mapping[str, str]) -> DemoOptions:
    """DEMO_PORT (0: any free port) and DEMO_TIME_SCALE, from the environment only; a bad
    value is one line naming it."""
    port = env.get("DEMO_PORT", "") or str(DEFAULT_PORT)
    scale = env.get("DEMO_TIME_SCALE", "") or str(DEFAULT_TIME_SCALE)
    if not port.isdigit() or int(port) > 65535:
        raise SettingsError([("DEMO_PORT", "must be a port number, 0-65535")], _SOURCE)
    try:
        time_scale = float(scale)
    except ValueError:
        time_scale = -1.0
    if not 0 < time_scale <= 10:
        raise SettingsError([("DEMO_TIME_SCALE", "must be a number in (0, 10]")], _SOURCE)
    return DemoOptions(int(port), time_scale)
