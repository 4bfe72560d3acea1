"""aiogram routers, one per feature; each handler parses, calls a service and answers.

Routers are built per Dispatcher (a Router can belong to one parent only), so several
dispatchers, e.g. in tests, can live in one process.
"""

from aiogram import Router

from handlers import (
    art,
    buttons,
    guest,
    history,
    info,
    inline,
    last_resort,
    payments,
    progress,
    settings,
    stats,
    styles,
    voice,
)


def routers() -> list[Router]:
    """In the order aiogram tries them: every router before the one that takes an update
    checks its filters on it, so the most frequent updates come first (/help and /start,
    then /art and text prompts; art's text prompts take no command, nor a payment)."""
    return [
        info.create_router(),
        art.create_router(),
        payments.create_router(),
        buttons.create_router(),
        inline.create_router(),
        settings.create_router(),
        stats.create_router(),
        styles.create_router(),
        history.create_router(),
        voice.create_router(),
        progress.create_router(),
        guest.create_router(),
        last_resort.create_router(),
    ]
