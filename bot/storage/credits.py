"""Where credits live: the `CreditStore` interface and its in-memory implementation.

Every change is one atomic step that appends entries to the user's ledger and moves the
cached balance by their sum (bot/core/ledger.py has the rules; the Redis store runs them
in one Lua script per change). A reservation is held for a job by its id until the job
settles it; one whose job never settles (the process died before storing the job) is
given back by the first change or read after its `hold_until`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field

from bot.core.ledger import Entry, EntryKind, Pack, refund_refusal, settle

# Figures of the day for /stats (Stars received, credits sold, spent, refunded, granted).
DAY_FIGURES = ("stars", "sold", "spent", "refunded", "granted")
DAYS_KEPT = 3


@dataclass(frozen=True)
class Payment:
    charge_id: str
    credits: int
    stars: int
    at: float
    refunded: bool = False


@dataclass(frozen=True)
class Balance:
    available: int
    reserved: int


@dataclass(frozen=True)
class Hold:
    credits: int
    pictures: int
    until: float


class CreditStore(ABC):
    @abstractmethod
    async def pay(self, user_id: int, charge_id: str, pack: Pack, at: float) -> int | None:
        """Credit a payment once per charge id: the new available balance, or None when
        this charge was credited already (the update came twice)."""

    @abstractmethod
    async def grant(self, user_id: int, credits: int, at: float) -> int:
        """Credits given by an admin; the new available balance."""

    @abstractmethod
    async def reserve(
        self, user_id: int, job_id: str, credits: int, pictures: int, at: float, until: float
    ) -> str:
        """Hold `credits` for the job (of `pictures` pictures): "ok", "exists" (the job
        holds credits already, nothing changed) or "short:<available>"."""

    @abstractmethod
    async def held(self, user_id: int, job_id: str) -> int:
        """The credits the job holds, 0 if none."""

    @abstractmethod
    async def settle(
        self, user_id: int, job_id: str, delivered: int, at: float
    ) -> tuple[int, int] | None:
        """End the job's hold: (spent, given back), None if it holds nothing (settled
        already, or given back after its `hold_until`)."""

    @abstractmethod
    async def refund(self, user_id: int, charge_id: str, at: float) -> str:
        """Take back a payment's credits: "ok:<credits>:<stars>", or "unknown",
        "refunded", "spent:<available>" (see `ledger.refund_refusal`)."""

    @abstractmethod
    async def undo_refund(self, user_id: int, charge_id: str, at: float) -> None:
        """Telegram refused the refund: give the credits back, the payment is unrefunded."""

    @abstractmethod
    async def balance(self, user_id: int, at: float) -> Balance: ...

    @abstractmethod
    async def entries(self, user_id: int) -> list[Entry]: ...

    @abstractmethod
    async def payments(self, user_id: int) -> list[Payment]:
        """The user's payments, newest first."""

    @abstractmethod
    async def all_payments(self) -> dict[int, list[Payment]]:
        """Every user's payments, to reconcile with Telegram's list."""

    @abstractmethod
    async def day_figures(self, day: int) -> dict[str, int]: ...

    @abstractmethod
    async def checked_up_to(self) -> int:
        """How many of Telegram's Stars transactions were checked against the ledger."""

    @abstractmethod
    async def check_up_to(self, offset: int) -> None: ...


@dataclass
class _Account:
    log: list[Entry] = field(default_factory=list)
    available: int = 0
    holds: dict[str, Hold] = field(default_factory=dict)
    charges: dict[str, Payment] = field(default_factory=dict)

    def add(self, kind: EntryKind, delta: int, credits: int, at: float, ref: str) -> None:
        self.log.append(Entry(kind, delta, credits, at, ref))
        self.available += delta

    def sweep(self, at: float) -> None:
        for job_id, hold in list(self.holds.items()):
            if hold.until <= at:
                del self.holds[job_id]
                self.add(EntryKind.GIVE_BACK, hold.credits, hold.credits, at, job_id)


class MemoryCreditStore(CreditStore):
    """The same rules in one process (lost on restart, like every memory store)."""

    def __init__(self) -> None:
        self._accounts: dict[int, _Account] = {}
        self._days: dict[int, Counter[str]] = {}
        self._checked = 0

    def _account(self, user_id: int, at: float) -> _Account:
        account = self._accounts.setdefault(user_id, _Account())
        account.sweep(at)
        return account

    def _count(self, at: float, **figures: int) -> None:
        """Today's figures; older days go after three, as the Redis store's keys expire."""
        day = int(at // 86400)
        self._days = {d: c for d, c in self._days.items() if d > day - DAYS_KEPT}
        self._days.setdefault(day, Counter()).update(figures)

    async def pay(self, user_id: int, charge_id: str, pack: Pack, at: float) -> int | None:
        account = self._account(user_id, at)
        if charge_id in account.charges:
            return None
        account.charges[charge_id] = Payment(charge_id, pack.credits, pack.stars, at)
        account.add(EntryKind.PAYMENT, pack.credits, pack.credits, at, charge_id)
        self._count(at, stars=pack.stars, sold=pack.credits)
        return account.available

    async def grant(self, user_id: int, credits: int, at: float) -> int:
        account = self._account(user_id, at)
        account.add(EntryKind.GRANT, credits, credits, at, "")
        self._count(at, granted=credits)
        return account.available

    async def reserve(
        self, user_id: int, job_id: str, credits: int, pictures: int, at: float, until: float
    ) -> str:
        account = self._account(user_id, at)
        if job_id in account.holds:
            return "exists"
        if account.available < credits:
            return f"short:{account.available}"
        account.holds[job_id] = Hold(credits, pictures, until)
        account.add(EntryKind.RESERVE, -credits, credits, at, job_id)
        return "ok"

    async def held(self, user_id: int, job_id: str) -> int:
        hold = self._accounts.get(user_id, _Account()).holds.get(job_id)
        return 0 if hold is None else hold.credits

    async def settle(
        self, user_id: int, job_id: str, delivered: int, at: float
    ) -> tuple[int, int] | None:
        account = self._account(user_id, at)
        hold = account.holds.pop(job_id, None)
        if hold is None:
            return None
        spent, back = settle(hold.credits, hold.pictures, delivered)
        if spent:
            account.add(EntryKind.SPEND, 0, spent, at, job_id)
            self._count(at, spent=spent)
        if back:
            account.add(EntryKind.GIVE_BACK, back, back, at, job_id)
        return spent, back

    async def refund(self, user_id: int, charge_id: str, at: float) -> str:
        account = self._account(user_id, at)
        payment = account.charges.get(charge_id)
        if payment is None:
            return "unknown"
        refusal = refund_refusal(account.available, payment.credits, payment.refunded)
        if refusal is not None:
            return f"{refusal}:{account.available}"
        account.charges[charge_id] = Payment(
            charge_id, payment.credits, payment.stars, payment.at, refunded=True
        )
        account.add(EntryKind.REFUND, -payment.credits, payment.credits, at, charge_id)
        self._count(at, refunded=payment.credits)
        return f"ok:{payment.credits}:{payment.stars}"

    async def undo_refund(self, user_id: int, charge_id: str, at: float) -> None:
        account = self._account(user_id, at)
        payment = account.charges.get(charge_id)
        if payment is None or not payment.refunded:
            return
        account.charges[charge_id] = Payment(charge_id, payment.credits, payment.stars, payment.at)
        account.add(EntryKind.REFUND_UNDONE, payment.credits, payment.credits, at, charge_id)
        self._count(at, refunded=-payment.credits)

    async def balance(self, user_id: int, at: float) -> Balance:
        account = self._account(user_id, at)
        return Balance(account.available, sum(h.credits for h in account.holds.values()))

    async def entries(self, user_id: int) -> list[Entry]:
        return list(self._accounts.get(user_id, _Account()).log)

    async def payments(self, user_id: int) -> list[Payment]:
        charges = self._accounts.get(user_id, _Account()).charges.values()
        return sorted(charges, key=lambda p: p.at, reverse=True)

    async def all_payments(self) -> dict[int, list[Payment]]:
        return {user: await self.payments(user) for user in self._accounts}

    async def day_figures(self, day: int) -> dict[str, int]:
        counts = self._days.get(day, Counter())
        return {name: counts[name] for name in DAY_FIGURES}

    async def checked_up_to(self) -> int:
        return self._checked

    async def check_up_to(self, offset: int) -> None:
        self._checked = max(self._checked, offset)
