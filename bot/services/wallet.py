"""Credits bought with Telegram Stars: what the handlers, admission and the tracker ask.

Pictures beyond the free daily quota cost a credit each. Admission reserves them for the
job (held by the job's id, so a restart can neither lose nor double-spend them), the
tracker settles them when the job ends: spent for delivered pictures, given back for the
rest. Payments are credited once per `telegram_payment_charge_id`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.core.errors import StoreUnavailable
from bot.core.jobs import TELL_GRACE, Job
from bot.core.ledger import Pack, pack_of, split_cost
from bot.core.limits import CREDITS, DAILY, DUPLICATE, PICTURES, AccessRules, Refusal, day_of
from bot.services.metrics import Metrics
from bot.services.quotas import Quotas
from bot.storage.credits import Balance, CreditStore, Payment
from bot.telegram.stars import Stars, StarTransaction

log = logging.getLogger(__name__)

# A reservation outlives its job's last chance to end (deadline plus the time to tell
# the user) by this much; only then is it given back without the job settling it.
HOLD_MARGIN = 600.0
# Tries to write a payment while the store is down (backing off from 0.2 s: ~25 s in all).
PAY_ATTEMPTS = 8


def hold_seconds(deadline: float) -> float:
    """How long credits stay held for a job that never settles them: past its deadline
    (twice: a voice prompt is heard before its job starts), the time to tell its user
    (`TELL_GRACE`) and a margin."""
    return 2 * deadline + TELL_GRACE + HOLD_MARGIN


@dataclass(frozen=True)
class RefundResult:
    outcome: str  # "ok", "unknown", "refunded", "spent", "failed"
    credits: int = 0
    available: int = 0


@dataclass(frozen=True)
class Difference:
    """A payment one side knows and the other does not (or knows as refunded)."""

    charge_id: str
    user_id: int | None
    stars: int
    ledger: str  # "paid", "refunded" or "missing"
    telegram: str  # likewise


class Wallet:
    def __init__(
        self,
        store: CreditStore,
        packs: tuple[Pack, ...],
        *,
        quotas: Quotas,
        rules: AccessRules,
        metrics: Metrics,
        stars: Stars,
        hold_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._hold_seconds = hold_seconds
        self._store = store
        self.packs = packs
        self._rules = rules
        self._quotas = quotas
        self._metrics = metrics
        self._stars = stars
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return bool(self.packs)

    def pack(self, payload: str) -> Pack | None:
        return pack_of(payload, self.packs)

    def may_buy(self, user_id: int) -> bool:
        """A pre-checkout is refused to users the access rules keep out."""
        return self._rules.allows(user_id, None)

    async def cover(
        self,
        refusal: Refusal,
        *,
        user_id: int,
        job_id: str,
        slot: str,
        chat_id: int | None,
        pictures: int,
    ) -> Refusal | None:
        """A request refused for the daily quota goes on with credits when the user has
        enough: what the free quota leaves costs one credit a picture, held for the job
        `job_id` now (with its slot taken as `Quotas.admit` does). Otherwise the refusal
        says what the request would cost."""
        if refusal.reason not in (DAILY, PICTURES):
            return refusal
        free, paid = split_cost(pictures, refusal.remaining if refusal.reason == PICTURES else 0)
        now = self._clock()
        try:
            verdict = await self._store.reserve(
                user_id, job_id, paid, pictures, now, now + self._hold_seconds
            )
        except StoreUnavailable:
            return refusal
        if verdict == "exists":  # the same request, admitted at this very moment elsewhere
            return Refusal(DUPLICATE)
        if verdict.startswith("short:"):
            available = int(verdict.split(":")[1])
            return Refusal(CREDITS, paid, refusal.resets_in, available)
        self._metrics.credits.labels(event="reserved").inc(paid)
        again = await self._quotas.admit(user_id, slot, chat_id=chat_id, pictures=free)
        if again is not None:
            await self.settle(user_id, job_id, 0)
        return again

    async def cost(self, job: Job) -> int:
        """The credits the job holds (0: it is free)."""
        if not self.enabled:
            return 0
        try:
            return await self._store.held(job.user_id, job.id)
        except StoreUnavailable:
            return 0

    async def settle(self, user_id: int, job_id: str, delivered: int) -> int:
        """The job ended with `delivered` pictures (or never started: 0): spend their
        credits, give back the rest; how many were held. Safe to call twice (the second
        finds nothing held)."""
        result = await self._store.settle(user_id, job_id, delivered, self._clock())
        if result is None:
            return 0
        spent, back = result
        log.info("job %s: credits spent %d, given back %d", job_id, spent, back)
        self._metrics.credits.labels(event="spent").inc(spent)
        self._metrics.credits.labels(event="given_back").inc(back)
        return spent + back

    async def pay(self, user_id: int, charge_id: str, payload: str) -> int | None:
        """Credit a successful payment once: the new balance, None when it was credited
        already. A payload naming no pack sold now still credits what was paid for."""
        pack = pack_of(payload, [_named(payload)]) or Pack(0, 0)
        balance = await self._paid(user_id, charge_id, pack)
        if balance is not None:
            self._metrics.stars.inc(pack.stars)
            self._metrics.credits.labels(event="sold").inc(pack.credits)
            log.info("payment credited: %d credits for %d Stars", pack.credits, pack.stars)
        return balance

    async def _paid(self, user_id: int, charge_id: str, pack: Pack) -> int | None:
        """The payment written, riding out a short store outage: its update will not come
        again (if this fails, the next start finds it in Telegram's list)."""
        delay = 0.2
        for _ in range(PAY_ATTEMPTS - 1):
            try:
                return await self._store.pay(user_id, charge_id, pack, self._clock())
            except StoreUnavailable:
                log.warning("store unavailable while crediting a payment, retrying")
                await asyncio.sleep(delay)
                delay *= 2
        return await self._store.pay(user_id, charge_id, pack, self._clock())

    async def grant(self, user_id: int, credits: int) -> int:
        self._metrics.credits.labels(event="granted").inc(credits)
        return await self._store.grant(user_id, credits, self._clock())

    async def balance(self, user_id: int) -> Balance:
        return await self._store.balance(user_id, self._clock())

    async def free_left(self, user_id: int) -> int | None:
        """Free pictures left today (None: no limit)."""
        return await self._quotas.free_left(user_id)

    async def payments(self, user_id: int) -> list[Payment]:
        return await self._store.payments(user_id)

    async def refund(self, user_id: int, charge_id: str) -> RefundResult:
        """Refund through Telegram and remove the payment's credits, if they are unspent;
        the ledger first, so the credits cannot be spent meanwhile, and back if Telegram
        refuses."""
        verdict = await self._store.refund(user_id, charge_id, self._clock())
        outcome, _, rest = verdict.partition(":")
        if outcome != "ok":
            return RefundResult(outcome, available=int(rest or 0))
        credits = int(rest.split(":")[0])
        failed = await self._stars.refund(user_id, charge_id)
        if failed == "failed":
            await self._store.undo_refund(user_id, charge_id, self._clock())
            return RefundResult("failed", credits)
        self._metrics.credits.labels(event="refunded").inc(credits)
        return RefundResult("ok", credits)

    async def recover(self) -> list[tuple[int, int]]:
        """Credit the payments Telegram lists that the ledger lacks: an instance killed
        after taking the payment's update (polling confirms updates as it takes them) and
        before writing the credit. Once per charge id, as always; returns each credited
        user with their new balance, to be told. Telegram's list only grows: each start
        reads it from where the last one finished."""
        told, end = await self._stars.transactions(offset=await self._store.checked_up_to())
        ledger = await self._store.all_payments()
        known = {p.charge_id for payments in ledger.values() for p in payments}
        refunded = {t.id for t in told if not t.incoming}
        credited: list[tuple[int, int]] = []
        for t in told:
            missing = t.incoming and t.id not in known and t.id not in refunded
            if not missing or t.user_id is None or not _named(t.payload).credits:
                continue
            balance = await self.pay(t.user_id, t.id, t.payload)
            if balance is not None:
                log.warning("payment recovered from Telegram's list: credited now")
                credited.append((t.user_id, balance))
        await self._store.check_up_to(end)
        return credited

    async def owner_of(self, charge_id: str) -> int | None:
        """Whose payment a charge id is (an admin's /refund names only the charge)."""
        for user_id, payments in (await self._store.all_payments()).items():
            if any(p.charge_id == charge_id for p in payments):
                return user_id
        return None

    async def today(self) -> dict[str, int]:
        """Today's Stars received and credits sold, spent, refunded and granted (/stats)."""
        return await self._store.day_figures(day_of(self._clock()))


def _named(payload: str) -> Pack:
    parts = payload.split(":")
    try:
        return Pack(int(parts[1]), int(parts[2]))
    except (IndexError, ValueError):
        return Pack(0, 0)


def differences(
    ledger: dict[int, list[Payment]], told: list[StarTransaction], since: float
) -> list[Difference]:
    """Compare the ledger's payments with Telegram's transactions since `since`."""
    ours: dict[str, tuple[int, Payment]] = {
        p.charge_id: (user, p) for user, ps in ledger.items() for p in ps if p.at >= since
    }
    paid = {t.id: t for t in told if t.incoming}
    refunded = {t.id for t in told if not t.incoming}
    found: list[Difference] = []
    for charge_id in sorted(ours.keys() | paid.keys()):
        user, payment = ours.get(charge_id, (None, None))
        theirs = paid.get(charge_id)
        ledger_state = "missing" if payment is None else "refunded" if payment.refunded else "paid"
        state = "missing" if theirs is None else "refunded" if charge_id in refunded else "paid"
        stars_ours = 0 if payment is None else payment.stars
        stars_theirs = 0 if theirs is None else theirs.amount
        if ledger_state != state or stars_ours != stars_theirs:
            found.append(
                Difference(
                    charge_id,
                    user if theirs is None else theirs.user_id,
                    stars_theirs or stars_ours,
                    ledger_state,
                    state,
                )
            )
    return found
