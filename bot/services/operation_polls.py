"""One poll of a Yandex operation, within the shared poll budget (the Yandex quota): the
poll step and the fetching again of a picture that finished in an earlier step both
count against it."""

from __future__ import annotations

from bot.core.backend import OperationFailed, OperationState
from bot.core.budget import Budget
from bot.core.errors import BackendError, ErrorKind, TransientBackendError
from bot.core.jobs import Job
from bot.services.backends import Backends
from bot.services.metrics import Metrics


class OperationPolls:
    def __init__(self, backends: Backends, budget: Budget, metrics: Metrics) -> None:
        self._backends = backends
        self._budget = budget
        self._metrics = metrics

    async def once(self, job: Job, operation_id: str) -> OperationState | ErrorKind:
        """The operation's state; a transient error is its kind, to poll again later."""
        await self._budget.acquire()
        self._metrics.polls.inc()
        try:
            return await self._backends.backend(job.request.model).get_operation(operation_id)
        except TransientBackendError as exc:
            return exc.kind
        except BackendError as exc:
            return OperationFailed(exc)
