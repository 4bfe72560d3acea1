"""Models set aside: the pure choice of the model that draws a request, the refusals that
are about a model, the stall threshold, and the store's shared marks (memory and Redis)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from bot.core.models import (
    FULL,
    Capabilities,
    Chosen,
    Needs,
    NoModel,
    choose_model,
    stall_threshold,
)
from bot.services.availability import ModelAvailability
from bot.services.backends import Backends, Model
from bot.services.metrics import Metrics
from bot.storage.base import JobStore
from bot.storage.budget import MemoryBudget
from bot.storage.memory import MemoryJobStore
from bot.storage.redis_store import RedisJobStore
from bot.yandex.art import YandexArtClient
from bot.yandex.errors import (
    AuthError,
    ModelRefused,
    PermissionDenied,
    as_model_refusal,
    classify_error,
)
from bot.yandex.http import FixedCredentials, YandexHttp
from bot.yandex.images import IMAGES_CAPABILITIES

MODELS = {"aliceai": IMAGES_CAPABILITIES, "yandexart": FULL}
ORDER = ("aliceai", "yandexart")
SEED = Needs(seed=True)

CHOICES = [
    # requested, unavailable, needs -> result
    ("yandexart", set(), Needs(), Chosen("yandexart")),
    ("yandexart", {"yandexart"}, Needs(), Chosen("aliceai", instead_of="yandexart")),
    ("aliceai", {"aliceai"}, SEED, Chosen("yandexart", instead_of="aliceai")),
    ("yandexart", {"yandexart"}, SEED, NoModel("aliceai", "--seed")),
    ("yandexart", {"yandexart"}, Needs(weights=True), NoModel("aliceai", "::")),
    ("yandexart", {"yandexart"}, Needs(variants=True), NoModel("aliceai", "--n")),
    ("yandexart", {"yandexart", "aliceai"}, Needs(), NoModel("yandexart", None)),
    # A model no longer offered goes to the first offered one that can draw the request.
    ("dalle", set(), Needs(), Chosen("aliceai", instead_of="dalle")),
    ("dalle", set(), SEED, Chosen("yandexart", instead_of="dalle")),
]


@pytest.mark.parametrize(("requested", "unavailable", "needs", "expected"), CHOICES)
def test_choose_model(
    requested: str, unavailable: set[str], needs: Needs, expected: Chosen | NoModel
) -> None:
    assert choose_model(requested, ORDER, MODELS, unavailable, needs) == expected


caps = st.builds(Capabilities, seed=st.booleans(), weights=st.booleans(), variants=st.booleans())
names = st.sampled_from(["a", "b", "c", "d"])


@given(
    models=st.dictionaries(names, caps, min_size=1),
    requested=names,
    unavailable=st.sets(names),
    needs=st.builds(Needs, seed=st.booleans(), weights=st.booleans(), variants=st.booleans()),
)
def test_the_choice_is_always_drawable_and_available(
    models: dict[str, Capabilities], requested: str, unavailable: set[str], needs: Needs
) -> None:
    result = choose_model(requested, tuple(models), models, unavailable, needs)
    if isinstance(result, Chosen):
        assert result.model in models
        assert result.model not in unavailable
        # The requested model keeps the request (its flags were checked by the parser).
        assert (result.instead_of is None) == (result.model == requested)
        if result.instead_of is not None:
            assert needs.refused_by(models[result.model]) is None
    else:
        # Refused only when no available model honours the request.
        assert all(
            name in unavailable or name == requested or needs.refused_by(c) is not None
            for name, c in models.items()
        )
        assert requested in unavailable or requested not in models


REFUSALS = [
    # http, grpc, message -> about the model?
    (403, 7, "Access to model denied", True),
    (404, 5, "Model not found", True),
    (400, 3, "invalid model_uri: art://x/none", True),
    (400, None, "unknown model", True),
    (403, 7, "Permission denied", False),  # the folder's role: credentials, not the model
    (401, 16, "Unknown api key", False),
    (400, 3, "it may violate the terms of use", False),
    (429, 8, "model quota exceeded", False),
]


@pytest.mark.parametrize(("http", "grpc", "message", "about_model"), REFUSALS)
def test_refusals_about_the_model(
    http: int, grpc: int | None, message: str, about_model: bool
) -> None:
    error = classify_error(http_status=http, grpc_code=grpc, message=message)
    refusal = as_model_refusal(error)
    assert (refusal is not None) == about_model
    if refusal is not None:
        assert isinstance(refusal, ModelRefused)
        assert refusal.message == message
    assert isinstance(classify_error(http_status=401, message="x"), AuthError)
    assert isinstance(classify_error(http_status=403, message="x"), PermissionDenied)


def test_stall_threshold_is_learned_with_a_floor() -> None:
    assert stall_threshold([], floor=120) == 120
    assert stall_threshold([5.0, 12.0, 30.0], floor=60) == 90.0
    assert stall_threshold([1.0, 2.0], floor=60) == 60


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[JobStore]:
    job_store: JobStore
    if request.param == "memory":
        job_store = MemoryJobStore()
    else:
        job_store = RedisJobStore(Redis.from_url(redis_url), retention_seconds=0)
    yield job_store
    await job_store.close()


async def test_set_aside_is_shared_once_and_cleared_when_the_model_answers(
    store: JobStore,
) -> None:
    now = time.time()
    assert await store.models_set_aside(["aliceai", "yandexart"], now) == {}
    assert await store.model_set_aside("yandexart", now, 600) is True
    assert await store.model_set_aside("yandexart", now, 600) is False  # told once
    assert await store.models_set_aside(["aliceai", "yandexart"], now) == {"yandexart": True}
    # After the cool-off it is tried again, still marked until it answers.
    later = now + 601
    assert await store.models_set_aside(["yandexart"], later) == {"yandexart": False}
    assert await store.model_set_aside("yandexart", later, 600) is False
    await store.model_answered("yandexart")
    assert await store.models_set_aside(["yandexart"], later) == {}
    assert await store.model_set_aside("yandexart", later, 600) is True


async def test_redis_keys_carry_the_models_hash_tag(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    store = RedisJobStore(redis, retention_seconds=0)
    await store.model_set_aside("aliceai", time.time(), 0.2)
    keys = sorted(k.decode() if isinstance(k, bytes) else k for k in await redis.keys("art:*"))
    assert keys == ["art:model:{aliceai}:down", "art:model:{aliceai}:told"]
    assert 0 < await redis.pttl("art:model:{aliceai}:down") <= 200
    await store.close()


async def test_the_stall_threshold_is_learned_from_the_models_finish_times() -> None:
    store = MemoryJobStore()
    http = YandexHttp(
        base_url="http://127.0.0.1:9", credentials=FixedCredentials("x"), folder_id=None, timeout=1
    )
    client = YandexArtClient(http, model_uri="art://f/m", retries=0)
    backends = Backends(
        {"yandexart": Model(client, MemoryBudget(1.0))}, offered=("yandexart",), default="yandexart"
    )

    async def notify(model: str, error: str) -> None:
        raise AssertionError("nothing is set aside here")

    availability = ModelAvailability(
        store,
        backends,
        Metrics(),
        notify,
        retry_after=600,
        stall_floor=10,
        duration_keys={"yandexart": "art://f/m"},
    )
    # Under the floor: not stalled, and the store is not even asked.
    assert await availability.stall_after("yandexart", "1:1", 9.0) is None
    assert await availability.stall_after("yandexart", "1:1", 10.0) == 10
    for duration in (4.0, 8.0, 20.0):
        await store.durations_add("art://f/m|16:9", duration, 512)
    assert await availability.stall_after("yandexart", "16:9", 11.0) == 60.0
    await backends.close()
