"""A small fake YandexART server: async generation, operations, errors on demand.

Every operation finishes after `polls_to_finish` polls with a distinct JPEG-like payload;
idempotency keys are honoured like a real API would, so a retried submit creates nothing new.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.local_server import LocalServer

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


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


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
        self.cancels: list[str] = []
        # While held, no operation finishes (e.g. while a test kills the bot).
        self.hold = False
        self._ids = itertools.count(1)
        # YandexGPT completion (prompt enhancement): each request, and what to answer.
        self.completions: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.completion_faults: list[Reply] = []
        self.completion_text: str | None = None  # None: "vivid " + the user's text
        self.app.router.add_post("/foundationModels/v1/completion", self._complete)
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
        return request.headers.get("Authorization") == f"Api-Key {self.api_key}"

    async def _submit(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.submits.append((dict(request.headers), body))
        if not self._authorized(request):
            return web.json_response({"code": 16, "message": "Unknown api key"}, status=401)
        if self.submit_faults:
            fault = self.submit_faults.pop(0)
            return web.json_response(fault.body, status=fault.status, headers=fault.headers)
        text = " ".join(m["text"] for m in body["messages"]).lower()
        if any(word in text for word in self.banned_words):
            return web.json_response({"code": 3, "message": MODERATION_MESSAGE}, status=400)
        key = request.headers.get("Idempotency-Key")
        if key and key in self.by_idempotency_key:
            return web.json_response(
                self._operation_json(self.operations[self.by_idempotency_key[key]])
            )
        op = Operation(
            id=f"op{next(self._ids)}",
            body=body,
            image=b"\xff\xd8\xff\xe0" + json.dumps(body).encode() + secrets.token_bytes(64),
            polls_to_finish=self.polls_to_finish,
            error=self.operation_error,
        )
        self.operations[op.id] = op
        if key:
            self.by_idempotency_key[key] = op.id
        return web.json_response(self._operation_json(op))

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

    async def _get(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": 16, "message": "Unknown api key"}, status=401)
        op = self.operations.get(request.match_info["id"])
        if op is None:
            return web.json_response({"code": 5, "message": "Operation not found"}, status=404)
        if self.poll_faults:
            fault = self.poll_faults.pop(0)
            return web.json_response(fault.body, status=fault.status, headers=fault.headers)
        op.polls += 1
        return web.json_response(self._operation_json(op))

    async def _cancel(self, request: web.Request) -> web.Response:
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
        if self.hold or op.polls < op.polls_to_finish:
            return answer
        if op.finished_at is None:
            op.finished_at = time.time()
        answer["done"] = True
        answer["modifiedAt"] = datetime.fromtimestamp(op.finished_at, UTC).isoformat()
        if op.error is not None:
            answer["error"] = op.error
        else:
            answer["response"] = {
                "@type": "type.googleapis.com/yandex.cloud.ai.foundation_models.v1."
                "image_generation.ImageGenerationResponse",
                "image": base64.b64encode(op.image).decode(),
                "modelVersion": "",
            }
        return answer
