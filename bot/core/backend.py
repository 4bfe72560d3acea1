"""The `ImageBackend` interface: what the tracker needs from an image service.

An asynchronous service (YandexART) answers a submit with an operation to poll; a
synchronous one (the Images API) answers with the picture itself. Either way the job lives
in the store meanwhile, so restarts, limits and Cancel work the same for both. Errors are
the backend's own exceptions carrying an `ErrorKind` (`BackendError`, `TransientBackendError`
when the same call may work later).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.core.errors import BackendError
from bot.core.models import Capabilities
from bot.core.prompt import ArtRequest


@dataclass(frozen=True, slots=True)
class Submitted:
    """An asynchronous generation was accepted: poll this operation."""

    operation_id: str


@dataclass(frozen=True, slots=True)
class Pending:
    """The operation is still running."""


@dataclass(frozen=True, slots=True)
class ImageReady:
    image: bytes
    # When the service finished the picture, to measure delivery lag.
    finished_at: float | None = None


@dataclass(frozen=True, slots=True)
class OperationFailed:
    error: BackendError


OperationState = Pending | ImageReady | OperationFailed


class ImageBackend(Protocol):
    """One image model. A new model is one more class implementing this, and one name."""

    @property
    def capabilities(self) -> Capabilities: ...

    async def submit(
        self, request: ArtRequest, seed: int, idempotency_key: str, time_left: float
    ) -> Submitted | ImageReady:
        """Start (or, for a synchronous service, draw) the picture within `time_left`
        seconds. Raises the backend's errors: transient ones mean "try again later"."""

    async def get_operation(self, operation_id: str) -> OperationState: ...

    async def cancel(self, operation_id: str) -> None: ...

    async def close(self) -> None: ...
