"""One poll of a Yandex operation, within the shared poll budget (the Yandex quota): the
poll step and the fetching again of a picture that finished in an earlier step both
count against it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.backend import OperationFailed, OperationState
from bot.core.budget import Budget
from bot.core.errors import BackendError, ErrorKind, TransientBackendError
from bot.core.jobs import Job
from bot.services.backends import Backends
from bot.services.metrics import Metrics


@dataclass(frozen=True, slots=True, kw_only=True)
class OperationPolls:
    backends: Backends
    budget: Budget
    metrics: Metrics

    async def once(self, job: Job, operation_id: str) -> OperationState | ErrorKind:
        """The operation's state; a transient error is its kind, to poll again later."""
        await self.budget.acquire()
        self.metrics.polls.inc()
        try:
            return await self.backends.backend(job.request.model).get_operation(operation_id)
        except TransientBackendError as exc:
            return exc.kind
        except BackendError as exc:
            return OperationFailed(exc)
