"""Pictures drawn whose delivery Telegram put off, kept in the store until it is tried
again: a picture once drawn is never drawn again (an Images API call is billed), and a
kept one is not fetched again from its operation either."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from bot.core.errors import StoreUnavailable
from bot.core.jobs import VARIANT_OK, Job
from bot.core.pictures import Pictures
from bot.storage.base import JobStore


@dataclass(frozen=True, slots=True, kw_only=True)
class KeptPictures:
    store: JobStore
    clock: Callable[[], float]

    async def keep(self, job: Job, images: dict[int, bytes]) -> bool:
        """Whether any of `images` was kept (each is refused over the size cap), until the
        job's `keep_until` at the latest."""
        ttl = max(job.keep_until - self.clock(), 1.0)
        kept = [await self.store.keep_picture(job.id, i, image, ttl) for i, image in images.items()]
        return any(kept)

    async def of(self, job: Job) -> dict[int, bytes]:
        """The job's kept pictures by index; those lost (the store's) are missing."""
        pictures = Pictures.of(job)
        images = {}
        for i, result in enumerate(pictures.results):
            if result == VARIANT_OK and not pictures.files[i]:
                image = await self.store.kept_picture(job.id, i)
                if image is not None:
                    images[i] = image
        return images

    async def drop(self, job: Job) -> None:
        """Once the job has ended; if the store is down they expire at `keep_until` anyway."""
        if job.kept:
            with suppress(StoreUnavailable):
                await self.store.drop_pictures(job.id, range(max(job.request.variants, 1)))
