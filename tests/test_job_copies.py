"""Jobs copied and written out by hand (bot/core/jobs.py) give what `dataclasses` gave."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bot.core.errors import ErrorKind
from bot.core.jobs import Job, JobState, job_to_dict, request_to_dict
from bot.core.prompt import ArtRequest, PromptPart, Ratio

REQUESTS = [
    ArtRequest(parts=(PromptPart("a fox"),)),
    ArtRequest(
        parts=(PromptPart("a fox", 2.0), PromptPart("snow", 0.5)),
        seed=7,
        ratio=Ratio(16, 9),
        enhance=True,
        model="aliceai",
        style="anime",
        style_prompt="in anime style",
        variants=3,
        instead_of="yandexart",
    ),
]


def as_dataclasses_did(request: ArtRequest) -> dict[str, Any]:
    data = dataclasses.asdict(request)
    data["ratio"] = str(request.ratio)
    return data


def make_job(request: ArtRequest) -> Job:
    return Job(
        id="job-1",
        chat_id=10,
        user_id=20,
        locale="ru",
        request=request,
        seed=42,
        idempotency_key="key",
        created_at=1.0,
        deadline_at=2.0,
        next_poll_at=3.0,
        variant_ops=("op", ""),
        last_error=ErrorKind.QUOTA,
    )


@pytest.mark.parametrize("request_", REQUESTS)
def test_a_request_is_written_out_as_asdict_did(request_: ArtRequest) -> None:
    written = request_to_dict(request_)
    assert written == as_dataclasses_did(request_)
    assert list(written) == list(as_dataclasses_did(request_))  # the same order of keys


@pytest.mark.parametrize("request_", REQUESTS)
def test_a_job_is_written_out_as_asdict_did(request_: ArtRequest) -> None:
    job = make_job(request_)
    expected = dataclasses.asdict(job)
    expected["request"] = as_dataclasses_did(request_)
    assert job_to_dict(job) == expected


def test_a_changed_copy_is_what_replace_made() -> None:
    job = make_job(REQUESTS[1])
    changes: dict[str, Any] = {"next_poll_at": 9.0, "status_message_id": 5, "attempts": 2}
    assert job.but(**changes) == dataclasses.replace(job, **changes)
    assert job.moved_to(JobState.PENDING, operation_id="op") == dataclasses.replace(
        job, state=JobState.PENDING, operation_id="op"
    )
    assert job.next_poll_at == 3.0  # the original is untouched
    with pytest.raises(TypeError, match="no field colour"):
        job.but(colour="red")
