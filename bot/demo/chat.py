"""The chat page: the emulated Telegram as a person sees it, served by aiohttp.

The page lists three chats (Ann's private chat with the bot, a group where Ann and Boris
talk to it, and Ann's chat with Boris where she uses inline mode), pushes what the user
types or presses into the emulated Bot API as updates, and is told of every change over
server-sent events. Middlewares on the emulators record each request the bot makes, for
the page's protocol panel.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.demo.markup import to_html
from bot.emulators.local_server import LocalServer
from bot.emulators.telegram import BOT_USERNAME, FakeTelegram, request_params

STATIC = Path(__file__).parent / "static"
ANN, BORIS = 7001, 7002
GROUP = -1001234567
NAMES = {ANN: "Ann", BORIS: "Boris"}
LANGUAGES = ("en", "ru")
# Views of the page -> the Telegram chat they show (the inline chat is not the bot's).
CHATS = {"private": ANN, "group": GROUP}
LOG_SIZE = 300
VALUE_MAX = 300  # longer strings (pictures in base64, long texts) are shortened in the log
KEEPALIVE = 15.0
DRAFT_LIFETIME = 30.0  # seconds a draft stays on screen without an update (Telegram's)
INLINE_QUERIES_KEPT = 50  # a result can be picked from one of the latest queries only
# A voice message's audio: an OGG page header (SpeechKit refuses anything else), then the
# words it stands for.
VOICE_HEADER = b"OggS\x00\x02demo-voice:"
# What the page shows of a button: `style` (Bot API 9.4: danger, success, primary) and
# `disabled` (10.3: shown, not pressable) besides what it does.
BUTTON_FIELDS = frozenset(
    ("text", "callback_data", "url", "switch_inline_query_current_chat", "style", "disabled")
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Draft:
    draft_id: int
    html: str
    can_stop: bool
    at: float  # monotonic time of its latest update

    def view(self) -> dict[str, Any]:
        """The draft as the page draws it: the bot's message being written."""
        return {
            "key": f"draft-{self.draft_id}",
            "from": "Art",
            "user": None,
            "bot": True,
            "via": None,
            "html": self.html,
            "photo": None,
            "album": None,
            "document": None,
            "voice": None,
            "buttons": [],
            "edited": False,
            "draft": True,
            "stop": self.can_stop,
        }


@dataclass
class InlineChoice:
    query: str
    user: int
    results: list[dict[str, Any]]


class ChatPage(LocalServer):
    """The page's server; it shows `telegram`'s chats and records what the bot asks of it
    (and of the emulators passed to `watch`)."""

    def __init__(self, telegram: FakeTelegram) -> None:
        super().__init__()
        self.telegram = telegram
        self.log: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
        # Telegram HTML of messages as the bot sent it (the emulator keeps the visible
        # text), by (chat id, message id) or inline message id; and which were edited.
        self.html: dict[Any, str] = {}
        self.edited: set[Any] = set()
        self.inline_queries: dict[str, InlineChoice] = {}
        self.inline_messages: list[str] = []  # in Ann's chat with Boris, in order
        # Each chat's live draft (Bot API 9.5) until the bot sends a message there.
        self.drafts: dict[int, Draft] = {}
        # Arrival order of messages: ephemeral ones have ids of their own.
        self._order: dict[Any, int] = {}
        self._arrivals = itertools.count()
        self._subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._closing = False
        routes = self.app.router
        routes.add_get("/", self._index)
        routes.add_static("/static", STATIC)
        routes.add_get("/api/state", self._state)
        routes.add_get("/events", self._events)
        routes.add_get("/file/{file_id}", self._file)
        routes.add_post("/api/send", self._send)
        routes.add_post("/api/voice", self._voice)
        routes.add_post("/api/press", self._press)
        routes.add_post("/api/inline", self._inline)
        routes.add_post("/api/choose", self._choose)
        routes.add_post("/api/stop", self._stop)
        telegram.app.middlewares.append(self._telegram_requests)

    def watch(self, service: str, server: LocalServer) -> None:
        """Record each request `server` (a Yandex emulator) answers; before it starts."""

        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            body = await request.read()
            response = await handler(request)
            answer = _json_of(response)
            self._record(
                service,
                f"{request.method} {request.path}",
                _decode(body),
                response.status,
                answer,
            )
            return response

        server.app.middlewares.append(record)

    async def close(self) -> None:
        """End the event streams, so the server can stop at once."""
        self._closing = True
        for queue in self._subscribers:
            queue.put_nowait(None)

    # --- what the bot does --------------------------------------------------------------

    @web.middleware
    async def _telegram_requests(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        response = await handler(request)
        # A Bot API method, or a file download (its URL holds the token: only its path shown).
        method = request.match_info.get("method") or f"download {request.match_info['path']}"
        answer = _json_of(response)
        result = answer.get("result") if isinstance(answer, dict) else None
        if method == "getUpdates" and not result:
            return response  # the long poll, every second: shown only when it brings news
        params = await request_params(request)
        shown = {name: _param(value) for name, value in params.items()}
        self._record("telegram", method, shown, response.status, answer)
        if isinstance(answer, dict) and answer.get("ok"):
            self._note(method, {k: v for k, v in params.items() if isinstance(v, str)}, result)
        return response

    def _note(self, method: str, params: dict[str, str], result: Any) -> None:
        """Keep the HTML of what the bot sent, and tell the page what changed."""
        mode = params.get("parse_mode")
        key = _key(params, result)
        sent = result if isinstance(result, list) else [result]
        for message in sent:
            if isinstance(message, dict) and "chat" in message:
                self._arrived(_key({}, message))
                if not message.get("ephemeral_message_id"):
                    # Telegram: a draft disappears once the bot sends a message.
                    self.drafts.pop(message["chat"]["id"], None)
        if method == "sendMessageDraft":
            self.drafts[int(params["chat_id"])] = Draft(
                int(params["draft_id"]),
                to_html(params.get("text", ""), mode),
                params.get("can_stop") == "true",
                time.monotonic(),
            )
        if method in ("sendMessage", "editMessageText"):
            self.html[key] = to_html(params["text"], mode)
        elif method in ("sendPhoto", "sendDocument", "editMessageCaption"):
            self.html[key] = to_html(params.get("caption", ""), mode)
        elif method == "editMessageMedia":
            media = json.loads(params["media"])
            self.html[key] = to_html(media.get("caption", ""), media.get("parse_mode"))
        elif method == "sendMediaGroup":
            for item, message in zip(json.loads(params["media"]), result, strict=False):
                mkey = (message["chat"]["id"], message["message_id"])
                self.html[mkey] = to_html(item.get("caption", ""), item.get("parse_mode"))
        elif method == "answerInlineQuery":
            choice = self.inline_queries.get(params["inline_query_id"])
            if choice is not None:
                choice.results = json.loads(params.get("results", "[]"))
            self._publish({"type": "inline", "query_id": params["inline_query_id"]})
        elif method == "answerCallbackQuery" and params.get("text"):
            alert = params.get("show_alert") == "true"
            self._publish({"type": "toast", "text": params["text"], "alert": alert})
        elif method == "sendChatAction":
            chat_id = int(params["chat_id"])
            self._publish({"type": "action", "chat_id": chat_id, "action": params["action"]})
        if method.startswith("edit"):
            self.edited.add(key)
        self._publish({"type": "changed"})

    def _arrived(self, key: Any) -> None:
        self._order.setdefault(key, next(self._arrivals))

    def _record(self, service: str, what: str, request: Any, status: int, answer: Any) -> None:
        entry = {
            "at": time.time(),
            "service": service,
            "what": what,
            "request": _shorten(request),
            "status": status,
            "answer": _shorten(answer),
        }
        self.log.append(entry)
        self._publish({"type": "log", "entry": entry})

    def _publish(self, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self._subscribers.discard(queue)  # a page that stopped reading

    # --- what the person does -----------------------------------------------------------

    async def _send(self, request: web.Request) -> web.Response:
        body = await _body(request)
        chat_id = _chat(body)
        user = _user(body, chat_id)
        text = str(body.get("text", "")).strip()
        if not text or len(text) > 4096:
            raise web.HTTPBadRequest(text="a message is 1-4096 characters")
        update = self.telegram.new_update(text, chat_id=chat_id, user_id=user)
        _sign(update["message"], user, _language(body))
        self._arrived((chat_id, update["message"]["message_id"]))
        self.telegram.push(update)
        self._publish({"type": "changed"})
        return web.json_response({"message_id": update["message"]["message_id"]})

    async def _voice(self, request: web.Request) -> web.Response:
        """A voice message in the private chat: its audio stands for the words typed, which
        the SpeechKit emulator then "hears" (see `spoken`)."""
        body = await _body(request)
        words = str(body.get("text", "")).strip()
        if not words or len(words) > 1000:
            raise web.HTTPBadRequest(text="say 1-1000 characters")
        audio = VOICE_HEADER + words.encode()
        message = self.telegram.push_voice(audio, duration=3, size=len(audio), chat_id=ANN)
        _sign(message, ANN, _language(body))
        self._arrived((ANN, message["message_id"]))
        self._publish({"type": "changed"})
        return web.json_response({"message_id": message["message_id"]})

    async def _press(self, request: web.Request) -> web.Response:
        body = await _body(request)
        data = str(body.get("data", ""))
        inline_id = body.get("inline_message_id")
        if isinstance(inline_id, str) and inline_id in self.inline_messages:
            user = _user(body, GROUP)
            self.telegram.push_callback(data, inline_message_id=inline_id, user_id=user)
        else:
            chat_id = _chat(body)
            user = _user(body, chat_id)
            message_id = body.get("message_id")
            ephemeral_id = body.get("ephemeral_id")
            if isinstance(ephemeral_id, int):
                message = self.telegram.ephemeral.get((chat_id, ephemeral_id))
            elif isinstance(message_id, int):
                message = self.telegram.messages.get((chat_id, message_id))
            else:
                raise web.HTTPBadRequest(text="message_id must be a number")
            if message is None:
                raise web.HTTPNotFound(text="no such message")
            self.telegram.push_callback(data, message=message, user_id=user)
        _sign(self.telegram.pushed[-1]["callback_query"], user, _language(body))
        return web.json_response({})

    async def _inline(self, request: web.Request) -> web.Response:
        body = await _body(request)
        user = _user(body, GROUP)
        query = str(body.get("query", ""))[:256]  # Telegram's limit for an inline query
        query_id = self.telegram.push_inline_query(query, user_id=user)
        _sign(self.telegram.pushed[-1]["inline_query"], user, _language(body))
        self.inline_queries[query_id] = InlineChoice(query, user, [])
        while len(self.inline_queries) > INLINE_QUERIES_KEPT:
            del self.inline_queries[next(iter(self.inline_queries))]
        return web.json_response({"query_id": query_id})

    async def _choose(self, request: web.Request) -> web.Response:
        """The user picks a result: Telegram posts it in the chat, and (since it has a
        keyboard) reports it to the bot with the new inline message's id."""
        body = await _body(request)
        choice = self.inline_queries.get(str(body.get("query_id")))
        results = {r["id"]: r for r in choice.results} if choice else {}
        result = results.get(str(body.get("result_id")))
        if choice is None or result is None:
            raise web.HTTPNotFound(text="no such result")
        content = result.get("input_message_content", {})
        text = content.get("message_text", "")
        inline_id = self.telegram.push_chosen_inline_result(
            result["id"], choice.query, user_id=choice.user
        )
        _sign(self.telegram.pushed[-1]["chosen_inline_result"], choice.user, _language(body))
        message: dict[str, Any] = {"text": text}
        if "reply_markup" in result:
            message["reply_markup"] = result["reply_markup"]
        self.telegram.inline_messages[inline_id] = message
        self.html[inline_id] = to_html(text, content.get("parse_mode"))
        self.inline_messages.append(inline_id)
        self._publish({"type": "changed"})
        return web.json_response({"inline_message_id": inline_id})

    async def _stop(self, request: web.Request) -> web.Response:
        """Stop on the private chat's live draft (Bot API 10.3)."""
        await _body(request)
        draft = self.drafts.get(ANN)
        if draft is None or not draft.can_stop:
            raise web.HTTPNotFound(text="no draft to stop")
        self.telegram.push_stop(ANN, draft.draft_id)
        del self.drafts[ANN]
        self._publish({"type": "changed"})
        return web.json_response({})

    # --- what the page reads ------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())

    def state(self) -> dict[str, Any]:
        """Everything the page shows, as JSON."""
        chats: dict[str, list[dict[str, Any]]] = {}
        for view, chat_id in CHATS.items():
            found: dict[Any, dict[str, Any]] = {
                k: m for k, m in self.telegram.messages.items() if k[0] == chat_id
            }
            found |= {("e", *k): m for k, m in self.telegram.ephemeral.items() if k[0] == chat_id}
            keys = sorted(found, key=lambda k: (self._order.get(k, -1), str(k)))
            chats[view] = [self._view(k, found[k]) for k in keys]
            draft = self.drafts.get(chat_id)
            if draft is not None and time.monotonic() - draft.at < DRAFT_LIFETIME:
                chats[view].append(draft.view())
        chats["inline"] = [
            self._view(inline_id, self.telegram.inline_messages[inline_id])
            for inline_id in self.inline_messages
            if inline_id in self.telegram.inline_messages
        ]
        profile = self.telegram.profile
        return {
            "bot": BOT_USERNAME,
            "users": {str(k): v for k, v in NAMES.items()},
            "chats": chats,
            "commands": {
                lang: profile.get(("commands", lang)) or profile.get(("commands", ""), [])
                for lang in LANGUAGES
            },
            "inline": {
                query_id: {"query": c.query, "results": [_result_view(r) for r in c.results]}
                for query_id, c in list(self.inline_queries.items())[-5:]
            },
            "log": list(self.log),
        }

    def _view(self, key: Any, message: dict[str, Any]) -> dict[str, Any]:
        """One message as the page draws it."""
        media = message.get("media")  # an inline message edited into a photo
        photo = message.get("photo")
        file_id = photo[-1]["file_id"] if photo else None
        if isinstance(media, dict) and media.get("type") == "photo":
            file_id = str(media.get("media"))
        sender = message.get("from", {"first_name": BOT_USERNAME, "is_bot": True})
        via_inline = isinstance(key, str)
        visible = message.get("text") or message.get("caption") or ""
        view: dict[str, Any] = {
            "key": key if via_inline else key[1],
            "from": sender.get("first_name", ""),
            "user": sender.get("id") if not sender.get("is_bot") else None,
            "bot": bool(sender.get("is_bot")) or via_inline,
            "via": BOT_USERNAME if via_inline else None,
            "html": self.html.get(key, to_html(visible, None)),
            "photo": f"/file/{file_id}" if file_id else None,
            "album": message.get("media_group_id"),
            "document": (message.get("document") or {}).get("file_id"),
            "voice": (message.get("voice") or {}).get("duration"),
            "buttons": _buttons(message.get("reply_markup")),
            "edited": key in self.edited,
        }
        if message.get("ephemeral_message_id"):
            view["key"] = message["ephemeral_message_id"]
            view["ephemeral"] = True
            view["for"] = message["receiver_user"]["id"]
        reply = message.get("reply_to_message")
        if reply is not None:
            view["reply_to"] = (reply.get("text") or reply.get("caption") or "🖼")[:80]
        return view

    async def _file(self, request: web.Request) -> web.Response:
        data = self.telegram.uploads.get(request.match_info["file_id"])
        if data is None:
            raise web.HTTPNotFound()
        kind = "image/jpeg" if data.startswith(b"\xff\xd8") else "application/octet-stream"
        return web.Response(body=data, content_type=kind)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: `changed` (read the state again), `log`, `toast`, `inline`,
        `action`; a comment every KEEPALIVE seconds keeps proxies from closing it."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=1000)
        self._subscribers.add(queue)
        try:
            # Until the demo stops, or a page so slow that its queue filled up was dropped
            # (it reconnects and reads the state again).
            while not self._closing and queue in self._subscribers:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if event is None:
                    break
                await response.write(f"data: {json.dumps(event)}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass  # the page went away, or the server stops
        finally:
            self._subscribers.discard(queue)
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response


async def _body(request: web.Request) -> dict[str, Any]:
    """The page's JSON; only as application/json, which another web site's page cannot
    send without a CORS preflight that this server never allows."""
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send application/json")
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="the body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body


def _chat(body: dict[str, Any]) -> int:
    chat = CHATS.get(str(body.get("chat")))
    if chat is None:
        raise web.HTTPBadRequest(text=f"chat must be one of {', '.join(CHATS)}")
    return chat


def _user(body: dict[str, Any], chat_id: int) -> int:
    """Ann, or in the group also Boris."""
    user = body.get("user", ANN)
    if user not in NAMES or (chat_id == ANN and user != ANN):
        raise web.HTTPBadRequest(text="no such user in this chat")
    return int(user)


def _language(body: dict[str, Any]) -> str:
    language = str(body.get("language", "en"))
    return language if language in LANGUAGES else "en"


def _sign(update_part: dict[str, Any], user: int, language: str) -> None:
    """The sender's name and language (the emulator calls every user Ann, in English)."""
    update_part["from"] = {**update_part["from"], "first_name": NAMES[user]}
    update_part["from"]["language_code"] = language


def _key(params: dict[str, str], result: Any) -> Any:
    """A message's key: an inline message's id, ("e", chat id, id) for an ephemeral one,
    else (chat id, message id)."""
    if "inline_message_id" in params:
        return params["inline_message_id"]
    if isinstance(result, dict) and result.get("ephemeral_message_id"):
        return ("e", result["chat"]["id"], result["ephemeral_message_id"])
    if isinstance(result, dict) and "chat" in result:
        return (result["chat"]["id"], result["message_id"])
    return (int(params.get("chat_id", 0)), int(params.get("message_id", 0)))


def _buttons(markup: Any) -> list[list[dict[str, str]]]:
    if not isinstance(markup, dict):
        return []
    return [
        [{k: str(v) for k, v in button.items() if k in BUTTON_FIELDS} for button in row]
        for row in markup.get("inline_keyboard", [])
    ]


def _result_view(result: dict[str, Any]) -> dict[str, str]:
    return {
        "id": str(result.get("id", "")),
        "title": str(result.get("title", "")),
        "description": str(result.get("description", "")),
    }


def spoken(audio: bytes) -> str:
    """What the SpeechKit emulator hears in a voice message the page sent (the words
    after its OGG header), or "" for any other audio."""
    if not audio.startswith(VOICE_HEADER):
        return ""
    return audio[len(VOICE_HEADER) :].decode(errors="replace")


def _param(value: Any) -> Any:
    """A request parameter for the log: JSON decoded, a file as its size."""
    if not isinstance(value, str):
        value.file.seek(0, 2)
        return f"<file {value.filename}: {value.file.tell()} bytes>"
    if value[:1] in ("{", "["):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def _decode(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return f"<{len(body)} bytes>"


def _json_of(response: web.StreamResponse) -> Any:
    if isinstance(response, web.Response) and isinstance(response.body, bytes):
        return _decode(response.body)
    return None


def _shorten(value: Any) -> Any:
    """Long strings (pictures in base64) as their length; everything else as it is."""
    if isinstance(value, str) and len(value) > VALUE_MAX:
        return f"<{len(value)} characters>"
    if isinstance(value, dict):
        return {k: _shorten(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shorten(v) for v in value]
    return value
