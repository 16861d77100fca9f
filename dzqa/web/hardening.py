"""ASGI middleware for a public deployment: body size limit, security headers, structured request logs.

Plain ASGI (no framework dependency), so each piece is small and testable on its own:

* :class:`BodyLimitMiddleware` answers ``413`` with a JSON error when a request body is larger than the
  limit of its route (small for the JSON API, larger for Gradio, whose chat posts the conversation),
  whether it declares a ``Content-Length`` or streams chunks.
* :class:`BusyMessageMiddleware` turns Gradio's "Queue is full" (503) into a polite Chinese "busy, try
  again" with ``Retry-After``, which the page shows instead of hanging.
* :class:`SecurityHeadersMiddleware` adds ``X-Content-Type-Options``, ``Referrer-Policy`` and a CSP whose
  ``frame-ancestors`` is ``DZQA_FRAME_ANCESTORS``; it removes any ``X-Frame-Options`` (framing is
  governed by the CSP alone, so configured origins can embed the chat).
* :class:`RequestLogMiddleware` writes one JSON line per request (time, method, route, status, latency,
  pseudonymous client, plus what the endpoint recorded with :func:`note`, e.g. ``found`` and ``passages``);
  never a raw IP.
"""

from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar
from typing import Any, Iterable

from .limits import ASGIApp, Network, Receive, Scope, Send, anonymise, client_address

access_log = logging.getLogger("dzqa.access")

#: largest request body of the JSON API (questions are at most 500 characters; feedback is small)
MAX_API_BODY = 64 * 1024
#: largest body elsewhere: a Gradio chat submission carries the conversation shown so far
MAX_PAGE_BODY = 2 * 1024 * 1024
TOO_LARGE = "请求内容过大。Request body too large (limit {limit} bytes)."
BUSY = "当前咨询人数较多，请稍后再试。The service is busy, please try again in a moment."
#: what the endpoint that handled the current request wants in its log line (see :func:`note`)
_log_fields: ContextVar[dict[str, Any] | None] = ContextVar("dzqa_log_fields", default=None)


def note(**fields: Any) -> bool:
    """Add fields (e.g. ``found``, ``passages``) to the current request's log line; False outside a request.

    Works from the thread pool too: the request's context, and so this dict, is carried there."""
    current = _log_fields.get()
    if current is None:
        return False
    current.update(fields)
    return True


def log_event(**fields: Any) -> None:
    """A structured line for work done outside an HTTP request (Gradio's queue workers)."""
    access_log.info(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **fields}, ensure_ascii=False))


async def _json_response(send: Send, status: int, obj: dict[str, Any], extra: Iterable[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps(obj, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode()),
        *extra]})
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, api_max: int = MAX_API_BODY, page_max: int = MAX_PAGE_BODY) -> None:
        self.app = app
        self.api_max = api_max
        self.page_max = page_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.api_max if "/api/" in scope.get("path", "") else self.page_max
        error = {"error": TOO_LARGE.format(limit=limit)}
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _json_response(send, 400, {"error": "Content-Length 无效 (invalid Content-Length)"})
                    return
                if declared > limit:
                    await _json_response(send, 413, error)
                    return
        seen = 0
        started = exceeded = False

        async def counted_receive() -> dict[str, Any]:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal started
            if exceeded:  # the app caught the interruption and answers something else (FastAPI: 400): replace it
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _json_response(send, 413, error)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except _TooLarge:
            if not started:
                await _json_response(send, 413, error)


class BusyMessageMiddleware:
    """Gradio answers a full queue with 503 and an English detail; citizens get a polite Chinese one."""

    def __init__(self, app: ASGIApp, retry_after: int = 5) -> None:
        self.app = app
        self.retry_after = retry_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path.endswith("/queue/join") or "/gradio_api/call/" in path):
            await self.app(scope, receive, send)
            return
        replaced = False

        async def polite(message: dict[str, Any]) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 503:
                replaced = True
                await _json_response(send, 503, {"detail": BUSY, "error": BUSY},
                                     [(b"retry-after", str(self.retry_after).encode())])
                return
            if replaced:  # the original body is dropped
                return
            await send(message)

        await self.app(scope, receive, polite)


def security_headers(frame_ancestors: Iterable[str] = ("*",)) -> dict[str, str]:
    """The headers every response carries (framing governed by the CSP alone, never X-Frame-Options)."""
    return {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "strict-origin-when-cross-origin",
            "Content-Security-Policy": f"frame-ancestors {' '.join(frame_ancestors)}; object-src 'none'; "
                                       f"base-uri 'self'"}


class SecurityHeadersMiddleware:
    """The same security headers on every response: pages, API, Gradio's routes, errors alike."""

    def __init__(self, app: ASGIApp, frame_ancestors: Iterable[str] = ("*",)) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in security_headers(frame_ancestors).items()]

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
        fields: dict[str, Any] = {}
        token = _log_fields.set(fields)

        async def capture(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            _log_fields.reset(token)
            path = scope.get("path", "")
            if not any(path.startswith(p) for p in self.quiet):
                record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "method": scope.get("method"),
                          "route": path, "status": status,
                          "latency_ms": round((time.perf_counter() - start) * 1000, 2),
                          "client": anonymise(client_address(scope, self.proxies))}
                record.update(fields)
                access_log.info(json.dumps(record, ensure_ascii=False))
