"""Credits bought with Telegram Stars: packs, invoice payloads and the ledger's rules.

Pure rules, no storage: the memory and Redis credit stores apply exactly these (the Redis
store in Lua), so the balance is always the sum of a user's entries. Each entry moves the
available balance by its `delta`: a payment or grant adds, a reservation takes (held for a
job), a give-back returns a reservation, a spend settles one (no change: the credit was
taken when reserved) and a refund removes a payment's credits.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

# Telegram: the invoice payload is 1-128 bytes; digital goods are sold for Stars only.
PAYLOAD_MAX = 128
STARS = "XTR"
PACKS_MAX = 10  # buttons under /buy; Telegram allows more, users read fewer
_PAYLOAD = re.compile(r"^pack:(\d{1,9}):(\d{1,9}):([\w-]{1,64})$")


class EntryKind(StrEnum):
    PAYMENT = "payment"
    GRANT = "grant"
    RESERVE = "reserve"
    SPEND = "spend"
    GIVE_BACK = "give_back"
    REFUND = "refund"
    REFUND_UNDONE = "refund_undone"  # Telegram refused the refund: the credits come back


@dataclass(frozen=True)
class Pack:
    credits: int
    stars: int

    @property
    def name(self) -> str:
        return f"{self.credits}:{self.stars}"


@dataclass(frozen=True)
class Entry:
    kind: EntryKind
    delta: int  # change of the available balance
    credits: int  # credits the entry is about (a spend's, a payment's)
    at: float
    ref: str = ""  # the charge id of a payment or refund, the job id of a reservation


def parse_packs(text: str) -> tuple[Pack, ...]:
    """`credits:stars` pairs, comma-separated (`10:50,50:200`); empty: payments are off.
    Raises ValueError saying what is wrong."""
    packs: list[Pack] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        credits, sep, stars = item.partition(":")
        if not sep or not credits.strip().isdigit() or not stars.strip().isdigit():
            raise ValueError(f"{item!r} is not credits:stars")
        pack = Pack(int(credits), int(stars))
        if not 1 <= pack.credits <= 100_000 or not 1 <= pack.stars <= 100_000:
            raise ValueError(f"{item!r}: credits and Stars must be 1 to 100000")
        if any(p.credits == pack.credits for p in packs):
            raise ValueError(f"two packs of {pack.credits} credits")
        packs.append(pack)
    if len(packs) > PACKS_MAX:
        raise ValueError(f"at most {PACKS_MAX} packs")
    return tuple(packs)


def new_payload(pack: Pack, nonce: str | None = None) -> str:
    """The invoice payload: the pack and a nonce (Telegram shows neither to the user)."""
    payload = f"pack:{pack.credits}:{pack.stars}:{nonce or secrets.token_urlsafe(12)}"
    assert len(payload.encode()) <= PAYLOAD_MAX
    return payload


def pack_of(payload: str, packs: Iterable[Pack]) -> Pack | None:
    """The pack an invoice payload names, if it is still sold at that price."""
    match = _PAYLOAD.match(payload)
    if match is None:
        return None
    named = Pack(int(match[1]), int(match[2]))
    return named if named in tuple(packs) else None


def balance(entries: Iterable[Entry]) -> int:
    return sum(entry.delta for entry in entries)


def split_cost(pictures: int, free_left: int) -> tuple[int, int]:
    """(free, paid): a request uses what remains of the free quota, the rest costs credits."""
    free = max(0, min(pictures, free_left))
    return free, pictures - free


def settle(reserved: int, pictures: int, delivered: int) -> tuple[int, int]:
    """(spent, given back) of a job's reservation: the free pictures of the request count
    as delivered first, so a credit pays only for a picture the user got."""
    paid_delivered = max(0, delivered - (pictures - reserved))
    spent = min(reserved, paid_delivered)
    return spent, reserved - spent


# Why a refund is refused.
UNKNOWN = "unknown"  # no such payment of this user
REFUNDED = "refunded"  # refunded already
SPENT = "spent"  # fewer credits than the pack's are left unspent


def refund_refusal(available: int, pack_credits: int, refunded: bool) -> str | None:
    """A payment is refunded at most once, and only while its credits are unspent."""
    if refunded:
        return REFUNDED
    if available < pack_credits:
        return SPENT
    return None
