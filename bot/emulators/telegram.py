"""A small fake Bot API server: enough of Telegram for the bot to run against it.

It keeps the chats' messages, so replies to deleted messages, edits and deletions behave
like Telegram's; tests push updates, inject faults and read back every call. Optional knobs
for benchmarks and the fault suite (off by default): flood limits per private chat and
overall besides the per-group one, random faults (`chaos`), answers lost after the work is
done (`lose_response`) and a hook around each call (`on_call`, e.g. to kill the bot there).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.emulators.local_server import LocalServer
from bot.emulators.telegram_rules import (
    CALLBACK_ANSWER_MAX,
    Refused,
    caption_text,
    check_keyboard,
    message_text,
    utf16_len,
    visible_text,
)

BOT_ID = 100500
# Bot API limits of the bot's profile, in characters (counted here in UTF-16 code units,
# as Telegram counts message lengths: the stricter count for emoji).
MAX_COMMANDS = 100
MAX_COMMAND_DESCRIPTION = 256
MAX_DESCRIPTION = 512
MAX_SHORT_DESCRIPTION = 120
BOT_USERNAME = "art_test_bot"
# getUpdates hands out at most this many updates a call.
MAX_UPDATES = 100
# The placeholder `from` of messages sent by a group's anonymous admins, and on behalf of
# a channel.
ANONYMOUS_ADMIN = 1087968824
CHANNEL_BOT = 136817688
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup"
    " are exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
# Payments in Telegram Stars (digital goods): the only currency, the payload's limit in
# bytes, and how long Telegram waits for the answer to a pre-checkout query.
STARS = "XTR"
PAYLOAD_MAX = 128
PRE_CHECKOUT_WINDOW = 10.0


@dataclass
class Call:
    method: str
    params: dict[str, str]
    files: dict[str, bytes]
    at: float = field(default_factory=time.monotonic)
    result: Any = None

    def json(self, name: str) -> Any:
        return json.loads(self.params[name])


@dataclass
class Fault:
    status: int
    description: str
    retry_after: int | None = None


@dataclass
class TelegramChaos:
    """Random faults for calls of `methods`: each draws at most one, before any work is done
    (a refused or lost request; see `FakeTelegram.lose_response` for a lost answer)."""

    rng: random.Random
    methods: frozenset[str] = frozenset(
        {"sendMessage", "sendPhoto", "editMessageText", "deleteMessage", "sendChatAction"}
    )
    rate_limit: float = 0.0  # 429 with retry_after
    server_error: float = 0.0  # 500/502
    timeout: float = 0.0  # no answer for `timeout_delay` (longer than the client waits)
    drop: float = 0.0  # connection closed without an answer
    retry_after: int = 1
    timeout_delay: float = 1.0
    injected: Counter[str] = field(default_factory=Counter)

    def pick(self, method: str) -> str | None:
        if method not in self.methods:
            return None
        roll = self.rng.random()
        odds = [
            ("rate_limit", self.rate_limit),
            ("server_error", self.server_error),
            ("timeout", self.timeout),
            ("drop", self.drop),
        ]
        for name, p in odds:
            if roll < p:
                self.injected[f"{method}:{name}"] += 1
                return name
            roll -= p
        return None


# The token the emulator accepts unless told another; any other gets 401 Unauthorized.
BOT_TOKEN = "123456:TEST-token_value"


class FakeTelegram(LocalServer):
    def __init__(self, token: str = BOT_TOKEN) -> None:
        super().__init__()
        # Telegram answers 401 Unauthorized to any other token.
        self.token = token
        self.refused_tokens = 0
        self.inline_mode = True  # @BotFather's /setinline
        self.webhook: dict[str, Any] = {}  # what setWebhook set, for getWebhookInfo
        # What users see about the bot: ("commands" | "description" | "short_description",
        # language code or "") -> what was set.
        self.profile: dict[tuple[str, str], Any] = {}
        self.calls: list[Call] = []
        self.faults: dict[str, list[Fault]] = {}
        self.blocked: set[int] = set()
        self.inline_messages: dict[str, dict[str, Any]] = {}
        # Flood limit per group: at most `group_limit` messages per `group_window` seconds.
        self.group_limit: int | None = None
        self.group_window = 60.0
        self.flood_refusals = 0
        self.flood_refusals_by: Counter[str] = Counter()  # "group", "chat", "global"
        self._group_sends: dict[int, list[float]] = {}
        # The same per private chat (Telegram: about 1 a second) and over all chats (30/s).
        self.chat_limit: int | None = None
        self.chat_window = 1.0
        self.global_limit: int | None = None
        self.global_window = 1.0
        self._chat_sends: dict[int, list[float]] = {}
        self._all_sends: list[float] = []
        self.chaos: TelegramChaos | None = None
        self.lost_responses: dict[str, int] = {}
        # Awaited "before" and "after" each call (not getUpdates) is answered; True drops
        # the connection there (the bot never hears back).
        self.on_call: Callable[[str, Call], Awaitable[bool]] | None = None
        # At most this many updates per getUpdates, below the `limit` asked for (Telegram:
        # at most 100); None: no lower cap.
        self.get_updates_limit: int | None = None
        self.get_updates_calls = 0
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        # Button presses waiting for their one answer, by query id: when pushed (monotonic).
        self.open_queries: dict[str, float] = {}
        self.answered_queries: dict[str, float] = {}  # the same, once answered
        # Guest queries (Bot API 10.0) waiting for their one answer: when pushed.
        self.guest_queries: dict[str, float] = {}
        self.guest_answer_window = 15.0
        self.callback_answer_window = 15.0  # Telegram: about 15 s
        self.chat_admins: dict[int, set[int]] = {}  # group id → its admins' user ids
        self.migrated: dict[int, int] = {}  # group id → the supergroup it became
        # Ephemeral messages (Bot API 10.2), seen by their receiver only: kept apart from
        # the chats' messages, by (chat id, ephemeral message id). False: this server
        # refuses them all (as one without Bot API 10.2 would).
        self.ephemeral_enabled = True
        self.ephemeral: dict[tuple[int, int], dict[str, Any]] = {}
        # Message drafts (Bot API 9.5, 10.3): the latest of each (chat id, draft id), with
        # `updates` and `stopped`; an update sooner than `draft_min_interval` after the last
        # is refused with a 429. False: this server refuses drafts (before Bot API 9.5).
        self.drafts_enabled = True
        # Custom emoji on buttons: only for bots entitled to them (Bot API 9.4).
        self.custom_emoji = False
        self.drafts: dict[tuple[int, int], dict[str, Any]] = {}
        self.draft_min_interval = 1.0
        self.draft_refusals = 0
        self._ephemeral_ids = itertools.count(1)
        self._updates: list[dict[str, Any]] = []
        self.pushed: list[dict[str, Any]] = []  # every update queued, to deliver one again
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._new_update = asyncio.Event()
        self._changed = asyncio.Condition()
        self.app.router.add_post("/bot{token}/{method}", self._handle)
        # Voice messages: their audio by file_id (getFile), served at /file/bot<token>/<path>
        # to the bot's own token only; every download asked for, by path.
        # Payments: pre-checkout queries waiting for their one answer (query id -> when
        # pushed, monotonic), the answers given, and every Stars transaction, oldest first.
        self.pre_checkout_window = PRE_CHECKOUT_WINDOW
        self.open_pre_checkouts: dict[str, float] = {}
        self.pre_checkout_answers: dict[str, dict[str, str]] = {}
        self.star_transactions: list[dict[str, Any]] = []
        self.refunded_charges: set[str] = set()
        self._charge_ids = itertools.count(1)
        self.files: dict[str, tuple[str, bytes, int | None]] = {}
        self.downloads: list[str] = []
        # Every photo and document uploaded, by the file_id it got (the demo shows them).
        self.uploads: dict[str, bytes] = {}
        self.app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._stopping = False

    async def start(self, port: int = 0) -> None:
        self._stopping = False
        await super().start(port)

    async def stop(self) -> None:
        """A long poll still held is answered now, empty, as the server goes away: the
        runner's shutdown would otherwise wait for it (up to a second) whenever a bot had
        just stopped polling."""
        self._stopping = True
        self._new_update.set()
        await super().stop()

    # --- what tests do -------------------------------------------------------------------

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates."""
        self._updates.append(update)
        self.pushed.append(update)
        self._new_update.set()
        return update

    def push_message(self, text: str, **options: Any) -> int:
        """A user's message, queued for getUpdates; returns its message id.
        `options` takes the keyword arguments of `new_update`."""
        return int(self.push(self.new_update(text, **options))["message"]["message_id"])

    def push_callback(
        self,
        data: str,
        *,
        message: dict[str, Any] | None = None,
        inline_message_id: str | None = None,
        user_id: int = 7001,
    ) -> str:
        """A button press on `message` (or an inline message); returns the query id."""
        query_id = f"cb{next(self._update_ids)}"
        query: dict[str, Any] = {
            "id": query_id,
            "from": _user(user_id, "en"),
            "chat_instance": "ci",
            "data": data,
        }
        if message is not None:
            query["message"] = message
        if inline_message_id is not None:
            query["inline_message_id"] = inline_message_id
        self.open_queries[query_id] = time.monotonic()
        self.push({"update_id": next(self._update_ids), "callback_query": query})
        return query_id

    def push_pre_checkout(self, invoice: Call, *, user_id: int = 7001) -> str:
        """The user pressed Pay under the invoice `invoice` (a sendInvoice call Telegram
        accepted): the pre-checkout query the bot must answer within 10 s; its id."""
        query_id = f"pcq{next(self._update_ids)}"
        query = {
            "id": query_id,
            "from": _user(user_id, "en"),
            "currency": invoice.params["currency"],
            "total_amount": invoice.json("prices")[0]["amount"],
            "invoice_payload": invoice.params["payload"],
        }
        self.open_pre_checkouts[query_id] = time.monotonic()
        self.push({"update_id": next(self._update_ids), "pre_checkout_query": query})
        return query_id

    def new_payment(self, invoice: Call, *, user_id: int = 7001) -> dict[str, Any]:
        """The payment after an accepted pre-checkout: the Stars move (listed by
        getStarTransactions) and the `successful_payment` message, as an update (not
        queued: push it once, or twice to play a redelivery)."""
        amount = invoice.json("prices")[0]["amount"]
        charge_id = f"stxCharge{next(self._charge_ids):06d}"
        self.star_transactions.append(
            {
                "id": charge_id,
                "amount": amount,
                "date": int(time.time()),
                "source": {
                    "type": "user",
                    "transaction_type": "invoice_payment",
                    "user": _user(user_id, "en"),
                    "invoice_payload": invoice.params["payload"],
                },
            }
        )
        update = self.new_update("", chat_id=user_id)
        message = update["message"]
        del message["text"]
        message["successful_payment"] = {
            "currency": STARS,
            "total_amount": amount,
            "invoice_payload": invoice.params["payload"],
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": "",
        }
        return update

    async def pay(self, invoice: Call, *, user_id: int = 7001, timeout: float = 10.0) -> str | None:
        """Play a user paying an invoice: the pre-checkout query, then, if the bot said
        ok in time, the payment message. Its charge id, or None if the bot refused."""
        query_id = self.push_pre_checkout(invoice, user_id=user_id)
        await self.wait_for_pre_checkout(query_id, timeout=timeout)
        if self.pre_checkout_answers[query_id].get("ok") != "true":
            return None
        update = self.push(self.new_payment(invoice, user_id=user_id))
        return str(update["message"]["successful_payment"]["telegram_payment_charge_id"])

    async def wait_for_pre_checkout(self, query_id: str, *, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: query_id in self.pre_checkout_answers)

    def push_guest_message(self, text: str, *, chat_id: int = -100900, user_id: int = 7001) -> str:
        """A user summoned the bot in a chat it is not a member of; returns the
        guest_query_id its one answer must name."""
        query_id = f"gq{next(self._update_ids)}"
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": _user(user_id, "en"),
            "text": text,
            "guest_query_id": query_id,
        }
        self.guest_queries[query_id] = time.monotonic()
        self.push({"update_id": next(self._update_ids), "guest_message": message})
        return query_id

    def push_stop(self, chat_id: int, draft_id: int) -> None:
        """The user pressed Stop on a draft sent with `can_stop` (Bot API 10.3)."""
        draft = self.drafts[(chat_id, draft_id)]
        assert draft["can_stop"], "no Stop button on this draft"
        draft["stopped"] = True
        self.push(
            {
                "update_id": next(self._update_ids),
                "stopped_message_generation": {"chat": _chat(chat_id), "draft_id": draft_id},
            }
        )

    def push_inline_query(self, text: str, *, user_id: int = 7001) -> str:
        query_id = f"iq{next(self._update_ids)}"
        self.push(
            {
                "update_id": next(self._update_ids),
                "inline_query": {
                    "id": query_id,
                    "from": _user(user_id, "en"),
                    "query": text,
                    "offset": "",
                },
            }
        )
        return query_id

    def push_chosen_inline_result(self, result_id: str, query: str, *, user_id: int = 7001) -> str:
        """The user picked an inline result; Telegram created an inline message."""
        inline_message_id = f"inline-{next(self._message_ids)}"
        self.inline_messages[inline_message_id] = {"text": ""}
        self.push(
            {
                "update_id": next(self._update_ids),
                "chosen_inline_result": {
                    "result_id": result_id,
                    "from": _user(user_id, "en"),
                    "query": query,
                    "inline_message_id": inline_message_id,
                },
            }
        )
        return inline_message_id

    def new_update(
        self,
        text: str,
        *,
        chat_id: int = 7001,
        user_id: int | None = None,
        language_code: str | None = "en",
        reply_to: dict[str, Any] | None = None,
        sender_chat: int | None = None,
    ) -> dict[str, Any]:
        """A user's message as an update (for a webhook), known to this fake's chats.
        Negative chat ids are groups, as in Telegram. With `sender_chat` the message is
        sent on behalf of that chat (the group itself: an anonymous admin; another id: a
        channel), and `from` is Telegram's placeholder user."""
        message_id = next(self._message_ids)
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": _user(user_id or abs(chat_id), language_code),
            "text": text,
        }
        if sender_chat is not None:
            placeholder = ANONYMOUS_ADMIN if sender_chat == chat_id else CHANNEL_BOT
            message["from"] = {**_user(placeholder, language_code), "is_bot": True}
            kind = "supergroup" if sender_chat == chat_id else "channel"
            message["sender_chat"] = {"id": sender_chat, "type": kind, "title": "Artists"}
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        self.messages[(chat_id, message_id)] = message
        return {"update_id": next(self._update_ids), "message": message}

    def new_voice(
        self,
        audio: bytes,
        *,
        duration: int = 3,
        size: int | None = None,
        chat_id: int = 7001,
        user_id: int | None = None,
        language_code: str | None = "en",
    ) -> dict[str, Any]:
        """A user's voice message (not queued), its audio served by getFile and the file
        path. `size` is the file_size Telegram reports (None: not reported)."""
        update = self.new_update("", chat_id=chat_id, user_id=user_id, language_code=language_code)
        message: dict[str, Any] = update["message"]
        del message["text"]
        file_id = f"voice-{message['message_id']}"
        voice: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": file_id,
            "duration": duration,
            "mime_type": "audio/ogg",
        }
        if size is not None:
            voice["file_size"] = size
        message["voice"] = voice
        self.files[file_id] = (f"voice/file_{message['message_id']}.oga", audio, size)
        return message

    def push_voice(self, audio: bytes, **options: Any) -> dict[str, Any]:
        """A voice message queued for getUpdates; `options` as for `new_voice`."""
        message = self.new_voice(audio, **options)
        self.push({"update_id": next(self._update_ids), "message": message})
        return message

    def fail(
        self,
        method: str,
        status: int,
        description: str,
        *,
        times: int = 1,
        retry_after: int | None = None,
    ) -> None:
        self.faults.setdefault(method, []).extend([Fault(status, description, retry_after)] * times)

    def lose_response(self, method: str, *, times: int = 1) -> None:
        """The next calls of `method` are carried out, but their answer never arrives."""
        self.lost_responses[method] = self.lost_responses.get(method, 0) + times

    def delete(self, chat_id: int, message_id: int) -> None:
        self.messages.pop((chat_id, message_id), None)

    def sent(self, method: str, chat_id: int | None = None, *, ok: bool = False) -> list[Call]:
        """Calls of `method` (to `chat_id`); with `ok`, only those Telegram accepted."""
        return [
            c
            for c in self.calls
            if c.method == method
            and (chat_id is None or c.params.get("chat_id") == str(chat_id))
            and (not ok or c.result is not None)
        ]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        *,
        chat_id: int | None = None,
        ok: bool = False,
        timeout: float = 10.0,
    ) -> list[Call]:
        def enough() -> bool:
            return len(self.sent(method, chat_id, ok=ok)) >= count

        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(enough)

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            seen = [c.method for c in self.calls]
            raise AssertionError(f"no {count}x {method} within {timeout}s; calls: {seen}") from None
        return self.sent(method, chat_id, ok=ok)

    # --- the Bot API ---------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            self.refused_tokens += 1
            return _error(401, "Unauthorized")
        params: dict[str, str] = {}
        files: dict[str, bytes] = {}
        try:
            form = await request_params(request)
        except ValueError:
            return _error(400, "Bad Request: can't parse JSON object")
        for name, value in form.items():
            if isinstance(value, web.FileField):
                files[name] = value.file.read()
            else:
                params[name] = str(value)
        call = Call(method, params, files)
        queued = self.faults.get(method)
        hooked = self.on_call is not None and method != "getUpdates"
        if hooked and self.on_call is not None and await self.on_call("before", call):
            return _drop(request)
        chaos = self.chaos.pick(method) if self.chaos is not None else None
        if queued:
            fault = queued.pop(0)
            response = _error(fault.status, fault.description, fault.retry_after)
        elif self.chaos is not None and chaos is not None:
            response = await _chaos_answer(self.chaos, chaos, request)
        else:
            response = await self._answer(method, call)
        if self.lost_responses.get(method, 0) > 0 and call.result is not None:
            self.lost_responses[method] -= 1
            response = _drop(request)
        if hooked and self.on_call is not None and await self.on_call("after", call):
            response = _drop(request)
        if method != "getUpdates":
            async with self._changed:
                self.calls.append(call)
                self._changed.notify_all()
        return response

    async def _answer(self, method: str, call: Call) -> web.Response:
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        try:
            check_keyboard(
                call.json("reply_markup") if "reply_markup" in call.params else None,
                custom_emoji=self.custom_emoji,
            )
            result = await handler(call)
        except ApiError as exc:
            return _error(exc.status, exc.description, exc.retry_after, exc.migrate_to_chat_id)
        except Refused as exc:
            return _error(400, exc.description)
        call.result = result
        return web.json_response({"ok": True, "result": result})

    async def _api_getMe(self, call: Call) -> Any:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Art",
            "username": BOT_USERNAME,
            "supports_inline_queries": self.inline_mode,
        }

    async def _api_getUpdates(self, call: Call) -> Any:
        self.get_updates_calls += 1
        if self.webhook:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(call.params.get("offset", 0))
        timeout = min(float(call.params.get("timeout", 0)), 1.0)
        # As Telegram: `limit` is clamped to 1-100, 100 when not given (telegram-bot-api's
        # Client::process_get_updates_query).
        limit = min(max(int(call.params.get("limit", MAX_UPDATES)), 1), MAX_UPDATES)
        if self.get_updates_limit is not None:
            limit = min(limit, self.get_updates_limit)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0 and not self._stopping:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout)
        return self._updates[:limit]

    async def _api_setMyCommands(self, call: Call) -> Any:
        """Bot API: at most 100 commands; a command is 1-32 of [a-z0-9_], its description
        1-256 characters."""
        commands = call.json("commands")
        if len(commands) > MAX_COMMANDS:
            raise ApiError(400, "Bad Request: too many commands")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command["command"]):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= _length(command["description"]) <= MAX_COMMAND_DESCRIPTION:
                raise ApiError(400, "Bad Request: command description is too long")
            if not isinstance(command.get("is_ephemeral", False), bool):
                raise ApiError(400, "Bad Request: can't parse BotCommand: is_ephemeral")
        self.profile[("commands", call.params.get("language_code", ""))] = commands
        return True

    async def _api_setMyDescription(self, call: Call) -> Any:
        description = call.params.get("description", "")
        if _length(description) > MAX_DESCRIPTION:
            raise ApiError(400, "Bad Request: description is too long")
        self.profile[("description", call.params.get("language_code", ""))] = description
        return True

    async def _api_setMyShortDescription(self, call: Call) -> Any:
        short = call.params.get("short_description", "")
        if _length(short) > MAX_SHORT_DESCRIPTION:
            raise ApiError(400, "Bad Request: short description is too long")
        self.profile[("short_description", call.params.get("language_code", ""))] = short
        return True

    async def _api_deleteWebhook(self, call: Call) -> Any:
        self.webhook = {}
        return True

    async def _api_setWebhook(self, call: Call) -> Any:
        self.webhook = {"url": call.params["url"]}
        return True

    async def _api_getWebhookInfo(self, call: Call) -> Any:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
            **self.webhook,
        }

    async def _api_sendChatAction(self, call: Call) -> Any:
        self._check_chat(call)
        return True

    async def _api_sendMessage(self, call: Call) -> Any:
        return self._new_message(call, {"text": message_text(call.params["text"], _mode(call))})

    async def _api_sendMessageDraft(self, call: Call) -> Any:
        """Private chats only; a non-zero draft id; 0-4096 characters (empty: "Thinking…");
        updates of one draft no closer than `draft_min_interval`; none once stopped."""
        if not self.drafts_enabled:
            raise ApiError(400, "Bad Request: method sendMessageDraft is not available")
        chat_id = self._check_chat(call)
        if chat_id < 0:
            raise ApiError(400, "Bad Request: drafts can be sent only to private chats")
        draft_id = int(call.params["draft_id"])
        if draft_id == 0:
            raise ApiError(400, "Bad Request: draft_id must be non-zero")
        text = call.params.get("text", "")
        shown = visible_text(text, _mode(call)) if text else ""
        if utf16_len(shown) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        now = time.monotonic()
        draft = self.drafts.get((chat_id, draft_id))
        if draft is not None:
            if draft["stopped"]:
                raise ApiError(400, "Bad Request: message generation was stopped by the user")
            if now - draft["at"] < self.draft_min_interval:
                self.draft_refusals += 1
                raise ApiError(429, "Too Many Requests: retry after 1", 1)
        self.drafts[(chat_id, draft_id)] = {
            "text": shown,
            "can_stop": call.params.get("can_stop") == "true",
            "at": now,
            "updates": (draft or {}).get("updates", 0) + 1,
            "stopped": False,
        }
        return True

    async def _api_sendPhoto(self, call: Call) -> Any:
        photo = self._photo_sizes(call, call.params["photo"])
        return self._new_message(call, {"photo": photo, **self._caption(call)})

    async def _api_sendMediaGroup(self, call: Call) -> Any:
        """An album, all or nothing, refused as Telegram refuses it: 2-10 items, no
        keyboard, documents and audio not mixed with other types, each caption parsed as
        its parse mode says and ≤ 1024 UTF-16 units of visible text."""
        if "reply_markup" in call.params:
            raise ApiError(400, "Bad Request: sendMediaGroup does not take reply_markup")
        media = call.json("media")
        if not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of media in the group: must be 2-10")
        kinds = {item["type"] for item in media}
        if not kinds <= {"photo", "document"}:
            raise ApiError(400, "Bad Request: unsupported media type in a media group")
        if len(kinds) > 1:
            raise ApiError(400, "Bad Request: documents can't be mixed with other media types")
        contents = []
        group_id = str(next(self._message_ids))
        for item in media:
            content: dict[str, Any] = {"media_group_id": group_id}
            if item["type"] == "photo":
                content["photo"] = self._photo_sizes(call, item["media"])
            else:
                content["document"] = self._document(call, item["media"])
            if item.get("caption"):
                content["caption"] = caption_text(item["caption"], item.get("parse_mode"))
            contents.append(content)
        self._check_chat(call)
        self._check_flood(int(call.params["chat_id"]))
        return [self._new_message(call, content, flood_checked=True) for content in contents]

    def _photo_sizes(self, call: Call, photo: str) -> list[dict[str, Any]]:
        if photo.startswith("attach://"):
            data = files_of(call, photo)
            file_id = f"photo-{len(data)}-{next(self._message_ids)}"
            self.uploads[file_id] = data
        elif photo.startswith("photo-"):
            file_id = photo  # sent again by file_id: no upload
        else:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return [{"file_id": file_id, "file_unique_id": file_id, "width": 1024, "height": 1024}]

    async def _api_sendDocument(self, call: Call) -> Any:
        caption = self._caption(call)
        document = self._document(call, call.params["document"])
        return self._new_message(call, {"document": document, **caption})

    def _document(self, call: Call, reference: str) -> dict[str, Any]:
        if reference.startswith("doc-"):
            return {"file_id": reference, "file_unique_id": reference}  # sent again
        if not reference.startswith("attach://"):
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        data = files_of(call, reference)
        self.uploads[f"doc-{len(data)}"] = data
        return {"file_id": f"doc-{len(data)}", "file_unique_id": f"doc-{len(data)}"}

    async def _api_answerCallbackQuery(self, call: Call) -> Any:
        """One answer per press, within about 15 s, as Telegram allows."""
        pushed = self.open_queries.pop(call.params["callback_query_id"], None)
        if pushed is None or time.monotonic() - pushed > self.callback_answer_window:
            raise ApiError(400, QUERY_INVALID)
        self.answered_queries[call.params["callback_query_id"]] = pushed
        if utf16_len(call.params.get("text", "")) > CALLBACK_ANSWER_MAX:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    async def _api_sendInvoice(self, call: Call) -> Any:
        """Digital goods: Stars only, no payment provider, exactly one price."""
        if call.params.get("currency") != STARS:
            raise ApiError(400, "Bad Request: CURRENCY_INVALID")
        if call.params.get("provider_token"):
            raise ApiError(400, "Bad Request: PROVIDER_TOKEN_INVALID: not empty for Stars")
        prices = call.json("prices")
        if len(prices) != 1 or not isinstance(prices[0].get("amount"), int):
            raise ApiError(400, "Bad Request: exactly one price is allowed for XTR")
        if prices[0]["amount"] < 1 or not prices[0].get("label"):
            raise ApiError(400, "Bad Request: TOTAL_AMOUNT_INVALID")
        if not 1 <= len(call.params.get("payload", "").encode()) <= PAYLOAD_MAX:
            raise ApiError(400, "Bad Request: INVOICE_PAYLOAD_INVALID")
        if not 1 <= _length(call.params.get("title", "")) <= 32:
            raise ApiError(400, "Bad Request: TITLE_INVALID")
        if not 1 <= _length(call.params.get("description", "")) <= 255:
            raise ApiError(400, "Bad Request: DESCRIPTION_INVALID")
        invoice = {
            "title": call.params["title"],
            "description": call.params["description"],
            "start_parameter": "",
            "currency": STARS,
            "total_amount": prices[0]["amount"],
        }
        return self._new_message(call, {"invoice": invoice})

    async def _api_answerPreCheckoutQuery(self, call: Call) -> Any:
        """One answer per query, within 10 s; a refusal must say why."""
        query_id = call.params["pre_checkout_query_id"]
        pushed = self.open_pre_checkouts.pop(query_id, None)
        if pushed is None or time.monotonic() - pushed > self.pre_checkout_window:
            raise ApiError(400, QUERY_INVALID)
        if call.params.get("ok") != "true" and not call.params.get("error_message"):
            raise ApiError(400, "Bad Request: ERROR_TEXT_EMPTY")
        self.pre_checkout_answers[query_id] = dict(call.params)
        return True

    async def _api_refundStarPayment(self, call: Call) -> Any:
        charge_id = call.params["telegram_payment_charge_id"]
        user_id = int(call.params["user_id"])
        paid = next((t for t in self.star_transactions if t["id"] == charge_id), None)
        if paid is None or "source" not in paid or paid["source"]["user"]["id"] != user_id:
            raise ApiError(400, "Bad Request: CHARGE_NOT_FOUND")
        if charge_id in self.refunded_charges:
            raise ApiError(400, "Bad Request: CHARGE_ALREADY_REFUNDED")
        self.refunded_charges.add(charge_id)
        self.star_transactions.append(
            {
                "id": charge_id,
                "amount": paid["amount"],
                "date": int(time.time()),
                "receiver": {"type": "user", "user": paid["source"]["user"]},
            }
        )
        return True

    async def _api_getStarTransactions(self, call: Call) -> Any:
        offset = int(call.params.get("offset", 0))
        limit = int(call.params.get("limit", 100))
        if offset < 0 or not 1 <= limit <= 100:
            raise ApiError(400, "Bad Request: LIMIT_INVALID")
        return {"transactions": self.star_transactions[offset : offset + limit]}

    async def _api_answerInlineQuery(self, call: Call) -> Any:
        for result in call.json("results"):
            content = result.get("input_message_content")
            if content is not None:
                message_text(content["message_text"], content.get("parse_mode"))
            check_keyboard(result.get("reply_markup"), custom_emoji=self.custom_emoji)
        return True

    async def _api_answerGuestQuery(self, call: Call) -> Any:
        """One answer per guest query, soon after it came; the result is an inline query
        result, checked like one; it becomes an inline message the bot may edit."""
        pushed = self.guest_queries.pop(call.params["guest_query_id"], None)
        if pushed is None or time.monotonic() - pushed > self.guest_answer_window:
            raise ApiError(400, "Bad Request: guest query is too old or already answered")
        result = call.json("result")
        content = result.get("input_message_content")
        if result.get("type") == "article" and content is None:
            raise ApiError(400, "Bad Request: RESULT_TYPE_INVALID")
        check_keyboard(result.get("reply_markup"), custom_emoji=self.custom_emoji)
        inline_message_id = f"guest-{next(self._message_ids)}"
        if content is not None:
            text = message_text(content["message_text"], content.get("parse_mode"))
            message: dict[str, Any] = {"text": text}
        else:  # a picture (a photo result): its caption, as in an inline message
            message = {"media": result}
        if result.get("reply_markup"):
            message["reply_markup"] = result["reply_markup"]
        self.inline_messages[inline_message_id] = message
        return {"inline_message_id": inline_message_id}

    async def _api_getChatMember(self, call: Call) -> Any:
        chat_id, user_id = int(call.params["chat_id"]), int(call.params["user_id"])
        status = "administrator" if user_id in self.chat_admins.get(chat_id, set()) else "member"
        member: dict[str, Any] = {"status": status, "user": _user(user_id, "en")}
        if status == "administrator":
            member.update(
                can_be_edited=False,
                is_anonymous=False,
                **dict.fromkeys(
                    (
                        "can_manage_chat",
                        "can_delete_messages",
                        "can_manage_video_chats",
                        "can_restrict_members",
                        "can_promote_members",
                        "can_change_info",
                        "can_invite_users",
                        "can_post_stories",
                        "can_edit_stories",
                        "can_delete_stories",
                        "can_send_welcome_messages",
                    ),
                    False,
                ),
            )
        return member

    async def _api_editMessageMedia(self, call: Call) -> Any:
        inline_id = call.params.get("inline_message_id")
        if inline_id is None or inline_id not in self.inline_messages:
            raise ApiError(400, "Bad Request: message to edit not found")
        media = call.json("media")
        if "caption" in media:
            caption_text(media["caption"], media.get("parse_mode"))
        self.inline_messages[inline_id] = {"media": media, **self._markup(call)}
        return True

    async def _api_editMessageText(self, call: Call) -> Any:
        """Only a message with text has a text to edit (not one holding a photo)."""
        text = message_text(call.params["text"], _mode(call))
        message = self._message_to_edit(call)
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        self._edit(message, {"text": text}, self._markup(call).get("reply_markup"))
        return True if "inline_message_id" in call.params else message

    async def _api_editMessageCaption(self, call: Call) -> Any:
        caption = caption_text(call.params.get("caption", ""), _mode(call))
        message = self._message_to_edit(call)
        if "text" in message:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        self._edit(message, {"caption": caption}, self._markup(call).get("reply_markup"))
        return True if "inline_message_id" in call.params else message

    async def _api_editMessageReplyMarkup(self, call: Call) -> Any:
        """Only the keyboard; the same keyboard again is refused as not modified."""
        message = self._message_to_edit(call)
        self._edit(message, {}, self._markup(call).get("reply_markup"))
        return True if "inline_message_id" in call.params else message

    def _message_to_edit(self, call: Call) -> dict[str, Any]:
        inline_id = call.params.get("inline_message_id")
        if inline_id is not None:
            message = self.inline_messages.get(inline_id)
        else:
            self._check_chat(call)
            message = self.messages.get(
                (int(call.params["chat_id"]), int(call.params["message_id"]))
            )
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return message

    async def _api_getFile(self, call: Call) -> Any:
        file_id = call.params["file_id"]
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, _, size = self.files[file_id]
        answer = {"file_id": file_id, "file_unique_id": file_id, "file_path": path}
        return answer if size is None else {**answer, "file_size": size}

    async def _download(self, request: web.Request) -> web.Response:
        """The file server: the bot's own token and a known path, else 404 as Telegram."""
        path = request.match_info["path"]
        self.downloads.append(path)
        audio = {p: data for p, data, _ in self.files.values()}.get(path)
        if request.match_info["token"] != self.token or audio is None:
            return _error(404, "Not Found")
        return web.Response(body=audio, content_type="audio/ogg")

    @staticmethod
    def _edit(message: dict[str, Any], content: dict[str, Any], markup: Any) -> None:
        """Telegram refuses an edit that changes neither the content nor the keyboard
        (a request without `reply_markup` removes the keyboard)."""
        same = all(message.get(k) == v for k, v in content.items())
        if same and message.get("reply_markup") == markup:
            raise ApiError(400, NOT_MODIFIED)
        message.update(content)
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup

    @staticmethod
    def _markup(call: Call) -> dict[str, Any]:
        return {"reply_markup": call.json("reply_markup")} if "reply_markup" in call.params else {}

    @staticmethod
    def _caption(call: Call) -> dict[str, Any]:
        if "caption" not in call.params:
            return {}
        return {"caption": caption_text(call.params["caption"], _mode(call))}

    async def _api_deleteMessage(self, call: Call) -> Any:
        key = (int(call.params["chat_id"]), int(call.params["message_id"]))
        if self.messages.pop(key, None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    def _check_chat(self, call: Call) -> int:
        chat_id = int(call.params["chat_id"])
        if chat_id in self.migrated:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=self.migrated[chat_id],
            )
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _new_message(
        self, call: Call, content: dict[str, Any], *, flood_checked: bool = False
    ) -> dict[str, Any]:
        chat_id = self._check_chat(call)
        if "ephemeral_message_parameters" in call.params:
            return self._new_ephemeral(call, chat_id, content)
        if not flood_checked:
            self._check_flood(chat_id)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Art"},
            **content,
            **self._markup(call),
        }
        if "reply_parameters" in call.params:
            reply = call.json("reply_parameters")
            target = self.messages.get((chat_id, reply["message_id"]))
            if target is None and not reply.get("allow_sending_without_reply"):
                raise ApiError(400, "Bad Request: message to be replied not found")
            if target is not None:
                message["reply_to_message"] = target
        self.messages[(chat_id, message["message_id"])] = message
        return message

    def _new_ephemeral(self, call: Call, chat_id: int, content: dict[str, Any]) -> dict[str, Any]:
        """Bot API 10.2: for groups only, to one user (a member, not a bot), answering a
        press only while it is open; its message_id is 0, its ephemeral_message_id is new."""
        if not self.ephemeral_enabled:
            raise ApiError(400, "Bad Request: ephemeral messages are not supported")
        params = call.json("ephemeral_message_parameters")
        if chat_id >= 0:
            raise ApiError(400, "Bad Request: ephemeral messages can be sent only to groups")
        receiver = params.get("receiver_user_id")
        if not isinstance(receiver, int) or receiver in (ANONYMOUS_ADMIN, CHANNEL_BOT, BOT_ID):
            raise ApiError(400, "Bad Request: invalid receiver_user_id")
        query_id = params.get("callback_query_id")
        if query_id is not None:
            pushed = self.open_queries.get(query_id) or self.answered_queries.get(query_id)
            if pushed is None or time.monotonic() - pushed > self.callback_answer_window:
                raise ApiError(400, QUERY_INVALID)
        if "reply_parameters" in call.params:
            reply = call.json("reply_parameters")
            if (chat_id, reply.get("message_id")) not in self.messages:
                raise ApiError(400, "Bad Request: message to be replied not found")
        self._check_flood(chat_id)
        ephemeral_id = next(self._ephemeral_ids)
        message: dict[str, Any] = {
            "message_id": 0,
            "ephemeral_message_id": ephemeral_id,
            "receiver_user": _user(receiver, None),
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Art"},
            **content,
            **self._markup(call),
        }
        self.ephemeral[(chat_id, ephemeral_id)] = message
        return message

    def seen_by_all(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages everyone in the chat sees (not ephemeral, not deleted)."""
        return [
            m
            for (chat, _), m in self.messages.items()
            if chat == chat_id and m["from"]["id"] == BOT_ID
        ]

    def _check_flood(self, chat_id: int) -> None:
        """Telegram's per-group limit: over it, 429 with the wait until a slot frees up."""
        self._check_other_floods(chat_id)
        if chat_id >= 0 or self.group_limit is None:
            self._note_other_sends(chat_id)
            return
        now = time.monotonic()
        recent = [t for t in self._group_sends.get(chat_id, []) if now - t < self.group_window]
        if len(recent) >= self.group_limit:
            self.flood_refusals += 1
            self.flood_refusals_by["group"] += 1
            self._group_sends[chat_id] = recent
            retry_after = max(1, math.ceil(self.group_window - (now - recent[0])))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        self._group_sends[chat_id] = [*recent, now]
        self._note_other_sends(chat_id)

    def _check_other_floods(self, chat_id: int) -> None:
        """The per-private-chat and global limits, when set: 429 like the group limit."""
        now = time.monotonic()
        waits = {}
        if self.global_limit is not None:
            self._all_sends = [t for t in self._all_sends if now - t < self.global_window]
            if len(self._all_sends) >= self.global_limit:
                waits["global"] = self.global_window - (now - self._all_sends[0])
        if chat_id >= 0 and self.chat_limit is not None:
            sends = self._chat_sends.get(chat_id, [])
            recent = self._chat_sends[chat_id] = [t for t in sends if now - t < self.chat_window]
            if len(recent) >= self.chat_limit:
                waits["chat"] = self.chat_window - (now - recent[0])
        if waits:
            self.flood_refusals += 1
            self.flood_refusals_by.update(waits.keys())
            retry_after = max(1, math.ceil(max(waits.values())))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)

    def _note_other_sends(self, chat_id: int) -> None:
        now = time.monotonic()
        if self.global_limit is not None:
            self._all_sends.append(now)
        if chat_id >= 0 and self.chat_limit is not None:
            self._chat_sends.setdefault(chat_id, []).append(now)


def _length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _mode(call: Call) -> str | None:
    return call.params.get("parse_mode")


def _user(user_id: int, language_code: str | None) -> dict[str, Any]:
    user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": "Ann"}
    if language_code is not None:
        user["language_code"] = language_code
    return user


def _chat(chat_id: int) -> dict[str, Any]:
    if chat_id < 0:
        return {"id": chat_id, "type": "supergroup", "title": "Artists"}
    return {"id": chat_id, "type": "private", "first_name": "Ann"}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        description: str,
        retry_after: int | None = None,
        *,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id


def files_of(call: Call, reference: str) -> bytes:
    """The bytes behind an `attach://name` reference."""
    return call.files[reference.removeprefix("attach://")]


async def request_params(
    request: web.Request,
) -> Mapping[str, str | bytes | bytearray | web.FileField]:
    """A Bot API call's parameters, from a JSON body or a form (ValueError: bad JSON)."""
    if request.content_type == "application/json":
        return json_params(await request.json())
    return await request.post()


def json_params(body: object) -> dict[str, str]:
    """A JSON body's parameters as a form carries them: strings as they are, anything
    else as its JSON text (the Bot API reads either; files come only in a form)."""
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    return {
        str(name): value if isinstance(value, str) else json.dumps(value)
        for name, value in body.items()
    }


def _error(
    status: int,
    description: str,
    retry_after: int | None = None,
    migrate_to_chat_id: int | None = None,
) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    if migrate_to_chat_id is not None:
        body["parameters"] = {"migrate_to_chat_id": migrate_to_chat_id}
    return web.json_response(body, status=status)


def _drop(request: web.Request) -> web.Response:
    """Close the connection without an answer (the returned response goes nowhere)."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=599)


async def _chaos_answer(chaos: TelegramChaos, fault: str, request: web.Request) -> web.Response:
    """A fault instead of the call; nothing is done in the chat."""
    if fault == "rate_limit":
        description = f"Too Many Requests: retry after {chaos.retry_after}"
        return _error(429, description, chaos.retry_after)
    if fault == "server_error":
        return _error(chaos.rng.choice((500, 502)), "Internal Server Error")
    if fault == "timeout":
        await asyncio.sleep(chaos.timeout_delay)
    return _drop(request)
