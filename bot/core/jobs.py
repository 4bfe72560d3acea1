"""A generation job and its state machine.

hearing (a voice request, admitted, being recognised; other requests start at submitted) →
submitted (accepted from the user, no Yandex operation yet) → pending (operation running)
→ done | failed | expired | cancelled; a synchronous model goes from submitted to done. A
pending job whose operation is gone (an "Original" asked for after Yandex dropped the
result) goes back to submitted to draw it again with the same seed. Times are wall-clock
seconds so that a job can outlive the process.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import operator
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.core.errors import ErrorKind
from bot.core.models import YANDEXART
from bot.core.prompt import ArtRequest, PromptPart, Ratio


class JobState(StrEnum):
    HEARING = "hearing"
    SUBMITTED = "submitted"
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


# After its deadline a job that cannot tell its user (Telegram unreachable) keeps trying
# this long, then ends untold: the longest a prompt stays in the store is the deadline plus
# this, plus the retention of finished jobs.
TELL_GRACE = 300.0

ACTIVE_STATES = frozenset({JobState.HEARING, JobState.SUBMITTED, JobState.PENDING})
# How a variant ended well; otherwise its result is the ErrorKind that ended it.
VARIANT_OK = "ok"
_VARIANT_FIELDS = ("variant_ops", "variant_results", "variant_files")

_ENDINGS = frozenset({JobState.FAILED, JobState.EXPIRED, JobState.CANCELLED})
_ALLOWED: dict[JobState, frozenset[JobState]] = {
    # Heard: the request it names (a cache hit is pending at once).
    JobState.HEARING: _ENDINGS | {JobState.SUBMITTED, JobState.PENDING},
    JobState.SUBMITTED: _ENDINGS | {JobState.PENDING, JobState.DONE},
    JobState.PENDING: _ENDINGS | {JobState.DONE, JobState.SUBMITTED},
}


class InvalidTransition(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    chat_id: int
    user_id: int
    locale: str
    request: ArtRequest
    seed: int
    idempotency_key: str
    created_at: float
    deadline_at: float
    next_poll_at: float
    reply_to_message_id: int | None = None
    status_message_id: int | None = None
    state: JobState = JobState.SUBMITTED
    operation_id: str | None = None
    submitted_at: float | None = None  # when the operation was created, for learning
    attempts: int = 0
    last_error: ErrorKind | None = None
    # A failure the user has not been told about yet (Telegram was unreachable).
    untold_failure: ErrorKind | None = None
    # Where the result goes: an inline message to edit instead of a chat message.
    inline_message_id: str | None = None
    # "Original" button: the JPEG as a document rather than a (recompressed) photo.
    as_document: bool = False
    # A cache hit: send this Telegram file instead of asking Yandex.
    cached_file_id: str | None = None
    cancel_requested: bool = False
    # Credits held for this job (the pictures beyond the free quota), settled when it ends.
    credits: int = 0
    # Prompt enhancement: YandexGPT's text, or the note that it was unavailable.
    enhanced_prompt: str | None = None
    enhance_failed: bool = False
    # Variants (request.variants > 1), by index: the Yandex operation ("" before its
    # submit), how it ended ("" running, OK, or an ErrorKind) and a cached Telegram file.
    variant_ops: tuple[str, ...] = ()
    variant_results: tuple[str, ...] = ()
    variant_files: tuple[str, ...] = ()

    @property
    def is_album(self) -> bool:
        return self.request.variants > 1

    def variant_seed(self, index: int) -> int:
        return self.seed + index

    # Steps that failed with an unexpected error; after a few the job fails (see tracker).
    step_errors: int = 0
    # "Original" button: the job whose picture this one fetches (or draws once more).
    source_id: str | None = None
    # Drawn, its delivery put off by Telegram: the picture (an album's, by variant) is kept
    # in the store and only the delivery is tried again; it is never drawn again.
    kept: bool = False
    # A voice request while it is heard (state hearing): the voice's Telegram file, and
    # the arguments of `/art` replying to it (`voice_from_reply`). Its `request` is the
    # flags' with a placeholder prompt, its `variants` the pictures admission counted.
    voice_file_id: str | None = None
    voice_args: str | None = None
    voice_from_reply: bool = False

    @property
    def free_pictures(self) -> int:
        """The pictures admission counted against the day's free quota; the rest (its
        `credits`) are paid. What a voice that names no picture gives back to the day."""
        return max(0, self.request.variants - self.credits)

    @property
    def slot(self) -> str:
        """The job's place among its user's generations in progress. An Original holds one
        per picture (an album's variants differ by seed), so pressing it again while the
        first is on its way starts nothing."""
        return self.id if self.source_id is None else f"{self.source_id}:original:{self.seed}"

    @property
    def regenerated(self) -> bool:
        """An Original whose picture Yandex had dropped and that was submitted anew."""
        return self.source_id is not None and self.submitted_at is not None

    @property
    def needs_enhancing(self) -> bool:
        return self.request.enhance and self.enhanced_prompt is None and not self.enhance_failed

    @property
    def drawn_request(self) -> ArtRequest:
        """What is sent to YandexART: the enhanced prompt when there is one."""
        if self.enhanced_prompt is None:
            return self.request
        return dataclasses.replace(self.request, parts=(PromptPart(self.enhanced_prompt),))

    @property
    def keep_until(self) -> float:
        """When an active job is given up at the latest, told or not."""
        return self.deadline_at + TELL_GRACE

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    def moved_to(self, state: JobState, **changes: object) -> Job:
        """The job in its next state; refuses moves the state machine does not allow."""
        if state not in _ALLOWED.get(self.state, frozenset()):
            raise InvalidTransition(f"{self.state} -> {state}")
        return self.but(state=state, **changes)

    def but(self, **changes: object) -> Job:
        """The job with some fields changed, state untouched. A copy slot by slot: three
        times as fast as `dataclasses.replace`, and a job is copied several times per
        request."""
        unknown = changes.keys() - _JOB_FIELDS
        if unknown:
            raise TypeError(f"Job has no field {', '.join(sorted(unknown))}")
        copy = object.__new__(Job)
        for set_slot, value in zip(_SLOT_SETTERS, _job_values(self), strict=True):
            set_slot(copy, value)
        for name, value in changes.items():
            _SLOT_SETTER[name](copy, value)
        return copy

    def under(self, *, chat_id: int | None, inline_message_id: str | None) -> bool:
        """Whether a button naming this job was pressed under its own picture: in its chat,
        or on its inline message. A button acts on the picture it is under and nothing
        else, so a job id carried to another chat (forged callback data) is refused."""
        if inline_message_id is not None:
            return self.inline_message_id == inline_message_id
        return chat_id is not None and chat_id == self.chat_id and self.inline_message_id is None


_JOB_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Job))
_JOB_FIELDS = frozenset(_JOB_FIELD_NAMES)
_job_values = operator.attrgetter(*_JOB_FIELD_NAMES)
# Each field's slot descriptor, which sets it past the frozen dataclass's __setattr__:
# faster than object.__setattr__ by name.
_SLOT_SETTER = {name: getattr(Job, name).__set__ for name in _JOB_FIELD_NAMES}
_SLOT_SETTERS = tuple(_SLOT_SETTER.values())


class JobIds:
    """The job id of the update that asked for it: an HMAC of the update under a secret
    all instances share, so an update delivered twice (a webhook retry, a restart before
    polling confirmed it) makes one job, and nobody can work an id out from what the chat
    shows (its chat and message ids). 12 URL-safe characters, like a random id."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def of(self, *update: object) -> str:
        mac = hmac.new(self._secret, ":".join(map(str, update)).encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:9]).decode()


def new_idempotency_key() -> str:
    """A UUID, as Yandex Cloud's API design guide asks of an `Idempotency-Key`."""
    return str(uuid.uuid4())


def variant_idempotency_key(key: str, index: int) -> str:
    """An album variant's own key, a UUID too: derived from the job's, so a retried submit
    of the same variant sends the same key."""
    return str(uuid.uuid5(uuid.UUID(key), str(index)))


def job_to_dict(job: Job) -> dict[str, Any]:
    """Plain JSON-able data, for stores outside the process (what `dataclasses.asdict`
    gives: the request is the only nested dataclass)."""
    data = dict(zip(_JOB_FIELD_NAMES, _job_values(job), strict=True))
    data["request"] = request_to_dict(job.request)
    return data


def request_to_dict(request: ArtRequest) -> dict[str, Any]:
    """As `dataclasses.asdict` gives it, the ratio as text; written out, as asdict's deep
    copy took a tenth of an /art's handling (every request goes into the history)."""
    return {
        "parts": tuple({"text": part.text, "weight": part.weight} for part in request.parts),
        "seed": request.seed,
        "ratio": str(request.ratio),
        "enhance": request.enhance,
        "model": request.model,
        "style": request.style,
        "style_prompt": request.style_prompt,
        "variants": request.variants,
        "instead_of": request.instead_of,
    }


def request_from_dict(request: dict[str, Any]) -> ArtRequest:
    width, height = (int(side) for side in request["ratio"].split(":"))
    return ArtRequest(
        parts=tuple(PromptPart(p["text"], float(p["weight"])) for p in request["parts"]),
        seed=request["seed"],
        ratio=Ratio(width, height),
        enhance=bool(request.get("enhance", False)),
        style=request.get("style"),
        style_prompt=request.get("style_prompt", ""),
        variants=int(request.get("variants", 1)),
        model=request.get("model", YANDEXART),
        instead_of=request.get("instead_of"),
    )


def job_from_dict(data: dict[str, Any]) -> Job:
    fields = {
        **data,
        "request": request_from_dict(data["request"]),
        "state": JobState(data["state"]),
        **{name: tuple(data.get(name, ())) for name in _VARIANT_FIELDS},
        "last_error": _kind(data.get("last_error")),
        "untold_failure": _kind(data.get("untold_failure")),
    }
    return Job(**fields)


def _kind(value: str | None) -> ErrorKind | None:
    return None if value is None else ErrorKind(value)
