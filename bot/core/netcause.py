"""Why a connection failed, in words an operator can act on.

aiohttp, aiogram, redis and urllib each wrap the operating system's error in their own;
the cause is found by walking the chain. Only types and fixed words are returned: an
exception's text may quote a URL, and the Bot API's URL carries the token.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

# OpenSSL's reasons when the other side does not speak TLS at all.
_NOT_TLS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL", "HTTP_REQUEST")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then what it wraps: causes, contexts and the wrapped OS errors."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        link = todo.pop(0)
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        for attr in ("os_error", "certificate_error", "reason", "__cause__", "__context__"):
            inner = getattr(link, attr, None)
            if isinstance(inner, BaseException):
                todo.append(inner)


def _one(link: BaseException) -> str | None:
    if isinstance(link, socket.gaierror):
        return "DNS lookup failed (no such host, or no DNS)"
    if isinstance(link, ssl.SSLCertVerificationError):
        # aiohttp's own subclass has no verify_message: the wrapped error it chains has.
        message = getattr(link, "verify_message", None)
        return f"TLS certificate refused ({message})" if message else None
    if isinstance(link, ssl.SSLError) and isinstance(getattr(link, "reason", None), str):
        if link.reason in _NOT_TLS:
            return f"TLS handshake failed ({link.reason}: does the port speak plain HTTP?)"
        return f"TLS handshake failed ({link.reason})"
    if isinstance(link, ConnectionRefusedError):
        return "connection refused (nothing listens on that port)"
    if isinstance(link, ConnectionResetError):
        return "connection reset"
    if isinstance(link, TimeoutError):
        return "timed out"
    status = getattr(link, "status", None)
    if isinstance(status, int) and status >= 400:
        return f"HTTP {status}"
    return None


def network_cause(exc: BaseException) -> str:
    """DNS, refused, TLS, timeout or HTTP status; else the outermost exception's type."""
    causes = [cause for link in _chain(exc) if (cause := _one(link)) is not None]
    return causes[0] if causes else type(exc).__name__


def where(url: str) -> str:
    """`host` or `host:port` of a URL, never its user, password or path (a token may be in
    either)."""
    parts = urlsplit(url)
    host = parts.hostname or url
    return f"{host}:{parts.port}" if parts.port else host
