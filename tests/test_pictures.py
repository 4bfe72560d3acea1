"""A single picture is an album of one to the tracker (bot/core/pictures.py), while jobs
keep the fields they were stored with, so those of the previous version read the same."""

from __future__ import annotations

import json

from bot.core.errors import ErrorKind
from bot.core.jobs import (
    VARIANT_OK,
    Job,
    JobState,
    job_from_dict,
    job_to_dict,
    variant_idempotency_key,
)
from bot.core.pictures import Pictures, idempotency_key
from bot.core.prompt import ArtRequest, PromptPart

KEY = "0b6a8c7e-2f0e-4d5b-9a55-6c2f1d7e9b10"


def job(variants: int = 1, **fields: object) -> Job:
    base = Job(
        id="j",
        chat_id=1,
        user_id=2,
        locale="en",
        request=ArtRequest(parts=(PromptPart("a cat"),), seed=5, variants=variants),
        seed=5,
        idempotency_key=KEY,
        created_at=0.0,
        deadline_at=100.0,
        next_poll_at=0.0,
    )
    return base.but(**fields)


def test_a_single_picture_stored_by_the_previous_version_reads_as_an_album_of_one() -> None:
    stored = json.loads(json.dumps(job_to_dict(job(operation_id="op-1", state=JobState.PENDING))))
    assert stored["operation_id"] == "op-1"
    assert stored["variant_ops"] == []
    assert stored["variant_results"] == []
    pictures = Pictures.of(job_from_dict(stored))
    assert pictures == Pictures(ops=("op-1",), results=("",), files=("",))
    assert pictures.running == ["op-1"]
    assert not pictures.all_ended


def test_a_single_pictures_steps_are_written_back_to_its_own_fields() -> None:
    single = job()
    written = Pictures(ops=("op-2",), results=("",), files=("",)).into(single)
    assert written.operation_id == "op-2"
    assert written.variant_ops == ()
    assert written.variant_results == ()
    assert job_from_dict(json.loads(json.dumps(job_to_dict(written)))) == written


def test_a_cached_or_kept_single_picture_has_ended_well() -> None:
    cached = Pictures.of(job(cached_file_id="photo-1", operation_id="op-1"))
    assert cached == Pictures(ops=("op-1",), results=(VARIANT_OK,), files=("photo-1",))
    assert cached.only_files
    assert cached.running == []
    kept = Pictures.of(job(kept=True, operation_id="op-1"))
    assert kept.results == (VARIANT_OK,)
    assert not kept.only_files


def test_an_albums_pictures_are_its_variants() -> None:
    album = job(
        3,
        variant_ops=("op1", "", "op3"),
        variant_results=(VARIANT_OK, ErrorKind.MODERATION.value, ""),
        variant_files=("photo-1", "", ""),
    )
    pictures = Pictures.of(album)
    assert pictures.ended == 2
    assert pictures.running == ["op3"]
    assert pictures.first_failure() is ErrorKind.MODERATION
    done = pictures.but(results=(VARIANT_OK, "moderation", VARIANT_OK))
    assert done.into(album).variant_results == done.results
    assert done.all_ended
    assert not done.only_files


def test_a_single_picture_keeps_its_jobs_idempotency_key() -> None:
    """A job submitted before an upgrade is submitted again with the key Yandex saw."""
    assert idempotency_key(job(), 0) == KEY
    album = job(2, variant_ops=("", ""), variant_results=("", ""), variant_files=("", ""))
    assert idempotency_key(album, 1) == variant_idempotency_key(KEY, 1)
