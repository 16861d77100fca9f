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
* :class:`ForwardedHeadersMiddleware` drops X-Forwarded-* from peers that are not DZQA_TRUSTED_PROXIES
  (and X-Gradio-Server from everyone) and checks Host against DZQA_ALLOWED_HOSTS, so no client can
  choose the host the page's scripts load from; :class:`CacheControlMiddleware` keeps pages, JSON and
  exports out of shared caches.
* :class:`GradioRoutesMiddleware` refuses every Gradio route the pages do not use (uploads, file=, …);
  :class:`NoGradioCORSMiddleware` removes Gradio's own CORS answers.
* :class:`ErrorLineMiddleware` turns any exception into one log line (and a JSON 500 if nothing was sent).
* :class:`RequestLogMiddleware` writes one JSON line per request (time, method, route, status, latency,
  pseudonymous client, plus what the endpoint recorded with :func:`note`, e.g. ``found`` and ``passages``);
  never a raw IP.
"""

from __future__ import annotations

import json
import logging
import re
import time
from contextvars import ContextVar
from typing import Any, Iterable

from .limits import (ASGIApp, Network, Receive, Scope, Send, _trusted, anonymise, client_address, is_api_path,
                     is_openai_path, route_path)

access_log = logging.getLogger("dzqa.access")

#: largest request body of the JSON API (questions are at most 500 characters; feedback is small)
MAX_API_BODY = 64 * 1024
#: largest body of the OpenAI-compatible API: a chat client resends the whole conversation, answers and their
#: source footers included, often \u-escaped (6 bytes a character); 256 KiB hold ~100 turns
MAX_OPENAI_BODY = 256 * 1024
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
    def __init__(self, app: ASGIApp, api_max: int = MAX_API_BODY, page_max: int = MAX_PAGE_BODY,
                 openai_max: int = MAX_OPENAI_BODY) -> None:
        self.app = app
        self.api_max = api_max
        self.page_max = page_max
        self.openai_max = openai_max

    def limit(self, path: str) -> int:
        if is_openai_path(path):
            return self.openai_max
        return self.api_max if is_api_path(path) else self.page_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(route_path(scope))
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


def security_header_list(frame_ancestors: Iterable[str]) -> list[tuple[bytes, bytes]]:
    """:func:`security_headers` as raw ASGI header pairs."""
    return [(k.lower().encode(), v.encode()) for k, v in security_headers(frame_ancestors).items()]


class SecurityHeadersMiddleware:
    """The same security headers on every response: pages, API, Gradio's routes, errors alike."""

    def __init__(self, app: ASGIApp, frame_ancestors: Iterable[str] = ("*",)) -> None:
        self.app = app
        self.headers = security_header_list(frame_ancestors)

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


# --------------------------------------------------------------------------- headers that shape URLs

#: headers through which a client could claim another host, scheme or prefix; Gradio builds the page's
#: script and API URLs from them. Believed only from DZQA_TRUSTED_PROXIES.
FORWARDED_HEADERS = (b"x-forwarded-host", b"x-forwarded-proto", b"x-forwarded-for", b"x-forwarded-port",
                     b"x-forwarded-prefix", b"x-forwarded-server", b"x-forwarded-scheme", b"x-forwarded-ssl",
                     b"x-real-ip", b"forwarded")
#: a header Gradio takes as the server's URL from anyone; no proxy of ours sends it
NEVER_BELIEVED = (b"x-gradio-server",)
#: a Host (or X-Forwarded-Host) value: a DNS name, IPv4 or [IPv6], with an optional port
_HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.?)(?::\d{1,5})?$")
BAD_HOST = "请求的主机名无效。Invalid or unknown Host header."


def host_name(value: str) -> str:
    """'www.example.gov.cn:443' → 'www.example.gov.cn'; '[::1]:7860' → '::1' (lower case)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.index("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


LOOPBACK_HOSTS = ("localhost", "::1")


def host_allowed(name: str, allowed: tuple[str, ...]) -> bool:
    """Whether a host name is one of DZQA_ALLOWED_HOSTS ('*.example.gov.cn' covers its subdomains), or the
    machine itself (direct requests on the loopback port, health checks, a proxy's own Host)."""
    name = name.rstrip(".")
    if name in LOOPBACK_HOSTS or name.startswith("127.") and name.replace(".", "").isdigit():
        return True
    for pattern in allowed:
        if pattern == "*" or name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:])):
            return True
    return False


class ForwardedHeadersMiddleware:
    """Only DZQA_TRUSTED_PROXIES may shape the URLs the pages are built with.

    From any other peer, X-Forwarded-* and Forwarded are removed before Gradio (or anything else) sees
    them; X-Gradio-Server is removed from everyone. The Host (and a trusted proxy's X-Forwarded-Host) must
    be a plain host[:port], and one of DZQA_ALLOWED_HOSTS when that is set, else ``400``: a forged Host
    cannot put a foreign script URL into a page (which is also never cached: see CacheControlMiddleware)."""

    def __init__(self, app: ASGIApp, trusted_proxies: Iterable[Network] = (), allowed_hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.proxies = tuple(trusted_proxies)
        self.allowed = tuple(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        peer = (scope.get("client") or ("", 0))[0]
        trusted = bool(self.proxies) and _trusted(peer, self.proxies)
        dropped = NEVER_BELIEVED if trusted else NEVER_BELIEVED + FORWARDED_HEADERS
        headers = [(k, v) for k, v in scope.get("headers") or () if k.lower() not in dropped]
        for name, value in headers:
            if name in (b"host", b"x-forwarded-host"):
                first = value.decode("latin-1").split(",")[0].strip()
                if not _HOST.match(first) or (self.allowed and not host_allowed(host_name(first), self.allowed)):
                    if scope["type"] == "http":
                        await _json_response(send, 400, {"error": BAD_HOST})
                    else:
                        await send({"type": "websocket.close", "code": 1008})
                    return
        await self.app({**scope, "headers": headers}, receive, send)


# ----------------------------------------------------------------------------------------- caching

#: Gradio's build assets carry a content hash in their names: cacheable for good
HASHED_ASSETS = "/assets/"
#: other static files (same content per version, not hashed): an hour
STATIC_FILES = ("/static/", "/static-offline-docs/", "/favicon.ico")
NO_STORE = b"no-store"


class CacheControlMiddleware:
    """Pages, JSON, event streams and exports are never stored by a cache in front (they are built per
    request, from a session or for one admin); only static files may be. Replaces what the app set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    @staticmethod
    def policy(path: str) -> bytes:
        if HASHED_ASSETS in path:
            return b"public, max-age=31536000, immutable"
        if any(p in path for p in STATIC_FILES):
            return b"public, max-age=3600"
        return NO_STORE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        value = self.policy(scope.get("path", ""))

        async def with_policy(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                chosen = value if 200 <= status < 300 or status == 304 else NO_STORE
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in (b"cache-control", b"expires", b"pragma")]
                message = {**message, "headers": kept + [(b"cache-control", chosen)]}
            await send(message)

        await self.app(scope, receive, with_policy)


# ------------------------------------------------------------------------------ Gradio's routes

#: what the pages (chat, embed, desk) call under their mount, checked in a real browser session:
#: the page, its assets, the queue (join → data stream, heartbeat), unqueued events (run/predict). Plus the chat's published endpoint
#: (/gradio_api/call/chat and /gradio_api/info: the load test and scripts drive the chat with it).
#: Uploads, /gradio_api/file=, /proxy=, /config, /run/<name>, /stream, /monitoring, /login, … are refused.
PAGE_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((m, re.compile(p)) for m, p in (
    ("GET", r"/?"),
    ("GET", r"/assets/[\w.@~-]+(/[\w.@~-]+)*"),
    ("GET", r"/static/[\w.@~-]+(/[\w.@~-]+)*"),
    ("GET", r"/(gradio_api/)?theme\.css"),
    ("GET", r"/favicon\.ico"),
    ("POST", r"/gradio_api/queue/join"),
    ("GET", r"/gradio_api/queue/data"),
    ("POST", r"/gradio_api/run/predict"),  # events outside the queue (clearing the chat), by fn_index
    ("GET", r"/gradio_api/heartbeat/[\w-]+"),
))
CHAT_API_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((m, re.compile(p)) for m, p in (
    ("GET", r"/gradio_api/info/?"),
    ("POST", r"/gradio_api/call/chat/?"),
    ("GET", r"/gradio_api/call/chat/[\w-]+"),
))
NOT_HERE = "没有这个地址。Not found."


class GradioRoutesMiddleware:
    """Refuse (404) every request under a Gradio mount that is not on the allow-list above.

    ``own`` are the app's own paths (JSON API, reader, docs) that are never Gradio's; ``mounts`` the Gradio
    mount points, longest first ("/embed", "/desk", ""); ``api_mounts`` those whose chat API is published."""

    def __init__(self, app: ASGIApp, own: tuple[str, ...], own_exact: tuple[str, ...], mounts: tuple[str, ...],
                 api_mounts: tuple[str, ...] = ("",)) -> None:
        self.app = app
        self.own = own
        self.own_exact = own_exact
        self.mounts = tuple(sorted(mounts, key=len, reverse=True))
        self.api_mounts = api_mounts

    def allowed(self, method: str, path: str) -> bool:
        if path in self.own_exact or path.startswith(self.own):
            return True
        method = "GET" if method == "HEAD" else method
        for mount in self.mounts:
            if mount and not (path == mount or path.startswith(mount + "/")):
                continue
            rest = path[len(mount):]
            routes = PAGE_ROUTES + (CHAT_API_ROUTES if mount in self.api_mounts else ())
            return any(m == method and rx.fullmatch(rest) for m, rx in routes)
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") != "OPTIONS":
            from starlette._utils import get_route_path

            if not self.allowed(scope["method"], get_route_path(scope)):
                await _json_response(send, 404, {"error": NOT_HERE})
                return
        elif scope["type"] == "websocket":  # no page uses one
            await send({"type": "websocket.close", "code": 1008})
            return
        await self.app(scope, receive, send)


# ------------------------------------------------------------------------------------------- CORS

class NoGradioCORSMiddleware:
    """Gradio answers any localhost Origin with Access-Control-Allow-Origin and credentials; dzqa's CORS
    is only what docs/embed.md says (the JSON API, for DZQA_CORS_ORIGINS). Every Access-Control-* header
    from inside is dropped; :class:`dzqa.web.server.ApiCORSMiddleware`, outside this one, adds its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def without_cors(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [(k, v) for k, v in message.get("headers", [])
                                                  if not k.lower().startswith(b"access-control-")]}
            await send(message)

        await self.app(scope, receive, without_cors)


# ----------------------------------------------------------------------------------------- errors

error_log = logging.getLogger("dzqa.web.errors")


def error_line(method: str, path: str, exc: BaseException) -> str:
    """One line for an error: where it was raised (innermost frame) and what it was, no traceback."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    after_start = "response already started" in str(exc) and (exc.__cause__ or exc.__context__)
    if after_start:  # Starlette's wrapper around the real error (e.g. Gradio's 404 for an unknown session)
        exc = after_start  # type: ignore[assignment]
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f" at {tb.tb_frame.f_code.co_filename.rsplit('/site-packages/', 1)[-1]}:{tb.tb_lineno}" if tb else ""
    detail = str(exc).replace("\n", " ")[:200]
    late = " (after the response started)" if after_start else ""
    return f"{method} {path}: {type(exc).__name__}: {detail}{where}{late}"


class ErrorLineMiddleware:
    """An exception anywhere below (our code, FastAPI, a Gradio route, a stream that fails after it
    started) becomes one log line and, when nothing was sent yet, a JSON 500 with the security headers —
    never a multi-kilobyte traceback from the framework or uvicorn."""

    def __init__(self, app: ASGIApp, frame_ancestors: Iterable[str] = ("*",)) -> None:
        self.app = app
        self.headers = security_header_list(frame_ancestors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = finished = replaced = False

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started, finished, replaced
            if replaced:  # the body of a framework's plain-text 500, dropped
                return
            if message["type"] == "http.response.start":
                started = True
                kind = dict(message.get("headers") or []).get(b"content-type", b"")
                if message["status"] == 500 and kind.startswith(b"text/plain"):
                    # a mounted app's own error layer (Gradio is a FastAPI app of its own) answered first
                    replaced = finished = True
                    await _json_response(send, 500, {"error": "internal error"},
                                         [*self.headers, (b"cache-control", NO_STORE)])
                    return
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                finished = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as e:  # noqa: BLE001 - the point is to catch everything, once
            error_log.error(error_line(scope.get("method", ""), scope.get("path", ""), e))
            try:
                if not started:
                    await _json_response(send, 500, {"error": "internal error"},
                                         [*self.headers, (b"cache-control", NO_STORE)])
                elif not finished:  # a stream that failed midway: end it cleanly instead of a second error
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
            except OSError:  # the client is gone
                pass
