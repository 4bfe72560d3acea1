"""What `/art` does once the text is parsed: turn a request into a tracked job."""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable

from bot.jobs import Job
from bot.prompt import ArtRequest, Limits, parse_art_args
from bot.tracker import Tracker

# Seeds the bot picks are short enough to retype, yet give 4 billion pictures per prompt.
PICKED_SEED_MAX = 2**32 - 1


class ArtService:
    def __init__(
        self,
        *,
        tracker: Tracker,
        limits: Limits,
        deadline: float,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._tracker = tracker
        self.limits = limits
        self._deadline = deadline
        self._clock = clock
        self._rng = rng or random.SystemRandom()

    def parse(self, args: str | None) -> ArtRequest:
        return parse_art_args(args, self.limits)

    def new_job(
        self,
        request: ArtRequest,
        *,
        chat_id: int,
        user_id: int,
        locale: str,
        reply_to_message_id: int | None,
    ) -> Job:
        """A job ready to show to the user; the seed is fixed now so the status can name it."""
        now = self._clock()
        return Job(
            id=secrets.token_urlsafe(9),
            chat_id=chat_id,
            user_id=user_id,
            locale=locale,
            request=request,
            seed=self._rng.randint(1, PICKED_SEED_MAX) if request.seed is None else request.seed,
            idempotency_key=secrets.token_hex(16),
            created_at=now,
            deadline_at=now + self._deadline,
            next_poll_at=now,
            reply_to_message_id=reply_to_message_id,
        )

    async def start(self, job: Job, status_message_id: int) -> None:
        await self._tracker.enqueue(job.but(status_message_id=status_message_id))
