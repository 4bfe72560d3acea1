"""Pictures already delivered, by request: the same prompt parts (a style's included),
weights, seed, ratio and model give the same picture, so Telegram's file_id can answer
without asking Yandex.

Keys are hashes, so the cache keeps no prompt text.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from bot.core.errors import StoreUnavailable
from bot.core.jobs import Job
from bot.core.pictures import Pictures
from bot.core.prompt import ArtRequest
from bot.storage.base import JobStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedPicture:
    file_id: str
    operation_id: str | None


def request_key(model_uri: str, request: ArtRequest, seed: int) -> str:
    parts = [[part.text, part.weight] for part in request.messages]
    canonical = json.dumps([model_uri, parts, seed, str(request.ratio)], ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class PictureCache:
    def __init__(self, store: JobStore, model_uris: Mapping[str, str], ttl: float) -> None:
        """`model_uris`: each model's URI by name; pictures of other models are not kept."""
        self._store = store
        self._model_uris = model_uris
        self._ttl = ttl

    async def lookup(self, request: ArtRequest, seed: int) -> CachedPicture | None:
        model_uri = self._model_uris.get(request.model)
        if model_uri is None:
            return None
        try:
            raw = await self._store.cache_get(request_key(model_uri, request, seed))
        except StoreUnavailable:
            return None
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return CachedPicture(file_id=data["file_id"], operation_id=data.get("operation_id"))
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("picture cache: a damaged entry, ignored")
            return None

    async def remember(self, job: Job, file_id: str, variant: int = 0) -> None:
        """One of the job's pictures (its only one, or a variant of an album)."""
        model_uri = self._model_uris.get(job.request.model)
        if model_uri is None:
            return
        operation_id = Pictures.of(job).ops[variant]
        seed = job.variant_seed(variant)
        value = json.dumps({"file_id": file_id, "operation_id": operation_id or None})
        try:
            await self._store.cache_put(
                request_key(model_uri, job.request, seed),
                value,
                self._ttl,
                owner=job.user_id,
            )
        except StoreUnavailable:
            log.info("job %s: store unavailable, picture not cached", job.id)
