"""Per-client rate limiting as a plain ASGI middleware (no framework dependency).

A token bucket per client: ``DZQA_RATE_LIMIT`` requests per minute, with a burst of the same size.
Excess requests get ``429`` with ``Retry-After`` and a JSON body, never an error. The client is the
peer address; ``X-Forwarded-For`` is honoured only when the peer is one of ``DZQA_TRUSTED_PROXIES``
(addresses or networks), and then the right-most address that is not itself a trusted proxy is used.
Only what costs work is counted: POSTs (questions, feedback, Gradio submissions) and GETs under
the API paths (``/api/``, ``/v1/``: :func:`is_api_path`); pages, static assets, health checks, Gradio's result
streams and the cheap requests the pages make on their own (:data:`UNCOUNTED_GET`, :data:`UNCOUNTED_POST_SUFFIX`) are not.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: at most this many clients are tracked; the least recently seen are forgotten first
MAX_CLIENTS = 100_000
BUSY_MESSAGE = "请求过于频繁，请稍后再试。Too many requests, please try again later."

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: the machine-facing APIs: dzqa's JSON API and the OpenAI-compatible one. The one place that decides "is
#: this an API path" (small body limit, GETs rate-limited, CORS, never Gradio's, OpenAI-style errors on /v1/)
API_PREFIXES = ("/api/", "/v1/")
#: the OpenAI-compatible API (its errors are OpenAI error objects)
OPENAI_PREFIX = "/v1/"


def route_path(scope: Scope) -> str:
    """The request's path below DZQA_ROOT_PATH (what the routes match), whether a proxy stripped it or not."""
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root):] or "/"
    return path


def is_api_path(path: str) -> bool:
    """Whether a route path (see :func:`route_path`) belongs to one of the APIs."""
    return path.startswith(API_PREFIXES) or path + "/" in API_PREFIXES


def is_openai_path(path: str) -> bool:
    return path.startswith(OPENAI_PREFIX) or path + "/" == OPENAI_PREFIX


def _trusted(addr: str, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(addr.strip())
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(scope: Scope, proxies: tuple[Network, ...]) -> str:
    """The address a request is attributed to (see module docstring)."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    if not proxies or not _trusted(peer, proxies):
        return peer
    forwarded: list[str] = []
    for name, value in scope.get("headers") or ():
        if name == b"x-forwarded-for":
            forwarded += [a.strip() for a in value.decode("latin-1").split(",") if a.strip()]
    for addr in reversed(forwarded):
        if not _trusted(addr, proxies):
            return addr
    return forwarded[0] if forwarded else peer


_SALT = os.urandom(16)


def anonymise(address: str, salt: bytes = _SALT) -> str:
    """A pseudonym for a client address (per process, or per database with its shared ``salt``): lets logs
    and rate limits group requests without storing the IP."""
    return hashlib.blake2b(address.encode(), key=salt, digest_size=6).hexdigest()


def bucket_key(address: str, salt: bytes = _SALT) -> str:
    """Whose bucket a request draws from: the pseudonym of the address, or of its /64 for IPv6 (one
    subscriber's line), so nothing in memory is a raw address and a /64 cannot rotate past the limit."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return anonymise(address, salt)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:198.51.100.7 is the IPv4 client 198.51.100.7
            return anonymise(str(ip.ipv4_mapped), salt)
        return anonymise(str(ipaddress.ip_network(f"{ip}/64", strict=False)), salt)
    return anonymise(str(ip), salt)


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token buckets keyed by client, in this process's memory; thread-safe; bounded memory."""

    blocking = False  # acquire() never waits for I/O: called on the event loop

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, address: str) -> float:
        """0.0 when a request from this client address may proceed, else the seconds to wait."""
        return self.acquire(bucket_key(address))

    def acquire(self, key: str) -> float:
        """0.0 when the request may proceed, else the seconds to wait before retrying."""
        now = self.clock()
        with self._lock:
            b = self._buckets.pop(key, None) or _Bucket(float(self.per_minute), now)
            b.tokens = min(float(self.per_minute), b.tokens + (now - b.stamp) * self.rate)
            b.stamp = now
            self._buckets[key] = b
            if len(self._buckets) > MAX_CLIENTS:
                self._buckets.popitem(last=False)
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                return 0.0
            return (1.0 - b.tokens) / self.rate


class SharedRateLimiter:
    """Token buckets in the database (PostgreSQL), so every replica draws from one bucket per client and a
    client cannot multiply its quota by the number of replicas. One upsert per request, timed by the
    database's clock (replicas' clocks may differ). When the database cannot be reached the replica falls
    back to its own in-memory buckets (the limit then holds per replica, never not at all)."""

    blocking = True  # a database round trip: the middleware runs it in a worker thread
    # every expression of DO UPDATE reads the row as it was: refill since the last request, then take one
    # token when there is one; `granted` tells the caller which of the two happened
    _REFILL = "LEAST(:burst, b.tokens + GREATEST(0, excluded.stamp - b.stamp) * :rate)"
    _UPSERT = ("INSERT INTO rate_buckets AS b (key, tokens, stamp, granted) "
               "VALUES (:key, :burst - 1, EXTRACT(EPOCH FROM clock_timestamp()), 1) "
               f"ON CONFLICT (key) DO UPDATE SET tokens = {_REFILL} - CASE WHEN {_REFILL} >= 1 THEN 1 ELSE 0 END, "
               f"granted = CASE WHEN {_REFILL} >= 1 THEN 1 ELSE 0 END, stamp = excluded.stamp "
               "RETURNING tokens, granted")
    #: a bucket untouched for this long is full again: its row can go
    _FORGET = "DELETE FROM rate_buckets WHERE stamp < EXTRACT(EPOCH FROM clock_timestamp()) - :idle"

    def __init__(self, db: Any, per_minute: int, *, fallback: RateLimiter | None = None) -> None:
        self.db = db
        self.per_minute = per_minute
        self.rate = per_minute / 60.0
        self.fallback = fallback or RateLimiter(per_minute)
        self._calls = 0
        self._warned = float("-inf")
        self._salt: bytes | None = None

    def check(self, address: str) -> float:
        """0.0 when a request from this client address may proceed, else the seconds to wait."""
        from ..db import errors

        try:
            if self._salt is None:
                self._salt = self._shared_salt()
        except errors() as e:
            self._unavailable(e)
            return self.fallback.check(address)
        return self.acquire(bucket_key(address, self._salt))

    def _shared_salt(self) -> bytes:
        """The pseudonym key every replica uses (made once per database, kept in it): the same client has
        the same bucket everywhere, and no address is ever stored."""
        self.db.execute("INSERT INTO secrets (name, value) VALUES ('rate_limit_salt', :v) ON CONFLICT DO NOTHING",
                        {"v": os.urandom(16).hex()})
        return bytes.fromhex(self.db.query("SELECT value FROM secrets WHERE name = 'rate_limit_salt'")[0][0])

    def _unavailable(self, e: BaseException) -> None:
        if time.monotonic() - self._warned > 60:
            self._warned = time.monotonic()
            logging.getLogger("dzqa.web").warning("shared rate limit unavailable, limiting per replica: %s",
                                                  str(e).splitlines()[0])

    def acquire(self, key: str) -> float:
        """0.0 when the request may proceed, else the seconds to wait before retrying."""
        from ..db import errors

        params = {"key": key, "burst": float(self.per_minute), "rate": self.rate}
        try:
            self._calls += 1
            if self._calls % 1000 == 1:
                self.db.execute(self._FORGET, {"idle": 2 * 60.0})
            with self.db.transaction(write=True, timeout=1.0) as conn:
                from sqlalchemy import text

                tokens, granted = conn.execute(text(self._UPSERT), params).one()
        except errors() as e:
            self._unavailable(e)
            return self.fallback.acquire(key)
        return 0.0 if granted else (1.0 - float(tokens)) / self.rate


#: what the pages ask on their own and costs next to nothing, never counted (a citizen's quota is for their
#: questions): Gradio's unqueued events — the opening questions (cached for a minute), clearing the chat; the
#: queued ones, answers, cannot run there (``api_open=False``) — and the completions while typing
UNCOUNTED_POST_SUFFIX = "/gradio_api/run/predict"
UNCOUNTED_GET = "/api/suggest"


def counts(method: str, path: str) -> bool:
    """Whether a request costs enough work to count against the limit."""
    if method == "POST":
        return not path.endswith(UNCOUNTED_POST_SUFFIX)
    return method == "GET" and is_api_path(path) and path != UNCOUNTED_GET


class RateLimitMiddleware:
    """ASGI middleware answering over-limit requests with 429 + Retry-After."""

    def __init__(self, app: ASGIApp, per_minute: int, trusted_proxies: Iterable[Network] = (),
                 shared: Any = None) -> None:
        """``shared``: a PostgreSQL :class:`dzqa.db.Database` whose buckets every replica shares."""
        self.app = app
        self.limiter: RateLimiter | SharedRateLimiter | None = None
        if per_minute > 0:
            self.limiter = SharedRateLimiter(shared, per_minute) if shared is not None else RateLimiter(per_minute)
        self.proxies = tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.limiter is None or scope["type"] != "http" or not counts(scope["method"], route_path(scope)):
            await self.app(scope, receive, send)
            return
        address = client_address(scope, self.proxies)
        if self.limiter.blocking:
            import anyio.to_thread

            wait = await anyio.to_thread.run_sync(self.limiter.check, address)
        else:
            wait = self.limiter.check(address)
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry = max(1, math.ceil(wait))
        # "detail" too: Gradio's page shows that key of a failed submission
        body = json.dumps({"error": BUSY_MESSAGE, "detail": BUSY_MESSAGE, "retry_after": retry},
                          ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"retry-after", str(retry).encode()),
            (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
