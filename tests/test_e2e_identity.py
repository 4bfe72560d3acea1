"""One identity rule for every per-user feature, and buttons that act only where they are
(issue 21 items 8, 9, 17 and 21), end to end on the strict fakes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

from bot.core.jobs import JobIds
from bot.emulators.telegram import Call, FakeTelegram
from bot.emulators.yandexart import FakeYandex

USER = 7001
OTHER_USER = 7002
GROUP = -100777
CHANNEL = -100999
PRIVATE_ONLY = "/history works in a private chat with me only"


def buttons(call: Call) -> dict[str, str]:
    keyboard = call.json("reply_markup")["inline_keyboard"]
    return {b["text"]: b["callback_data"] for row in keyboard for b in row}


async def settle() -> None:
    """Give a wrong reaction the time to show up before asserting there was none."""
    await asyncio.sleep(0.5)


async def ask(telegram: FakeTelegram, text: str, *, chat_id: int, **options: Any) -> Call:
    """Send `text` to the bot in chat `chat_id`; the bot's next message there that
    Telegram took."""
    before = len(telegram.sent("sendMessage", chat_id, ok=True))
    telegram.push_message(text, chat_id=chat_id, **options)
    for _ in range(300):
        sent = telegram.sent("sendMessage", chat_id, ok=True)
        if len(sent) > before:
            return sent[before]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no answer to {text!r} in chat {chat_id}")


async def answers(telegram: FakeTelegram, count: int) -> list[str]:
    return [a.params.get("text", "") for a in await telegram.wait_for("answerCallbackQuery", count)]


async def test_history_is_the_senders_own_and_private(
    running: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    """Two members, an anonymous admin and a channel draw in one group: each /history lists
    only the sender's own requests; a member's /history in the group shows none of them."""
    telegram.push_message("/art a fox", chat_id=GROUP, user_id=USER)
    telegram.push_message("/art an owl", chat_id=GROUP, user_id=OTHER_USER)
    telegram.push_message("/art a cat", chat_id=GROUP, sender_chat=GROUP)
    telegram.push_message("/art a hare", chat_id=CHANNEL, sender_chat=CHANNEL)
    await telegram.wait_for("sendPhoto", 4)
    prompts = ("a fox", "an owl", "a cat", "a hare")

    async def history(**where: Any) -> str:
        return str((await ask(telegram, "/history", **where)).params["text"])

    seen = {
        "fox": await history(chat_id=USER),
        "owl": await history(chat_id=OTHER_USER),
        "cat": await history(chat_id=GROUP, sender_chat=GROUP),
        "hare": await history(chat_id=GROUP, sender_chat=CHANNEL),
    }
    for own, text in seen.items():
        assert [p for p in prompts if p in text] == [p for p in prompts if p.endswith(own)], text
    # A member's /history in the group: only to them (ephemeral), and where Telegram
    # refuses an ephemeral message, one line instead of their prompts.
    listing = await ask(telegram, "/history", chat_id=GROUP, user_id=OTHER_USER)
    receiver = listing.json("ephemeral_message_parameters")["receiver_user_id"]
    assert receiver == OTHER_USER
    assert [p for p in prompts if p in listing.params["text"]] == ["an owl"]
    telegram.ephemeral_enabled = False
    in_group = await history(chat_id=GROUP, user_id=OTHER_USER)
    assert in_group.startswith(PRIVATE_ONLY)
    assert not [p for p in prompts if p in in_group]


async def test_an_anonymous_admins_history_settings_and_forget_are_the_groups(
    running: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    """What an anonymous admin lists, sets or deletes belongs to the group (the key their
    requests are counted under), and the group's admins may press its buttons."""
    telegram.chat_admins[GROUP] = {USER}
    anonymous = {"chat_id": GROUP, "sender_chat": GROUP}
    telegram.push_message("/art a cat --seed 3", **anonymous)
    await telegram.wait_for("sendPhoto")

    listing = await ask(telegram, "/history", **anonymous)
    telegram.push_callback(buttons(listing)["🔁 1"], message=listing.result, user_id=OTHER_USER)
    assert (await answers(telegram, 1))[-1] == "These buttons belong to someone else."
    telegram.push_callback(buttons(listing)["🔁 1"], message=listing.result, user_id=USER)
    assert (await answers(telegram, 2))[-1] == "Drawing it again…"
    await telegram.wait_for("sendPhoto", 2)

    menu = await ask(telegram, "/settings", **anonymous)
    telegram.push_callback(buttons(menu)["Anime"], message=menu.result, user_id=USER)
    assert (await answers(telegram, 3))[-1] == "Saved."
    again = await ask(telegram, "/settings", **anonymous)
    assert "Style: Anime" in again.params["text"]
    own = await ask(telegram, "/settings", chat_id=USER)
    assert "Style: No style" in own.params["text"]  # the admin's own settings are theirs
    telegram.push_callback(buttons(again)["Русский"], message=again.result, user_id=USER)
    await answers(telegram, 4)
    in_russian = await ask(telegram, "/settings", **anonymous)  # the group's language now
    assert "Аниме" in in_russian.params["text"]

    confirm = await ask(telegram, "/forget", **anonymous)
    assert confirm.params["text"].startswith("Удалить")  # in the group's language
    (delete,) = buttons(confirm).values()
    telegram.push_callback(delete, message=confirm.result, user_id=USER)
    done = (await telegram.wait_for("editMessageText", 3, ok=True))[-1]
    assert done.params["text"].startswith("Done: I no longer keep anything about you.")
    emptied = await ask(telegram, "/history", **anonymous)
    assert emptied.params["text"].startswith("No requests yet")  # English again: forgotten


async def test_a_button_acts_only_on_the_picture_it_is_under(
    running: Any, telegram: FakeTelegram, yandex: FakeYandex
) -> None:
    """Again, Original and 📄 carry a job id: one pressed (or forged) under a message of
    another chat must not draw or send somebody else's picture."""
    telegram.push_message("/art my private garden")
    photo = (await telegram.wait_for("sendPhoto"))[0]
    job_id = buttons(photo)["🔁 Again"].split(":")[-1]
    elsewhere = await ask(telegram, "/help", chat_id=OTHER_USER)  # in the presser's own chat
    for data in (f"j:again:{job_id}", f"j:original:{job_id}", f"v:{job_id}:0"):
        telegram.push_callback(data, message=elsewhere.result, user_id=OTHER_USER)
    assert await answers(telegram, 3) == ["This button is out of date."] * 3
    await settle()
    assert yandex.generations == 1
    assert not telegram.sent("sendDocument")
    assert len(telegram.sent("sendPhoto")) == 1


def test_job_ids_cannot_be_worked_out_from_the_update() -> None:
    """Issue 21 item 17: was sha256("message:chat:message")."""
    public = base64.urlsafe_b64encode(hashlib.sha256(b"message:42:7").digest()[:9]).decode()
    ids = JobIds(b"secret one")
    assert ids.of("message", 42, 7) == JobIds(b"secret one").of("message", 42, 7)  # retries
    assert ids.of("message", 42, 7) != JobIds(b"secret two").of("message", 42, 7)
    assert ids.of("message", 42, 7) != public
    assert len(ids.of("message", 42, 7)) == 12


async def test_a_button_of_an_older_release_is_answered(
    running: Any, telegram: FakeTelegram
) -> None:
    """/history and /settings keyboards sent before their callback data named an owner
    (or any data the bot no longer knows) get an answer, not a spinning button."""
    for data in ("h:abcdefghijkl", "s:ratio:16x9", "no-such-button"):
        telegram.push_callback(data)
    assert await answers(telegram, 3) == ["This button is out of date."] * 3
