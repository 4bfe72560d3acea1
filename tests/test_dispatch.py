"""What every update pays for in aiogram's dispatch, checked on the routers themselves."""

from __future__ import annotations

import handlers


def test_no_filter_or_handler_runs_in_a_worker_thread() -> None:
    """aiogram runs a plain (non-async) filter or handler, `F` expressions included, through
    `asyncio.to_thread` each time it is checked: a thread hop for every update that reaches
    it. Every filter and handler of ours is awaited on the event loop instead."""
    checked = 0
    for router in handlers.routers():
        for name, observer in router.observers.items():
            for handler in observer.handlers:
                where = f"{router.name}.{name}: {handler.callback.__name__}"
                assert handler.awaitable, where
                for event_filter in handler.filters or []:
                    assert event_filter.awaitable, f"{where}, filter {event_filter.callback!r}"
                    checked += 1
            for event_filter in observer._handler.filters or []:
                assert event_filter.awaitable, f"{router.name}.{name}: router filter"
                checked += 1
    assert checked > 20  # the routers' filters were all looked at
