"""Which image models can draw right now: a model Yandex refuses as a model (access
denied to it, gone, an invalid URI) or whose operations stall far past what it has ever
taken is set aside for `MODEL_RETRY_AFTER`, for every instance (in the store), and
requests go to the next model in MODELS that can honour them. Admins hear of it once,
until the model draws again."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from bot.core.errors import StoreUnavailable
from bot.core.models import Chosen, Needs, NoModel, choose_model, stall_threshold
from bot.core.prompt import ArtRequest
from bot.services.backends import Backends
from bot.services.metrics import Metrics
from bot.storage.base import JobStore

log = logging.getLogger(__name__)

# Tells the admins that a model was set aside: its name and Yandex's own text.
Notify = Callable[[str, str], Awaitable[None]]
# A model's stall threshold is learned again from its finish times this often (seconds).
STALL_REFRESH = 30.0


def needs_of(request: ArtRequest) -> Needs:
    weighted = len(request.parts) > 1 or any(p.weight != 1.0 for p in request.parts)
    return Needs(seed=request.seed is not None, weights=weighted, variants=request.variants > 1)


class ModelAvailability:
    def __init__(
        self,
        store: JobStore,
        backends: Backends,
        metrics: Metrics,
        notify: Notify,
        *,
        retry_after: float,
        stall_floor: float,
        duration_keys: Mapping[str, str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`duration_keys`: per model, the prefix of its learned durations' keys (its URI)."""
        self._store = store
        self._backends = backends
        self._metrics = metrics
        self._notify = notify
        self._retry_after = retry_after
        self._stall_floor = stall_floor
        self._duration_keys = duration_keys
        self._clock = clock
        # Models this instance last saw set aside: only these are cleared when they draw.
        self._aside: set[str] = set()
        # Stall thresholds by durations key: when loaded, and the threshold.
        self._thresholds: dict[str, tuple[float, float]] = {}
        for name in backends.capabilities:
            metrics.model_available.labels(model=name).set(1)

    async def set_aside(self) -> dict[str, bool]:
        """The models set aside (True while their cool-off runs); none when the store is
        unreachable (then every model is tried)."""
        try:
            aside = await self._store.models_set_aside(self._backends.capabilities, self._clock())
        except StoreUnavailable:
            return {}
        if set(aside) != self._aside:  # (the gauges change only with it: not per request)
            for name in self._backends.capabilities:
                self._metrics.model_available.labels(model=name).set(0 if name in aside else 1)
            self._aside = set(aside)
        return aside

    async def choose(self, request: ArtRequest) -> Chosen | NoModel:
        """Where the request goes: its model, or the next one in MODELS that is available
        and honours its flags (also when its model is no longer offered)."""
        aside = await self.set_aside()
        cooling = frozenset(name for name, cooling in aside.items() if cooling)
        return choose_model(
            request.model,
            tuple(self._backends.offered),
            self._backends.offered,
            cooling,
            needs_of(request),
        )

    async def reroute(self, request: ArtRequest) -> ArtRequest | NoModel:
        """The request as the chosen model draws it, naming the model it replaces."""
        chosen = await self.choose(request)
        if isinstance(chosen, NoModel):
            return chosen
        if chosen.instead_of is None:
            return request
        return dataclasses.replace(
            request,
            model=chosen.model,
            instead_of=request.instead_of or chosen.instead_of,
        )

    async def refused(self, model: str, message: str) -> None:
        """Yandex refused the model (or it stalls): set it aside; the first instance to do
        so since it last drew tells the admins."""
        self._metrics.model_available.labels(model=model).set(0)
        self._aside.add(model)
        try:
            first = await self._store.model_set_aside(model, self._clock(), self._retry_after)
        except StoreUnavailable:
            log.warning("model %s refused, but the store is unavailable to set it aside", model)
            return
        if first:
            log.warning("model %s set aside for %.0f s: %s", model, self._retry_after, message)
            await self._notify(model, message)

    async def answered(self, model: str) -> None:
        """The model drew: if it was set aside, it is back."""
        if model not in self._aside:
            return
        self._aside.discard(model)
        self._metrics.model_available.labels(model=model).set(1)
        try:
            await self._store.model_answered(model)
        except StoreUnavailable:
            log.debug("model %s is back, not recorded (store unavailable)", model)
            return
        log.warning("model %s answers again", model)

    async def stall_after(self, model: str, ratio: str, waited: float) -> float | None:
        """Seconds after its submit an operation of `model` counts as stalled (learned from
        the model's finish times at this ratio, never under the floor), once an operation
        has `waited` at least the floor; None before (no store read on every poll)."""
        if waited < self._stall_floor:
            return None
        key = self._duration_keys.get(model)
        if key is None:
            return self._stall_floor
        loaded_at, threshold = self._thresholds.get(f"{key}|{ratio}", (-STALL_REFRESH, 0.0))
        if self._clock() - loaded_at >= STALL_REFRESH:
            try:
                durations = await self._store.durations_get(f"{key}|{ratio}")
            except StoreUnavailable:
                durations = []
            threshold = stall_threshold(durations, floor=self._stall_floor)
            self._thresholds[f"{key}|{ratio}"] = (self._clock(), threshold)
        return threshold
