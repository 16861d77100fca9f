"""ASGI middleware for a public deployment: body size limit, security headers, structured request logs.

Plain ASGI (no framework dependency), so each piece is small and testable on its own:

* :class:`BodyLimitMiddleware` answers ``413`` with a JSON error when a request body is larger than the
  limit, whether it declares a ``Content-Length`` or streams chunks.
* :class:`SecurityHeadersMiddleware` adds ``X-Content-Type-Options``, ``Referrer-Policy`` and a CSP whose
  ``frame-ancestors`` is ``DZQA_FRAME_ANCESTORS``; it removes any ``X-Frame-Options`` (framing is
  governed by the CSP alone, so configured origins can embed the chat).
* :class:`RequestLogMiddleware` writes one JSON line per request (time, method, route, status, latency,
  pseudonymous client, plus what the endpoint recorded in ``scope["state"]["dzqa"]``, e.g. ``found`` and
  ``passages``); never a raw IP.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Iterable

from .limits import ASGIApp, Network, Receive, Scope, Send, anonymise, client_address

access_log = logging.getLogger("dzqa.access")

#: largest request body accepted (questions are at most 500 characters; feedback is small)
MAX_BODY_BYTES = 64 * 1024
TOO_LARGE = "请求内容过大。Request body too large (limit {limit} bytes)."


async def _json_response(send: Send, status: int, obj: dict[str, Any], extra: Iterable[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps(obj, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode()),
        *extra]})
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = {"error": TOO_LARGE.format(limit=self.max_bytes)}
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _json_response(send, 400, {"error": "Content-Length 无效 (invalid Content-Length)"})
                    return
                if declared > self.max_bytes:
                    await _json_response(send, 413, error)
                    return
        seen = 0
        started = False

        async def counted_receive() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _json_response(send, 413, error)


def frame_ancestors(spec: str) -> str:
    """``DZQA_FRAME_ANCESTORS`` ("*" or space-separated origins) as a CSP source list."""
    sources = spec.split()
    return " ".join(sources) if sources else "'self'"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, frame_ancestors_spec: str = "*") -> None:
        self.app = app
        csp = (f"frame-ancestors {frame_ancestors(frame_ancestors_spec)}; object-src 'none'; "
               f"base-uri 'self'")
        self.headers = [(b"x-content-type-options", b"nosniff"),
                        (b"referrer-policy", b"strict-origin-when-cross-origin"),
                        (b"content-security-policy", csp.encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                own = {name for name, _ in self.headers}
                kept = [(k, v) for k, v in message.get("headers", [])
                        if k.lower() not in own and k.lower() != b"x-frame-options"]
                message = {**message, "headers": kept + self.headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, trusted_proxies: Iterable[Network] = (), *, quiet_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.proxies = tuple(trusted_proxies)
        self.quiet = quiet_prefixes  # static assets: not worth a line each

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        scope.setdefault("state", {})

        async def capture(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            path = scope.get("path", "")
            if not any(path.startswith(p) for p in self.quiet):
                record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "method": scope.get("method"),
                          "route": path, "status": status,
                          "latency_ms": round((time.perf_counter() - start) * 1000, 2),
                          "client": anonymise(client_address(scope, self.proxies))}
                extra = scope["state"].get("dzqa")
                if isinstance(extra, dict):
                    record.update(extra)
                access_log.info(json.dumps(record, ensure_ascii=False))
