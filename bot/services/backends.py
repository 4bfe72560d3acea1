"""The image models the bot knows: each name's backend, its submit budget and the line of
requests waiting for it, and which of them users may pick (the MODELS setting).

Every known model keeps its backend even when it is not offered, so jobs already accepted
for it still finish after the operator changes MODELS. The tracker and the services reach
a model only through this registry and the `ImageBackend` interface, so a new model is one
more backend class and one more name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from bot.core.backend import ImageBackend
from bot.core.budget import Budget, WaitingLine
from bot.core.models import Capabilities
from bot.storage.budget import MemoryLine


@dataclass(frozen=True)
class Model:
    backend: ImageBackend
    # Generation requests of this model pass this budget (its Yandex quota).
    submit_budget: Budget
    # Requests waiting for that budget, to show each its place: this process's, or every
    # instance's in Redis.
    submit_line: WaitingLine = field(default_factory=MemoryLine)


class Backends:
    def __init__(
        self, models: Mapping[str, Model], *, offered: Sequence[str], default: str
    ) -> None:
        if default not in offered or not set(offered) <= set(models):
            raise ValueError("offered models must be known, the default among them")
        self._models = dict(models)
        self.default = default
        # What the parser and /settings see: the offered models, in the operator's order.
        self.offered: Mapping[str, Capabilities] = MappingProxyType(
            {name: models[name].backend.capabilities for name in offered}
        )
        # What texts need for any job, offered or not.
        self.capabilities: Mapping[str, Capabilities] = MappingProxyType(
            {name: model.backend.capabilities for name, model in self._models.items()}
        )

    def __contains__(self, name: object) -> bool:
        return name in self._models

    def backend(self, name: str) -> ImageBackend:
        return self._models[name].backend

    def submit_budget(self, name: str) -> Budget:
        return self._models[name].submit_budget

    def submit_line(self, name: str) -> WaitingLine:
        return self._models[name].submit_line

    async def close(self) -> None:
        for model in self._models.values():
            await model.backend.close()
