"""The tracker's steps, wired once: each in its own module, sharing the writer (every
step's save) and the endings (how every job ends); the submit and the poll both end in
the handover, and both reach the model fallback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.core.budget import Budget
from bot.services.availability import ModelAvailability
from bot.services.backends import Backends
from bot.services.job_endings import Endings
from bot.services.job_handover import Handover
from bot.services.job_poll import Poller
from bot.services.job_submit import Submitter
from bot.services.job_writer import JobWriter
from bot.services.kept_pictures import KeptPictures
from bot.services.metrics import Metrics
from bot.services.model_fallback import ModelFallback
from bot.services.operation_polls import OperationPolls
from bot.services.places import PicturePlaces
from bot.services.planner import PollPlanner
from bot.services.quotas import Quotas
from bot.services.wallet import Wallet
from bot.storage.base import JobStore
from bot.storage.picture_cache import PictureCache
from bot.telegram.chat_actions import ChatActions
from bot.telegram.delivery import Delivery
from bot.yandex.enhancer import PromptEnhancer


@dataclass(frozen=True, slots=True)
class JobSteps:
    writer: JobWriter
    kept: KeptPictures
    endings: Endings
    handover: Handover
    submitter: Submitter
    poller: Poller


def job_steps(
    *,
    store: JobStore,
    backends: Backends,
    delivery: Delivery,
    actions: ChatActions,
    planner: PollPlanner,
    metrics: Metrics,
    cache: PictureCache,
    enhancer: PromptEnhancer,
    poll_budget: Budget,
    submit_patience: float,
    quotas: Quotas,
    availability: ModelAvailability,
    wallet: Wallet | None,
    places: PicturePlaces,
    clock: Callable[[], float],
    stopping: Callable[[], bool],
) -> JobSteps:
    writer = JobWriter(
        store=store,
        delivery=delivery,
        schedule=planner.schedule,
        clock=clock,
        stopping=stopping,
    )
    kept = KeptPictures(store=store, clock=clock)
    endings = Endings(
        writer=writer,
        store=store,
        backends=backends,
        delivery=delivery,
        actions=actions,
        metrics=metrics,
        quotas=quotas,
        kept=kept,
        wallet=wallet,
    )
    polls = OperationPolls(backends=backends, budget=poll_budget, metrics=metrics)
    handover = Handover(
        delivery=delivery,
        polls=polls,
        kept=kept,
        endings=endings,
        writer=writer,
        cache=cache,
        metrics=metrics,
        clock=clock,
    )
    fallback = ModelFallback(
        availability=availability,
        backends=backends,
        delivery=delivery,
        endings=endings,
        writer=writer,
        clock=clock,
    )
    submitter = Submitter(
        store=store,
        backends=backends,
        availability=availability,
        enhancer=enhancer,
        planner=planner,
        delivery=delivery,
        places=places,
        metrics=metrics,
        writer=writer,
        endings=endings,
        handover=handover,
        fallback=fallback,
        submit_patience=submit_patience,
        clock=clock,
    )
    poller = Poller(
        polls=polls,
        planner=planner,
        delivery=delivery,
        quotas=quotas,
        writer=writer,
        endings=endings,
        handover=handover,
        fallback=fallback,
        clock=clock,
    )
    return JobSteps(writer, kept, endings, handover, submitter, poller)
