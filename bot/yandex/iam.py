"""IAM tokens from a service-account authorized key (YANDEX_SA_KEY_FILE, the JSON that
`yc iam key create` writes). A JWT signed with the key (PS256, at most an hour long) is
exchanged at Yandex IAM for a token that lives at most 12 h; the token is renewed in the
background every hour, as Yandex advises, long before it expires, and a failed renewal is
retried with backoff and jitter while the current token still works.

PyJWT and cryptography are imported only when a key file is used: they cost memory."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from bot.core.netcause import network_cause, where
from bot.yandex.errors import AuthError, ServiceUnavailable, Unreachable, YandexArtError

log = logging.getLogger(__name__)

DEFAULT_IAM_URL = "https://iam.api.cloud.yandex.net"
TOKENS_PATH = "/iam/v1/tokens"
JWT_AUDIENCE = DEFAULT_IAM_URL + TOKENS_PATH
JWT_LIFETIME = 3600  # Yandex accepts JWTs that live at most an hour
RENEW_EVERY = 3600.0
RENEW_AFTER_MIN = 1.0  # however short a token's life, at most one exchange a second
RETRY_FIRST = 1.0
RETRY_CAP = 60.0


class IamRefused(AuthError):
    """Yandex IAM refused the key: a wrong, deleted or foreign key file."""


@dataclass(frozen=True)
class ServiceAccountKey:
    key_id: str
    service_account_id: str
    private_key: str = field(repr=False)

    @classmethod
    def from_file(cls, path: Path) -> ServiceAccountKey:
        """The key, checked: a ValueError says what is wrong, never the key itself."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            key = cls(str(data["id"]), str(data["service_account_id"]), str(data["private_key"]))
        except (OSError, ValueError, KeyError, TypeError):
            raise ValueError(
                "must be an authorized key JSON (id, service_account_id, private_key)"
            ) from None
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        try:
            load_pem_private_key(key.pem.encode(), password=None)
        except (ValueError, TypeError):
            raise ValueError("its private_key is not a PEM private key") from None
        return key

    @property
    def pem(self) -> str:
        """The key as PEM: Yandex puts a line of its own before the PEM block."""
        start = self.private_key.find("-----BEGIN")
        return self.private_key[start:] if start >= 0 else self.private_key


def make_jwt(key: ServiceAccountKey, now: float, audience: str = JWT_AUDIENCE) -> str:
    """The JWT Yandex IAM exchanges for a token: PS256, the key id as `kid`."""
    import jwt

    issued = int(now)
    claims = {"aud": audience, "iss": key.service_account_id, "iat": issued}
    claims["exp"] = issued + JWT_LIFETIME
    return jwt.encode(claims, key.pem, algorithm="PS256", headers={"kid": key.key_id})


def renew_after(lifetime: float) -> float:
    """Seconds after issue to renew a token living `lifetime`: hourly, or at half its life
    when it is shorter, so a renewal that fails has time to be retried. A lifetime already
    over means our clock is off (IAM has just issued the token): hourly too."""
    if lifetime <= 0:
        return RENEW_EVERY
    return max(RENEW_AFTER_MIN, min(RENEW_EVERY, lifetime / 2))


def retry_delay(attempt: int, rng: random.Random) -> float:
    base = min(RETRY_CAP, RETRY_FIRST * 2.0 ** (attempt - 1))
    return base / 2 + rng.uniform(0, base / 2)


class IamTokenSource:
    """`Authorization: Bearer …` headers from a service-account key, kept fresh."""

    def __init__(
        self,
        key: ServiceAccountKey,
        *,
        iam_url: str = DEFAULT_IAM_URL,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._key = key
        self._url = iam_url.rstrip("/") + TOKENS_PATH
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock = clock
        self._rng = rng or random.Random()
        self._token: str | None = None
        self._usable_until = 0.0
        self._renew_at = 0.0
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    async def header(self) -> str:
        """A header with a token that is still good: fetched now if there is none."""
        if self._token is None or self._clock() >= self._usable_until:
            async with self._lock:
                if self._token is None or self._clock() >= self._usable_until:
                    await self._renew()
        if self._task is None:
            self._task = asyncio.create_task(self._keep_fresh(), name="iam-token")
        return f"Bearer {self._token}"

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    async def _keep_fresh(self) -> None:
        attempt = 0
        while True:
            await asyncio.sleep(max(0.0, self._renew_at - self._clock()))
            try:
                async with self._lock:
                    await self._renew()
                attempt = 0
            except YandexArtError as exc:
                attempt += 1
                delay = retry_delay(attempt, self._rng)
                self._renew_at = self._clock() + delay
                # An unreachable host is named with the cause; the text holds no secret.
                log.warning(
                    "IAM token renewal failed (%s), attempt %d; next try in %.1f s",
                    exc.message if isinstance(exc, Unreachable) else type(exc).__name__,
                    attempt,
                    delay,
                )

    async def _renew(self) -> None:
        now = self._clock()
        payload = await self._exchange(make_jwt(self._key, now))
        token = payload.get("iamToken")
        if not isinstance(token, str) or not token:
            raise ServiceUnavailable("IAM answered without a token")
        lifetime = _expires_at(payload.get("expiresAt"), now) - now
        if lifetime <= 0:
            log.warning(
                "IAM token expiry is in the past by %.0f s: is this machine's clock right?",
                -lifetime,
            )
            lifetime = 2 * RENEW_EVERY
        self._token = token
        # Never used in its last tenth (clocks differ; a request takes time).
        self._usable_until = now + lifetime * 0.9
        self._renew_at = now + renew_after(lifetime)
        log.info("IAM token renewed; it expires in %.0f s", lifetime)

    async def _exchange(self, token: str) -> dict[str, Any]:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(self._url, json={"jwt": token}) as resp:
                body = await resp.json(content_type=None)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unreachable(where(self._url), network_cause(exc)) from None
        except ValueError as exc:
            raise ServiceUnavailable(f"IAM: {type(exc).__name__}") from None
        if status in (400, 401, 403):
            raise IamRefused(f"IAM refused the key ({status})")
        if status >= 300 or not isinstance(body, dict):
            raise ServiceUnavailable(f"IAM answered {status}")
        return body


def _expires_at(value: object, now: float) -> float:
    """`expiresAt` (RFC 3339); an hour from now when it is missing or unreadable."""
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return now + RENEW_EVERY
