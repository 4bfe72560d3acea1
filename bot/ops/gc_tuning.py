"""Garbage collector settings for a long-running bot process (also used by the echo bot of
bench.throughput, to show what they are worth to bare aiogram)."""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
MIDDLE_THRESHOLD = 50


def tune_gc() -> None:
    """Garbage collection was a third of the CPU time under a burst of updates. Take what
    start-up built (modules, aiogram's pydantic models: most of the heap) out of the
    collector's reach, as it lives as long as the process. And collect less eagerly: the
    youngest objects every 10 000 allocations rather than 700, the middle generation every
    50 young collections rather than 10, so an update's objects mostly die before a
    collection walks them, instead of being walked again and again while it is in flight.
    A young collection then pauses the loop for a few ms at most."""
    gc.collect()
    gc.freeze()
    *_, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, old)
