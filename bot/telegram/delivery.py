"""Sending results to Telegram without losing them to transient errors.

Flood limits are handled below this module (bot/flood.py); here network and server errors
are retried with backoff, and a result that still cannot be sent is reported as RETRY_LATER
so the tracker keeps the job and tries again. A user who blocked the bot (or a chat that is
gone) ends the job quietly. A photo Telegram refuses (400 such as IMAGE_PROCESS_FAILED or
PHOTO_INVALID_DIMENSIONS, 413 too large) goes out as a document; if that is refused too the
outcome is REFUSED and the tracker tells the user.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    MediaUnion,
    Message,
    ReplyParameters,
)

from bot.core.errors import ErrorKind
from bot.core.images import image_format
from bot.core.jobs import Job
from bot.core.limits import AccessRules
from bot.core.models import FULL, ONLY_YANDEXART, Capabilities
from bot.telegram.drafts import Drafts
from bot.telegram.keyboards import album_keyboard, result_keyboard, status_keyboard
from bot.telegram.texts import Texts

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[Any]]
# Telegram will not take this upload as it is: no retry can help, another form may.
_REFUSED = (TelegramBadRequest, TelegramEntityTooLarge)

# Chat migrations remembered (a few groups a day become supergroups).
MIGRATIONS_KEPT = 1000
# Telegram's answer to editMessageText on a message that holds a photo.
NO_TEXT = "there is no text in the message to edit"


class Outcome(StrEnum):
    SENT = "sent"
    GONE = "gone"
    RETRY_LATER = "retry_later"
    REFUSED = "refused"  # neither as a photo nor as a document: the user must be told


@dataclass(frozen=True)
class Delivered:
    outcome: Outcome
    # The Telegram file of a photo that was sent, for the cache.
    file_id: str | None = None


@dataclass(frozen=True)
class AlbumDelivered:
    outcome: Outcome
    # The Telegram file of each variant sent, by index, for the cache.
    file_ids: dict[int, str]


class Delivery:
    def __init__(
        self,
        bot: Bot,
        texts: Texts,
        *,
        upload_chat_id: int | None = None,
        models: Mapping[str, Capabilities] = ONLY_YANDEXART,
        rules: AccessRules | None = None,
        drafts: Drafts | None = None,
        attempts: int = 5,
        backoff: float = 0.5,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._drafts = drafts
        self._bot = bot
        self._texts = texts
        self._upload_chat_id = upload_chat_id
        self._models = models
        self._rules = rules or AccessRules()
        # Groups that became supergroups: old chat id → new one, as Telegram told us.
        self._migrated: OrderedDict[int, int] = OrderedDict()
        self._attempts = attempts
        self._backoff = backoff
        self._sleep = sleep

    def chat_of(self, chat_id: int) -> int:
        """The chat's id now: a group that became a supergroup has a new one."""
        return self._migrated.get(chat_id, chat_id)

    def upload_chat(self, user_id: int) -> int:
        """Where inline results are uploaded: the storage chat, else the user's private chat."""
        return self._upload_chat_id if self._upload_chat_id is not None else user_id

    async def picture(self, job: Job, image: bytes | None) -> Delivered:
        """The result as the job wants it: a photo reply, an original document, or an inline
        message edited into the photo. `image` is None when the job has a cached file."""
        try:
            if job.as_document:
                assert image is not None
                return await self._document(job, image)
            if job.inline_message_id is not None:
                return await self._inline_photo(job, image)
            return await self._chat_photo(job, image)
        except _REFUSED as exc:
            log.warning("job %s: Telegram refused the picture: %s", job.id, exc.message)
        if image is None or job.as_document:
            return Delivered(Outcome.REFUSED)
        try:
            if job.inline_message_id is not None:
                return await self._inline_document(job, image)
            return await self._document(job, image, with_keyboard=True)
        except _REFUSED as exc:
            log.warning("job %s: Telegram refused the document too: %s", job.id, exc.message)
            return Delivered(Outcome.REFUSED)

    async def _chat_photo(self, job: Job, image: bytes | None) -> Delivered:
        """Reply to the request with the picture, then remove the status message."""
        photo = self._photo(job, image)
        caption = self._texts.caption(job)
        keyboard = self._result_keyboard(job)
        outcome, message = await self._send(
            job,
            lambda chat_id: self._bot.send_photo(
                chat_id,
                photo,
                caption=caption,
                parse_mode=ParseMode.HTML,
                reply_parameters=_reply_to(job),
                reply_markup=keyboard,
            ),
        )
        if outcome is Outcome.SENT and job.status_message_id is not None:
            await self._quietly(self._bot.delete_message(job.chat_id, job.status_message_id))
        return Delivered(outcome, _file_id(message))

    async def _document(self, job: Job, image: bytes, *, with_keyboard: bool = False) -> Delivered:
        """The JPEG as a file: the Original, or a picture Telegram refused as a photo (then
        with the buttons, and the status message goes as after a photo)."""
        document = _upload(image, job.seed)
        caption = self._texts.caption(job)
        keyboard = self._result_keyboard(job) if with_keyboard else None
        outcome, _ = await self._send(
            job,
            lambda chat_id: self._bot.send_document(
                chat_id,
                document,
                caption=caption,
                parse_mode=ParseMode.HTML,
                reply_parameters=_reply_to(job),
                reply_markup=keyboard,
            ),
        )
        if with_keyboard and outcome is Outcome.SENT and job.status_message_id is not None:
            await self._quietly(self._bot.delete_message(job.chat_id, job.status_message_id))
        return Delivered(outcome)

    async def _inline_document(self, job: Job, image: bytes) -> Delivered:
        """The refused photo as a file in the inline message: uploaded once, then edited in."""
        assert job.inline_message_id is not None
        inline_message_id = job.inline_message_id
        document = _upload(image, job.seed)
        outcome, upload = await self._send(
            job,
            lambda chat_id: self._bot.send_document(chat_id, document, disable_notification=True),
        )
        if not isinstance(upload, Message) or upload.document is None:
            return Delivered(outcome)
        media = InputMediaDocument(
            media=upload.document.file_id,
            caption=self._texts.caption(job),
            parse_mode=ParseMode.HTML,
        )
        keyboard = self._result_keyboard(job)
        outcome, _ = await self._send(
            job,
            lambda _: self._bot.edit_message_media(
                media, inline_message_id=inline_message_id, reply_markup=keyboard
            ),
        )
        if self._upload_chat_id is None:
            await self._quietly(self._bot.delete_message(upload.chat.id, upload.message_id))
        return Delivered(outcome)

    async def _inline_photo(self, job: Job, image: bytes | None) -> Delivered:
        """Inline messages cannot take an upload: upload once to get a file_id, then edit."""
        assert job.inline_message_id is not None
        inline_message_id = job.inline_message_id
        file_id = job.cached_file_id
        upload: Message | None = None
        if file_id is None:
            assert image is not None
            photo = _upload(image, job.seed)
            outcome, upload = await self._send(
                job,
                lambda chat_id: self._bot.send_photo(chat_id, photo, disable_notification=True),
            )
            if outcome is Outcome.GONE:
                await self.failure(job, ErrorKind.NO_UPLOAD_CHAT)
            file_id = _file_id(upload)
            if file_id is None:
                return Delivered(outcome)
        media = InputMediaPhoto(
            media=file_id, caption=self._texts.caption(job), parse_mode=ParseMode.HTML
        )
        keyboard = self._result_keyboard(job)
        outcome, _ = await self._send(
            job,
            lambda _: self._bot.edit_message_media(
                media, inline_message_id=inline_message_id, reply_markup=keyboard
            ),
        )
        if upload is not None and self._upload_chat_id is None:
            # The copy in the user's private chat was only a way to get a file_id.
            await self._quietly(self._bot.delete_message(upload.chat.id, upload.message_id))
        return Delivered(outcome, file_id)

    async def album(self, job: Job, pictures: dict[int, bytes | str]) -> AlbumDelivered:
        """The variants that were drawn (bytes, or a cached file_id) as one album with the
        caption on its first item, then one message with the buttons an album cannot carry;
        a single survivor goes as a plain photo with them. An album Telegram refuses as
        photos goes as files, as a single picture does; if that is refused too (or a
        variant is only a cached photo) the outcome is REFUSED and the user is told."""
        keyboard = album_keyboard(job.id, sorted(pictures))
        caption = self._texts.album_caption(job)
        try:
            return await self._album_as(job, pictures, caption, keyboard, documents=False)
        except _REFUSED as exc:
            log.warning("job %s: Telegram refused the album: %s", job.id, exc.message)
        if not all(isinstance(picture, bytes) for picture in pictures.values()):
            return AlbumDelivered(Outcome.REFUSED, {})
        try:
            return await self._album_as(job, pictures, caption, keyboard, documents=True)
        except _REFUSED as exc:
            log.warning("job %s: Telegram refused the album as files: %s", job.id, exc.message)
            return AlbumDelivered(Outcome.REFUSED, {})

    async def _album_as(
        self,
        job: Job,
        pictures: dict[int, bytes | str],
        caption: str,
        keyboard: InlineKeyboardMarkup,
        *,
        documents: bool,
    ) -> AlbumDelivered:
        indexes = sorted(pictures)
        files = {i: _input(pictures[i], job.variant_seed(i)) for i in indexes}
        if len(indexes) == 1:
            [index] = indexes
            delivered = await self._single(job, files[index], caption, keyboard, documents)
            file_ids = {index: delivered.file_id} if delivered.file_id else {}
            return AlbumDelivered(delivered.outcome, file_ids)
        media: list[MediaUnion] = [
            (InputMediaDocument if documents else InputMediaPhoto)(
                media=files[i], caption=caption if n == 0 else None, parse_mode=ParseMode.HTML
            )
            for n, i in enumerate(indexes)
        ]
        outcome, messages = await self._send(
            job,
            lambda chat_id: self._bot.send_media_group(
                chat_id, media, reply_parameters=_reply_to(job)
            ),
        )
        if outcome is not Outcome.SENT:
            return AlbumDelivered(outcome, {})
        first = messages[0]
        buttons_text = self._texts.get(job.locale, "album.buttons")
        reply = ReplyParameters(message_id=first.message_id, allow_sending_without_reply=True)
        with_buttons = self._bot.send_message(
            first.chat.id, buttons_text, reply_parameters=reply, reply_markup=keyboard
        )
        await self._quietly(with_buttons)
        await self._drop_status(job)
        file_ids = {i: fid for i, m in zip(indexes, messages, strict=True) if (fid := _file_id(m))}
        return AlbumDelivered(outcome, file_ids)

    async def _single(
        self,
        job: Job,
        file: BufferedInputFile | str,
        caption: str,
        keyboard: InlineKeyboardMarkup,
        document: bool,
    ) -> Delivered:
        """An album's only survivor, as a photo or a file, with the album's buttons."""
        send = self._bot.send_document if document else self._bot.send_photo
        outcome, message = await self._send(
            job,
            lambda chat_id: send(
                chat_id,
                file,
                caption=caption,
                parse_mode=ParseMode.HTML,
                reply_parameters=_reply_to(job),
                reply_markup=keyboard,
            ),
        )
        if outcome is Outcome.SENT:
            await self._drop_status(job)
        return Delivered(outcome, _file_id(message))

    async def _drop_status(self, job: Job) -> None:
        if job.status_message_id is not None:
            await self._quietly(self._bot.delete_message(job.chat_id, job.status_message_id))

    async def progress(self, job: Job, ended: int) -> None:
        """How many of an album's variants have ended, in its status message."""
        await self._edit_status(job, self._texts.status(job, ended))

    async def drop_status(self, chat_id: int, message_id: int) -> None:
        """Delete a status message that came after its job had ended (best effort)."""
        await self._quietly(self._bot.delete_message(chat_id, message_id))

    async def status(self, job: Job, queue_position: int | None) -> None:
        """Show the job's place in the queue for the Yandex budget, or "Generating…" again.
        Best effort: a status that cannot be edited changes nothing for the result."""
        if self._drafts is not None:
            self._drafts.place(job, queue_position)
        text = (
            self._texts.status(job)
            if queue_position is None
            else self._texts.get(job.locale, "status.queued", position=queue_position)
        )
        await self._edit_status(job, text)

    async def _edit_status(self, job: Job, text: str) -> None:
        markup = status_keyboard(self._texts, job.locale, job.id)
        if job.inline_message_id is not None:
            await self._quietly(self._edit_inline(job.inline_message_id, text, markup))
        elif job.status_message_id is not None:
            await self._quietly(
                self._bot.edit_message_text(
                    text,
                    chat_id=job.chat_id,
                    message_id=job.status_message_id,
                    reply_markup=markup,
                )
            )

    async def failure(self, job: Job, kind: ErrorKind) -> Outcome:
        """Turn the status message into the explanation, or send it anew if that is gone."""
        text = self._texts.failure(job, kind)
        if job.inline_message_id is not None:
            inline_message_id = job.inline_message_id
            try:
                outcome, _ = await self._send(
                    job, lambda _: self._edit_inline(inline_message_id, text)
                )
            except TelegramBadRequest as exc:
                return Outcome.SENT if "not modified" in exc.message else Outcome.GONE
            return outcome
        if job.status_message_id is not None:
            message_id = job.status_message_id
            try:
                outcome, _ = await self._send(
                    job,
                    lambda chat_id: self._bot.edit_message_text(
                        text, chat_id=chat_id, message_id=message_id
                    ),
                )
                return outcome
            except TelegramBadRequest as exc:
                if "not modified" in exc.message:
                    return Outcome.SENT
                log.info("job %s: status message cannot be edited, sending anew", job.id)
        try:
            outcome, _ = await self._send(
                job,
                lambda chat_id: self._bot.send_message(
                    chat_id, text, reply_parameters=_reply_to(job)
                ),
            )
        except TelegramBadRequest as exc:
            log.warning("job %s: Telegram refused the error message: %s", job.id, exc.message)
            return Outcome.GONE
        return outcome

    def _result_keyboard(self, job: Job) -> InlineKeyboardMarkup:
        original = self._models.get(job.request.model, FULL).keeps_results
        return result_keyboard(self._texts, job.locale, job.id, original)

    async def _edit_inline(
        self, inline_message_id: str, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> object:
        """Put `text` in an inline message: its text, or its caption once it holds a picture
        (Again under an inline picture), where Telegram refuses to edit a text."""
        try:
            return await self._bot.edit_message_text(
                text, inline_message_id=inline_message_id, reply_markup=markup
            )
        except TelegramBadRequest as exc:
            if NO_TEXT not in exc.message:
                raise
        return await self._bot.edit_message_caption(
            inline_message_id=inline_message_id, caption=text, reply_markup=markup
        )

    def _photo(self, job: Job, image: bytes | None) -> BufferedInputFile | str:
        if job.cached_file_id is not None:
            return job.cached_file_id
        assert image is not None
        return _upload(image, job.seed)

    async def _send(self, job: Job, call: Callable[[int], Awaitable[Any]]) -> tuple[Outcome, Any]:
        """Run `call(chat_id)` with retries; returns the outcome and Telegram's answer.
        A bad request is raised, since only the caller knows what to do instead."""
        chat_id = self.chat_of(job.chat_id)
        for attempt in range(self._attempts):
            if chat_id != job.chat_id and not self._rules.allows(job.user_id, chat_id):
                log.info("job %s: the chat moved outside the allowlists, dropping", job.id)
                return Outcome.GONE, None
            try:
                return Outcome.SENT, await call(chat_id)
            except TelegramRetryAfter:
                return Outcome.RETRY_LATER, None  # FloodControl already waited as long as sane
            except TelegramEntityTooLarge:
                raise  # a refusal of this upload, not a network error: the caller decides
            except TelegramMigrateToChat as exc:
                chat_id = exc.migrate_to_chat_id
                self._remember_migration(job.chat_id, chat_id)
            except (TelegramForbiddenError, TelegramNotFound):
                log.info("job %s: chat %s is gone, dropping the result", job.id, chat_id)
                return Outcome.GONE, None
            except (TelegramNetworkError, TelegramServerError, ClientDecodeError) as exc:
                delay = self._backoff * 2**attempt * random.uniform(0.5, 1.5)
                log.info("job %s: %s, retrying in %.1fs", job.id, type(exc).__name__, delay)
                await self._sleep(delay)
        return Outcome.RETRY_LATER, None

    def _remember_migration(self, old: int, new: int) -> None:
        self._migrated[old] = new
        while len(self._migrated) > MIGRATIONS_KEPT:
            self._migrated.popitem(last=False)

    async def _quietly(self, call: Awaitable[object]) -> None:
        """For clean-ups whose failure changes nothing for the user."""
        try:
            await call
        except TelegramAPIError as exc:
            log.debug("clean-up call failed: %s", type(exc).__name__)


def _input(picture: bytes | str, seed: int) -> BufferedInputFile | str:
    """An upload, or a Telegram file_id sent again."""
    return picture if isinstance(picture, str) else _upload(picture, seed)


def _upload(image: bytes, seed: int) -> BufferedInputFile:
    """The picture as an upload, named after its seed and with the extension of its format
    (YandexART answers JPEG; another model may answer PNG or WebP)."""
    extension = {"png": "png", "webp": "webp"}.get(image_format(image) or "", "jpg")
    return BufferedInputFile(image, filename=f"yandexart-{seed}.{extension}")


def _file_id(message: object) -> str | None:
    if isinstance(message, Message) and message.photo:
        return message.photo[-1].file_id
    return None


def _reply_to(job: Job) -> ReplyParameters | None:
    if job.reply_to_message_id is None:
        return None
    return ReplyParameters(message_id=job.reply_to_message_id, allow_sending_without_reply=True)
