"""A job's pictures by index: an album's variants, or a single picture as an album of one.

The tracker's steps (submit, poll, end) read and write this one shape, so each is written
once. Where they are stored does not change: an album's in its `variant_*` fields, a single
picture in `operation_id` and `cached_file_id`, so jobs stored by earlier versions read the
same after an upgrade.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bot.core.errors import ErrorKind
from bot.core.jobs import VARIANT_OK, Job, variant_idempotency_key


@dataclass(frozen=True, slots=True)
class Pictures:
    # Each picture's Yandex operation: "" before its submit, or from a synchronous model.
    ops: tuple[str, ...]
    # How each ended: "" while running, VARIANT_OK, or the ErrorKind that ended it.
    results: tuple[str, ...]
    # A cached Telegram file to send instead of asking Yandex, or "".
    files: tuple[str, ...]

    @classmethod
    def of(cls, job: Job) -> Pictures:
        if job.is_album:
            return cls(job.variant_ops, job.variant_results, job.variant_files)
        # A single picture's other endings end its job at once, so only these last a step:
        # Telegram has it (a cache hit), or it is kept for a delivery put off.
        drawn = job.cached_file_id is not None or job.kept
        return cls(
            (job.operation_id or "",),
            (VARIANT_OK if drawn else "",),
            (job.cached_file_id or "",),
        )

    def into(self, job: Job) -> Job:
        """`job` carrying these pictures (a single picture's result needs no field: see `of`)."""
        return job.but(**self.fields(job))

    def fields(self, job: Job) -> dict[str, object]:
        """The job's fields that carry these pictures, to change with others in one copy."""
        if job.is_album:
            return {"variant_ops": self.ops, "variant_results": self.results}
        return {"operation_id": self.ops[0] or None}

    def but(self, **changes: tuple[str, ...]) -> Pictures:
        return dataclasses.replace(self, **changes)

    @property
    def ended(self) -> int:
        return sum(map(bool, self.results))

    @property
    def all_ended(self) -> bool:
        return all(self.results)

    @property
    def only_files(self) -> bool:
        """Every picture has ended, those drawn as Telegram files: nothing to hold in memory."""
        return all(
            r and (r != VARIANT_OK or f) for r, f in zip(self.results, self.files, strict=True)
        )

    @property
    def running(self) -> list[str]:
        """The operations still running, to cancel."""
        return [op for op, r in zip(self.ops, self.results, strict=True) if op and not r]

    def first_failure(self) -> ErrorKind:
        return ErrorKind(next(r for r in self.results if r != VARIANT_OK))


def idempotency_key(job: Job, index: int) -> str:
    """The submit's key: a single picture keeps its job's own, as earlier versions sent it."""
    if not job.is_album:
        return job.idempotency_key
    return variant_idempotency_key(job.idempotency_key, index)
