"""A small fake YandexART server: async generation, operations, errors on demand.

Every operation finishes after `polls_to_finish` polls with a distinct JPEG-like payload;
idempotency keys are honoured like a real API would, so a retried submit creates nothing new.
Optional knobs for benchmarks and the fault suite (all off by default): operations that take
a given time (`duration`), images of a realistic size (`image_padding`), random faults
(`chaos`) and a hook around each submit and poll (`on_request`, e.g. to kill the bot there).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import random
import re
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from aiohttp import web

from bot.emulators.local_server import LocalServer

MODERATION_MESSAGE = (
    "it is not possible to generate an image from this request "
    "because it may violate the terms of use"
)


@dataclass
class Operation:
    id: str
    body: dict[str, Any]
    image: bytes
    polls: int = 0
    polls_to_finish: int = 1
    error: dict[str, Any] | None = None
    cancelled: bool = False
    finished_at: float | None = None
    # Time-based mode (`FakeYandex.duration`): when it finishes, on the monotonic clock.
    finishes_at: float | None = None
    # Monotonic time of the first poll answered "done" (how late the bot noticed).
    seen_done_at: float | None = None


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


# Model URIs as Yandex takes them: `art://<folder>/<model>[/<version>]`.
_MODEL_URI = re.compile(r"^art://[a-z0-9-]+/[a-z0-9.-]+(/[a-z0-9.-]+)?$")


def model_denied() -> Reply:
    """What the gateway answered to a submit for `yandex-art/latest` (field report, 15 Sep
    2026): the credentials pass, the model does not."""
    body = {
        "error": {
            "grpcCode": 7,
            "httpCode": 403,
            "message": "Access to model denied",
            "httpStatus": "Forbidden",
            "details": [],
        }
    }
    return Reply(403, body)


def model_not_found() -> Reply:
    return Reply(404, {"code": 5, "message": "Model not found", "details": []})


@dataclass
class YandexChaos:
    """Random faults: each submit and poll draws at most one, with these odds.

    Timeouts and dropped connections hit before or after the request is processed, so a
    submit may create its operation and still look failed to the bot (the idempotency key
    must then prevent a second generation); a slow body trickles in over `slow_delay`."""

    rng: random.Random
    rate_limit: float = 0.0  # 429 with Retry-After
    server_error: float = 0.0  # 500/503, gRPC UNAVAILABLE
    timeout: float = 0.0  # no answer for `timeout_delay` (longer than the client waits)
    drop: float = 0.0  # connection closed without an answer
    slow_body: float = 0.0  # the answer's body arrives in pieces over `slow_delay`
    failed_operation: float = 0.0  # an operation that ends with an internal error
    timeout_delay: float = 1.0
    slow_delay: float = 0.2
    retry_after: float = 0.1
    injected: Counter[str] = field(default_factory=Counter)

    def pick(self, kind: str) -> str | None:
        """The fault for one request of `kind` ("submit" or "poll"), counted; or None."""
        roll = self.rng.random()
        odds = [
            ("rate_limit", self.rate_limit),
            ("server_error", self.server_error),
            ("timeout", self.timeout),
            ("drop", self.drop),
            ("slow_body", self.slow_body),
        ]
        for name, p in odds:
            if roll < p:
                if name in ("timeout", "drop"):
                    name += self.rng.choice(("_before", "_after"))
                self.injected[f"{kind}:{name}"] += 1
                return name
            roll -= p
        return None


class FakeYandex(LocalServer):
    def __init__(self, *, api_key: str = "test-api-key", polls_to_finish: int = 1) -> None:
        super().__init__()
        self.api_key = api_key
        self.polls_to_finish = polls_to_finish
        self.submits: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.operations: dict[str, Operation] = {}
        self.by_idempotency_key: dict[str, str] = {}
        self.submit_faults: list[Reply] = []
        self.poll_faults: list[Reply] = []
        self.banned_words: set[str] = {"forbidden"}
        self.operation_error: dict[str, Any] | None = None
        # Model URIs refused as models on every submit (after the credentials pass), and
        # models whose operations never finish.
        self.refused_models: dict[str, Reply] = {}
        self.stalled_models: set[str] = set()
        self.cancels: list[str] = []
        # While held, no operation finishes (e.g. while a test kills the bot).
        self.hold = False
        # Time-based operations: one finishes `duration(body)` seconds after its submit
        # (None: after `polls_to_finish` polls).
        self.duration: Callable[[dict[str, Any]], float] | None = None
        # Bytes appended to every image on the wire (a realistic JPEG size; not stored).
        self.image_padding = 0
        # Draws an operation's picture from its request body (the demo's Pillow pictures);
        # None: distinct random bytes, which the tests compare with what Telegram got.
        self.image_factory: Callable[[dict[str, Any]], bytes] | None = None
        self.chaos: YandexChaos | None = None
        # Awaited "before" and "after" each submit/poll is answered, with its kind; True
        # drops the connection there (the bot never hears back).
        self.on_request: Callable[[str, str], Awaitable[bool]] | None = None
        self.poll_times: list[float] = []  # monotonic time of every poll request
        self.app.middlewares.append(self._faults)
        self._ids = itertools.count(1)
        # YandexGPT completion (prompt enhancement): each request, and what to answer.
        self.completions: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.completion_faults: list[Reply] = []
        self.completion_text: str | None = None  # None: "vivid " + the user's text
        # Authenticated requests that create nothing (start-up probes): GETs of operations
        # that do not exist, and tokenize calls.
        self.probes: list[dict[str, str]] = []
        # Yandex IAM: service-account keys it knows (key id -> service account id and public
        # key PEM), the tokens it issued (token -> expiry, time.time()), and how long they live.
        self.sa_keys: dict[str, tuple[str, str]] = {}
        self.iam_tokens: dict[str, float] = {}
        self.iam_token_lifetime = 12 * 3600.0
        self.iam_exchanges = 0
        self.iam_failures = 0  # the next exchanges answered 503 (IAM down)
        # Seconds IAM's clock is behind the bot's: the `expiresAt` it writes (its tokens live
        # as long all the same).
        self.iam_clock_lag = 0.0
        self.app.router.add_post("/iam/v1/tokens", self._iam_token)
        self.app.router.add_post("/foundationModels/v1/completion", self._complete)
        self.app.router.add_post("/foundationModels/v1/tokenize", self._tokenize)
        self.app.router.add_post("/foundationModels/v1/imageGenerationAsync", self._submit)
        self.app.router.add_get("/operations/{id}", self._get)
        self.app.router.add_post("/operations/{id}:cancel", self._cancel)

    @property
    def generations(self) -> int:
        """Operations created: what Yandex would bill."""
        return len(self.operations)

    @property
    def polls(self) -> int:
        return sum(op.polls for op in self.operations.values())

    def _authorized(self, request: web.Request) -> bool:
        """An API key, or an IAM token this fake issued and that has not expired."""
        given = request.headers.get("Authorization", "")
        if given == f"Api-Key {self.api_key}":
            return True
        expires_at = self.iam_tokens.get(given.removeprefix("Bearer "))
        return given.startswith("Bearer ") and expires_at is not None and time.time() < expires_at

    async def _iam_token(self, request: web.Request) -> web.Response:
        """IAM's token exchange: a PS256 JWT signed by a known key, for this IAM, at most an
        hour long; anything else is refused as Yandex IAM refuses it."""
        body = await request.json()
        self.iam_exchanges += 1
        if self.iam_failures > 0:
            self.iam_failures -= 1
            return web.json_response({"code": 14, "message": "unavailable"}, status=503)
        try:
            header = jwt.get_unverified_header(body["jwt"])
            account, public_key = self.sa_keys[header["kid"]]
            claims = jwt.decode(
                body["jwt"],
                public_key,
                algorithms=["PS256"],
                audience="https://iam.api.cloud.yandex.net/iam/v1/tokens",
                issuer=account,
                options={"require": ["aud", "iss", "iat", "exp"]},
            )
        except (KeyError, jwt.InvalidTokenError):
            return web.json_response({"code": 16, "message": "Invalid JWT"}, status=401)
        if claims["exp"] - claims["iat"] > 3600:
            return web.json_response({"code": 3, "message": "JWT lifetime too long"}, status=400)
        token = f"t1.{secrets.token_urlsafe(16)}"
        expires_at = time.time() + self.iam_token_lifetime
        self.iam_tokens[token] = expires_at
        return web.json_response(
            {
                "iamToken": token,
                "expiresAt": datetime.fromtimestamp(
                    expires_at - self.iam_clock_lag, UTC
                ).isoformat(),
            }
        )

    async def _submit(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.submits.append((dict(request.headers), body))
        if not self._authorized(request):
            return web.json_response({"code": 16, "message": "Unknown api key"}, status=401)
        if self.submit_faults:
            fault = self.submit_faults.pop(0)
            return web.json_response(fault.body, status=fault.status, headers=fault.headers)
        model_uri = str(body.get("modelUri", ""))
        if not _MODEL_URI.match(model_uri):
            message = f"invalid model_uri: {model_uri[:100]}"
            return web.json_response({"code": 3, "message": message}, status=400)
        if model_uri in self.refused_models:
            refusal = self.refused_models[model_uri]
            return web.json_response(refusal.body, status=refusal.status)
        key = request.headers.get("Idempotency-Key")
        if not _is_uuid(key):
            # Yandex Cloud's API design guide: the header must hold a UUID.
            message = "Idempotency-Key must be a UUID"
            return web.json_response({"code": 3, "message": message}, status=400)
        text = " ".join(m["text"] for m in body["messages"]).lower()
        if any(word in text for word in self.banned_words):
            return web.json_response({"code": 3, "message": MODERATION_MESSAGE}, status=400)
        if key and key in self.by_idempotency_key:
            return web.json_response(
                self._operation_json(self.operations[self.by_idempotency_key[key]])
            )
        op = Operation(
            id=f"op{next(self._ids)}",
            body=body,
            image=b"",
            polls_to_finish=self.polls_to_finish,
            error=self.operation_error,
        )
        self.operations[op.id] = op
        if self.duration is not None:
            op.finishes_at = time.monotonic() + self.duration(body)
        if self.chaos is not None and self.chaos.rng.random() < self.chaos.failed_operation:
            self.chaos.injected["operation:failed"] += 1
            op.error = {"code": 13, "message": "internal error", "details": []}
        if key:
            self.by_idempotency_key[key] = op.id
        # Drawn off the event loop, once the operation is known (a retried submit finds it);
        # the bot cannot poll before this answer.
        op.image = await self._image(body)
        return web.json_response(self._operation_json(op))

    async def _image(self, body: dict[str, Any]) -> bytes:
        if self.image_factory is not None:
            return await asyncio.to_thread(self.image_factory, body)
        return b"\xff\xd8\xff\xe0" + json.dumps(body).encode() + secrets.token_bytes(64)

    async def _complete(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.completions.append((dict(request.headers), body))
        if not self._authorized(request):
            return web.json_response({"code": 16, "message": "Unknown api key"}, status=401)
        if self.completion_faults:
            fault = self.completion_faults.pop(0)
            return web.json_response(fault.body, status=fault.status, headers=fault.headers)
        user_text = body["messages"][-1]["text"]
        text = self.completion_text if self.completion_text is not None else f"vivid {user_text}"
        return web.json_response(
            {
                "result": {
                    "alternatives": [
                        {
                            "message": {"role": "assistant", "text": text},
                            "status": "ALTERNATIVE_STATUS_FINAL",
                        }
                    ],
                    "usage": {
                        "inputTextTokens": "10",
                        "completionTokens": "10",
                        "totalTokens": "20",
                    },
                    "modelVersion": "test",
                }
            }
        )

    async def _tokenize(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.probes.append(dict(request.headers))
        if not self._authorized(request):
            return web.json_response({"code": 16, "message": "Unknown api key"}, status=401)
        if not str(body.get("modelUri", "")).startswith("gpt://"):
            return web.json_response({"code": 3, "message": "invalid model_uri"}, status=400)
        tokens = [{"id": "1", "text": word, "special": False} for word in body["text"].split()]
        return web.json_response({"tokens": tokens, "modelVersion": "test"})

    async def _get(self, request: web.Request) -> web.Response:
        op = self.operations.get(request.match_info["id"])
        if op is None:
            self.probes.append(dict(request.headers))
        if not self._authorized(request):
            return web.json_response({"code": 16, "message": "Unknown api key"}, status=401)
        if op is None:
            return web.json_response({"code": 5, "message": "Operation not found"}, status=404)
        if self.poll_faults:
            fault = self.poll_faults.pop(0)
            return web.json_response(fault.body, status=fault.status, headers=fault.headers)
        op.polls += 1
        return web.json_response(self._operation_json(op))

    async def _cancel(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": 16, "message": "Unknown api key"}, status=401)
        op_id = request.match_info["id"]
        self.cancels.append(op_id)
        if op_id in self.operations:
            self.operations[op_id].cancelled = True
        return web.json_response({"id": op_id, "done": True})

    def _operation_json(self, op: Operation) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "id": op.id,
            "description": "",
            "createdAt": "2026-11-25T10:00:00Z",
            "createdBy": "ajetest",
            "modifiedAt": "2026-11-25T10:00:00Z",
            "done": False,
            "metadata": None,
        }
        if not self._finished(op):
            return answer
        if op.finished_at is None:
            op.seen_done_at = time.monotonic()
            op.finished_at = time.time()
            if op.finishes_at is not None:  # when it really finished, not when first seen
                op.finished_at -= max(0.0, time.monotonic() - op.finishes_at)
        answer["done"] = True
        answer["modifiedAt"] = datetime.fromtimestamp(op.finished_at, UTC).isoformat()
        if op.error is not None:
            answer["error"] = op.error
        else:
            answer["response"] = {
                "@type": "type.googleapis.com/yandex.cloud.ai.foundation_models.v1."
                "image_generation.ImageGenerationResponse",
                "image": base64.b64encode(op.image + bytes(self.image_padding)).decode(),
                "modelVersion": "",
            }
        return answer

    def _finished(self, op: Operation) -> bool:
        if self.hold or op.body.get("modelUri") in self.stalled_models:
            return False
        if op.finishes_at is not None:
            return time.monotonic() >= op.finishes_at
        return op.polls >= op.polls_to_finish

    @web.middleware
    async def _faults(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Middleware for `chaos` and `on_request` around submits and polls."""
        if request.path == "/foundationModels/v1/imageGenerationAsync":
            kind = "submit"
        elif request.method == "GET" and request.match_info.get("id") in self.operations:
            kind = "poll"
            self.poll_times.append(time.monotonic())
        else:
            return await handler(request)
        if self.on_request is not None and await self.on_request("before", kind):
            return _drop(request)
        chaos = self.chaos
        fault = chaos.pick(kind) if chaos is not None else None
        if chaos is None or fault is None:
            response = await handler(request)
        else:
            response = await _with_fault(chaos, fault, request, handler)
        if self.on_request is not None and await self.on_request("after", kind):
            return _drop(request)
        return response


async def _with_fault(
    chaos: YandexChaos,
    fault: str,
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    if fault == "rate_limit":
        retry_after = {"Retry-After": f"{chaos.retry_after:g}"}
        body = {"code": 8, "message": "rate exceeded"}
        return web.json_response(body, status=429, headers=retry_after)
    if fault == "server_error":
        status = chaos.rng.choice((500, 503))
        return web.json_response({"code": 14, "message": "unavailable"}, status=status)
    if fault.endswith("_before"):
        if fault == "timeout_before":
            await asyncio.sleep(chaos.timeout_delay)
        return _drop(request)
    response = await handler(request)
    if fault.endswith("_after"):
        if fault == "timeout_after":
            await asyncio.sleep(chaos.timeout_delay)
        return _drop(request)
    if fault == "slow_body" and isinstance(response, web.Response):
        return await _slowly(request, response, chaos.slow_delay)
    return response


def _is_uuid(value: str | None) -> bool:
    try:
        return value is not None and str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def _drop(request: web.Request) -> web.Response:
    """Close the connection without an answer (the returned response goes nowhere)."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=599)


async def _slowly(
    request: web.Request, response: web.Response, seconds: float
) -> web.StreamResponse:
    """The same answer, its body written in a few pieces spread over `seconds`."""
    body = response.body if isinstance(response.body, bytes) else b""
    slow = web.StreamResponse(status=response.status)
    slow.content_type = response.content_type
    slow.content_length = len(body)
    pieces = 4
    size = max(1, -(-len(body) // pieces))
    try:
        await slow.prepare(request)
        for start in range(0, len(body), size):
            await asyncio.sleep(seconds / pieces)
            await slow.write(body[start : start + size])
        await slow.write_eof()
    except (ConnectionError, RuntimeError):
        pass  # the client gave up waiting
    return slow
