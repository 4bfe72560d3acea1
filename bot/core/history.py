"""A user's past requests for /history: what is needed to repeat each exactly.

Stored as JSON by the store; the entry id is the request's job id, short enough for
callback data.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass

from bot.core.jobs import Job, request_from_dict, request_to_dict
from bot.core.prompt import ArtRequest

log = logging.getLogger(__name__)

HISTORY_SHOWN = 10


@dataclass(frozen=True)
class HistoryEntry:
    id: str
    at: float  # when it was asked for, wall-clock seconds
    request: ArtRequest  # with the seed that was drawn, so a repeat is the same picture


def entry_of(job: Job) -> HistoryEntry:
    return HistoryEntry(job.id, job.created_at, dataclasses.replace(job.request, seed=job.seed))


def dump_entry(entry: HistoryEntry) -> str:
    data = {"id": entry.id, "at": entry.at, "request": request_to_dict(entry.request)}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def parse_entry(raw: str) -> HistoryEntry | None:
    """None for an entry that does not read (written by another version): it is skipped."""
    try:
        data = json.loads(raw)
        return HistoryEntry(str(data["id"]), float(data["at"]), request_from_dict(data["request"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("unreadable history entry, skipped")
        return None
