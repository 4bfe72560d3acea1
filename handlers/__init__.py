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
    return [
        info.create_router(),
        payments.create_router(),
        art.create_router(),
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
