"""`CreditStore` in Redis: one Lua script per change, shared by every instance.

A user's keys share one hash tag, `art:credits:{<user id>}`, and every script declares
them all in KEYS: the account (`available`), its ledger (a list of JSON entries), its
holds (job id -> "credits:pictures:until") and its charges (charge id -> JSON payment).
Each script first gives back the holds past their `until`, then applies the same rules as
bot/core/ledger.py. The day's figures for /stats are counted after the script (a lost
count there costs no money).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from bot.core.ledger import Entry, EntryKind, Pack
from bot.storage.credits import DAY_FIGURES, DAYS_KEPT, Balance, CreditStore, Payment
from bot.storage.redis_store import _available

if TYPE_CHECKING:
    from redis.asyncio import Redis

PREFIX = "art:credits:"
DAY_TTL = DAYS_KEPT * 86400

# KEYS: account, log, holds, charges. ARGV[1]: now. Defines add() and gives back old holds.
_COMMON = """
local now = tonumber(ARGV[1])
local function add(kind, delta, credits, ref)
  redis.call('RPUSH', KEYS[2], cjson.encode({kind=kind, delta=delta, credits=credits,
    at=now, ref=ref}))
  return redis.call('HINCRBY', KEYS[1], 'available', delta)
end
local holds = redis.call('HGETALL', KEYS[3])
for i = 1, #holds, 2 do
  local credits, pictures, untill = string.match(holds[i + 1], '^(%d+):(%d+):(.+)$')
  if tonumber(untill) <= now then
    redis.call('HDEL', KEYS[3], holds[i])
    add('give_back', tonumber(credits), tonumber(credits), holds[i])
  end
end
local available = tonumber(redis.call('HGET', KEYS[1], 'available') or '0')
"""

# ARGV: now, charge id, credits, stars
_PAY = (
    _COMMON
    + """
if redis.call('HEXISTS', KEYS[4], ARGV[2]) == 1 then return false end
redis.call('HSET', KEYS[4], ARGV[2], cjson.encode({credits=tonumber(ARGV[3]),
  stars=tonumber(ARGV[4]), at=now, refunded=false}))
return add('payment', tonumber(ARGV[3]), tonumber(ARGV[3]), ARGV[2])
"""
)

# ARGV: now, credits
_GRANT = _COMMON + "return add('grant', tonumber(ARGV[2]), tonumber(ARGV[2]), '')"

# ARGV: now, job id, credits, pictures, until
_RESERVE = (
    _COMMON
    + """
if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 1 then return 'exists' end
local credits = tonumber(ARGV[3])
if available < credits then return 'short:' .. available end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3] .. ':' .. ARGV[4] .. ':' .. ARGV[5])
add('reserve', -credits, credits, ARGV[2])
return 'ok'
"""
)

# ARGV: now, job id, delivered. The rule of ledger.settle.
_SETTLE = (
    _COMMON
    + """
local hold = redis.call('HGET', KEYS[3], ARGV[2])
if not hold then return false end
redis.call('HDEL', KEYS[3], ARGV[2])
local reserved, pictures = string.match(hold, '^(%d+):(%d+):')
reserved, pictures = tonumber(reserved), tonumber(pictures)
local spent = math.min(reserved, math.max(0, tonumber(ARGV[3]) - (pictures - reserved)))
local back = reserved - spent
if spent > 0 then add('spend', 0, spent, ARGV[2]) end
if back > 0 then add('give_back', back, back, ARGV[2]) end
return {spent, back}
"""
)

# ARGV: now, charge id. The rule of ledger.refund_refusal.
_REFUND = (
    _COMMON
    + """
local data = redis.call('HGET', KEYS[4], ARGV[2])
if not data then return 'unknown' end
local payment = cjson.decode(data)
if payment.refunded then return 'refunded:' .. available end
if available < payment.credits then return 'spent:' .. available end
payment.refunded = true
redis.call('HSET', KEYS[4], ARGV[2], cjson.encode(payment))
add('refund', -payment.credits, payment.credits, ARGV[2])
return 'ok:' .. payment.credits .. ':' .. payment.stars
"""
)

_UNDO_REFUND = (
    _COMMON
    + """
local data = redis.call('HGET', KEYS[4], ARGV[2])
if not data then return false end
local payment = cjson.decode(data)
if not payment.refunded then return false end
payment.refunded = false
redis.call('HSET', KEYS[4], ARGV[2], cjson.encode(payment))
add('refund_undone', payment.credits, payment.credits, ARGV[2])
return true
"""
)

# ARGV: now. The balance after giving back old holds.
_BALANCE = (
    _COMMON
    + """
local reserved = 0
local left = redis.call('HVALS', KEYS[3])
for _, hold in ipairs(left) do reserved = reserved + tonumber(string.match(hold, '^(%d+):')) end
return {available, reserved}
"""
)


class RedisCreditStore(CreditStore):
    def __init__(self, redis: Redis, prefix: str = PREFIX) -> None:
        self._redis = redis
        self._prefix = prefix
        self._pay = redis.register_script(_PAY)
        self._grant = redis.register_script(_GRANT)
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)
        self._refund = redis.register_script(_REFUND)
        self._undo_refund = redis.register_script(_UNDO_REFUND)
        self._balance = redis.register_script(_BALANCE)

    def _keys(self, user_id: int) -> list[str]:
        account = f"{self._prefix}{{{user_id}}}"
        return [account, f"{account}:log", f"{account}:holds", f"{account}:charges"]

    async def _count(self, at: float, **figures: int) -> None:
        key = f"{self._prefix}day:{int(at // 86400)}"
        async with _available(), self._redis.pipeline(transaction=True) as pipe:
            for name, value in figures.items():
                pipe.hincrby(key, name, value)
            pipe.expire(key, DAY_TTL)
            await pipe.execute()

    async def pay(self, user_id: int, charge_id: str, pack: Pack, at: float) -> int | None:
        args: list[str | int] = [repr(at), charge_id, pack.credits, pack.stars]
        async with _available():
            result = await self._pay(keys=self._keys(user_id), args=args)
        if result is None:
            return None
        await self._count(at, stars=pack.stars, sold=pack.credits)
        return int(result)

    async def grant(self, user_id: int, credits: int, at: float) -> int:
        async with _available():
            result = await self._grant(keys=self._keys(user_id), args=[repr(at), credits])
        await self._count(at, granted=credits)
        return int(result)

    async def reserve(
        self, user_id: int, job_id: str, credits: int, pictures: int, at: float, until: float
    ) -> str:
        args: list[str | int] = [repr(at), job_id, credits, pictures, repr(until)]
        async with _available():
            result = await self._reserve(keys=self._keys(user_id), args=args)
        return _text(result)

    async def held(self, user_id: int, job_id: str) -> int:
        async with _available():
            hold = await self._redis.hget(self._keys(user_id)[2], job_id)
        return 0 if hold is None else int(_text(hold).split(":")[0])

    async def settle(
        self, user_id: int, job_id: str, delivered: int, at: float
    ) -> tuple[int, int] | None:
        async with _available():
            result = await self._settle(
                keys=self._keys(user_id), args=[repr(at), job_id, delivered]
            )
        if result is None:
            return None
        spent, back = int(result[0]), int(result[1])
        if spent:
            await self._count(at, spent=spent)
        return spent, back

    async def refund(self, user_id: int, charge_id: str, at: float) -> str:
        async with _available():
            result = _text(await self._refund(keys=self._keys(user_id), args=[repr(at), charge_id]))
        if result.startswith("ok:"):
            await self._count(at, refunded=int(result.split(":")[1]))
        return result

    async def undo_refund(self, user_id: int, charge_id: str, at: float) -> None:
        async with _available():
            undone = await self._undo_refund(keys=self._keys(user_id), args=[repr(at), charge_id])
        if undone:
            payments = {p.charge_id: p for p in await self.payments(user_id)}
            await self._count(at, refunded=-payments[charge_id].credits)

    async def balance(self, user_id: int, at: float) -> Balance:
        async with _available():
            available, reserved = await self._balance(keys=self._keys(user_id), args=[repr(at)])
        return Balance(int(available), int(reserved))

    async def entries(self, user_id: int) -> list[Entry]:
        async with _available():
            raw = await self._redis.lrange(self._keys(user_id)[1], 0, -1)
        return [_entry(json.loads(item)) for item in raw]

    async def payments(self, user_id: int) -> list[Payment]:
        async with _available():
            raw = await self._redis.hgetall(self._keys(user_id)[3])
        found = [_payment(_text(charge), json.loads(data)) for charge, data in raw.items()]
        return sorted(found, key=lambda p: p.at, reverse=True)

    async def all_payments(self) -> dict[int, list[Payment]]:
        found: dict[int, list[Payment]] = {}
        async with _available():
            async for key in self._redis.scan_iter(match=f"{self._prefix}{{*}}:charges"):
                user = _text(key).removeprefix(self._prefix).split("}")[0].lstrip("{")
                found[int(user)] = await self.payments(int(user))
        return found

    async def day_figures(self, day: int) -> dict[str, int]:
        async with _available():
            raw = await self._redis.hgetall(f"{self._prefix}day:{day}")
        counts = {_text(k): int(v) for k, v in raw.items()}
        return {name: counts.get(name, 0) for name in DAY_FIGURES}

    async def checked_up_to(self) -> int:
        async with _available():
            checked = await self._redis.get(f"{self._prefix}checked")
        return int(checked or 0)

    async def check_up_to(self, offset: int) -> None:
        """Forward only (two instances racing may leave it a little behind: those are
        checked again, and credited once per charge id anyway)."""
        async with _available():
            checked = await self.checked_up_to()
            if offset > checked:
                await self._redis.set(f"{self._prefix}checked", offset)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entry(data: dict[str, object]) -> Entry:
    return Entry(
        EntryKind(str(data["kind"])),
        int(str(data["delta"])),
        int(str(data["credits"])),
        float(str(data["at"])),
        str(data.get("ref") or ""),
    )


def _payment(charge_id: str, data: dict[str, object]) -> Payment:
    return Payment(
        charge_id,
        int(str(data["credits"])),
        int(str(data["stars"])),
        float(str(data["at"])),
        bool(data["refunded"]),
    )
