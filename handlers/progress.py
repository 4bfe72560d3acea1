"""Telegram's Stop under a live draft (`stopped_message_generation`, Bot API 10.3) cancels
the request exactly like the Cancel button; the draft's id is the request's message id."""

from aiogram import Router
from aiogram.types import MessageGenerationStopped

from bot.services.art import ArtService


async def stopped(event: MessageGenerationStopped, art_service: ArtService) -> None:
    # A draft is shown in a private chat only, whose id is its user's.
    job_id = art_service.job_ids.of("message", event.chat.id, event.draft_id)
    await art_service.cancel(job_id, event.chat.id)


def create_router() -> Router:
    router = Router(name="progress")
    router.stopped_message_generation.register(stopped)
    return router
