"""The web application: FastAPI with the JSON API, the report reader and three Gradio pages mounted in it.

    /            citizens' chat (Gradio)           /embed   the chat alone, for an iframe (Gradio)
    /desk        hotline lookup desk (Gradio)      /reader  the whole report, an anchor per paragraph
    /api/...     JSON API (docs at /docs)          /healthz status, model, passages

:func:`create_app` takes an engine that is already loaded (the model and index load once, in
:func:`serve`), so every request after start-up is fast. Every middleware is installed in
:func:`install_middleware` — the one place later layers (rate limits, security headers) go.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from importlib import resources
from typing import Any, AsyncIterator, Awaitable, Callable, MutableMapping
from urllib.parse import urlencode

import gradio as gr  # dzqa.web (imported first) has switched its telemetry off
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi_offline import FastAPIOffline
from starlette._utils import get_route_path
from starlette.middleware.cors import CORSMiddleware

from .. import __version__
from ..engine import Engine
from ..feedback import FeedbackStore
from ..settings import Settings, get_settings
from .api import build_router, install_error_handlers
from .chat import build_chat
from .desk import build_desk
from .render import reader_page
from .service import Services

log = logging.getLogger("dzqa.web")

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]

#: the paths of the JSON API (the only ones that get CORS headers)
API_PREFIXES = ("/api/", "/healthz", "/openapi.json")
#: Gradio pages that live under a sub-path; the bare path (/embed) redirects to the mount (/embed/)
SUB_PAGES = ("embed", "desk")
#: marks the embed's page so the stylesheet can make it compact
EMBED_CLASS = '<script>document.documentElement.classList.add("dz-embed");</script>'


def static_text(name: str) -> str:
    return resources.files("dzqa.web").joinpath("static", name).read_text(encoding="utf-8")


def theme() -> gr.themes.Base:
    """Gradio's default look with the system's CJK fonts (no web fonts: nothing is downloaded)."""
    fonts = ["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"]
    return gr.themes.Default(primary_hue="blue", neutral_hue="slate", font=fonts,
                             font_mono=["Noto Sans Mono CJK SC", "monospace"])


# ------------------------------------------------------------------------------------------- middleware


class HeadersMiddleware:
    """Adds fixed headers to every HTTP response (pages, API, Gradio's own routes, errors alike).

    Today: ``Content-Security-Policy: frame-ancestors …`` from DZQA_FRAME_ANCESTORS, and never an
    ``X-Frame-Options`` (it would forbid the embed everywhere, whatever frame-ancestors says)."""

    def __init__(self, app: ASGIApp, headers: list[tuple[str, str]]) -> None:
        self.app = app
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        self.names = {k for k, _ in self.headers} | {b"x-frame-options"}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in self.names]
                message["headers"] = kept + self.headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ApiCORSMiddleware:
    """CORS for the JSON API only, for the origins in DZQA_CORS_ORIGINS (none: no CORS headers at all)."""

    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        self.app = app
        self.cors = CORSMiddleware(app, allow_origins=list(origins), allow_methods=["GET", "POST", "OPTIONS"],
                                   allow_headers=["Content-Type", "Authorization", "X-Admin-Token"],
                                   allow_credentials=False, max_age=600)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and get_route_path(scope).startswith(API_PREFIXES):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class RootPathMiddleware:
    """Serve under DZQA_ROOT_PATH behind a reverse proxy, whether the proxy strips the prefix or not.

    Links that Gradio and /docs generate then carry the prefix; direct requests on the loopback port
    (without the prefix) keep working too."""

    def __init__(self, app: ASGIApp, root_path: str) -> None:
        self.app = app
        self.root_path = root_path

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and self.root_path:
            scope = dict(scope)
            path = scope["path"]
            if not (path == self.root_path or path.startswith(self.root_path + "/")):
                scope["path"] = self.root_path + path
                scope["raw_path"] = self.root_path.encode() + scope.get("raw_path", path.encode())
            scope["root_path"] = self.root_path
        await self.app(scope, receive, send)


def security_headers(settings: Settings) -> list[tuple[str, str]]:
    """Headers on every response (issue 4 adds the rest of its security headers here)."""
    return [("Content-Security-Policy", "frame-ancestors " + " ".join(settings.frame_ancestor_list))]


def install_middleware(app: FastAPI, settings: Settings) -> None:
    """Every middleware of the app, in one place (the last added runs first)."""
    if settings.cors_origin_list:
        app.add_middleware(ApiCORSMiddleware, origins=settings.cors_origin_list)
    app.add_middleware(HeadersMiddleware, headers=security_headers(settings))
    if settings.root_path:
        app.add_middleware(RootPathMiddleware, root_path=settings.root_path)


# ------------------------------------------------------------------------------------------------ app


def create_app(engine: Engine, settings: Settings | None = None, store: FeedbackStore | None = None) -> FastAPI:
    """The whole site around an already loaded engine."""
    settings = settings or engine.settings
    services = Services(engine=engine, store=store or FeedbackStore(settings.feedback_db), settings=settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        services.store.close()  # a clean close on shutdown (SIGTERM included): WAL checkpointed

    app = FastAPIOffline(title="dzqa · 德州市政府工作报告问答 API", version=__version__, lifespan=lifespan,
                         description="Cited answers from the 2021 Dezhou government work report. "
                                     "`/api/ask` returns what `dzqa ask --json` prints; `/api/search` what "
                                     "`dzqa search --json` prints. Errors are `{\"error\": \"...\"}` with a 4xx.",
                         favicon_url=None)
    app.state.services = services
    install_error_handlers(app)
    app.include_router(build_router(services))
    add_page_routes(app, services)

    script = f"<script>{static_text('dzqa.js')}</script>"
    look = dict(theme=theme(), css=static_text("dzqa.css"), footer_links=[], run_history=False, show_error=False,
                ssr_mode=False, pwa=False, mcp_server=False)
    # sub-paths first: the app at "/" would otherwise catch them
    gr.mount_gradio_app(app, build_chat(services, compact=True), path="/embed",  # type: ignore[arg-type]
                        head=EMBED_CLASS + script, **look)
    gr.mount_gradio_app(app, build_desk(services), path="/desk", head=script, **look)  # type: ignore[arg-type]
    gr.mount_gradio_app(app, build_chat(services), path="/", head=script, **look)  # type: ignore[arg-type]
    install_middleware(app, settings)
    return app


def add_page_routes(app: FastAPI, services: Services) -> None:
    """The reader, and the published bare URLs of the sub-path pages (/embed, /desk)."""
    page = reader_page(services.engine.corpus, static_text("dzqa.css"))

    @app.get("/reader", response_class=HTMLResponse, include_in_schema=False)
    def reader() -> HTMLResponse:
        return HTMLResponse(page)

    def to_mount(name: str) -> Callable[[Request], Response]:
        def redirect(request: Request) -> Response:
            # relative, so it stays under the proxy's prefix; ?theme=dark|light → Gradio's ?__theme=
            params = dict(request.query_params)
            theme_name = params.pop("theme", None)
            if theme_name in ("dark", "light"):
                params["__theme"] = theme_name
            query = urlencode(params)
            return RedirectResponse(f"{name}/" + (f"?{query}" if query else ""), status_code=307)

        return redirect

    for name in SUB_PAGES:
        app.add_api_route(f"/{name}", to_mount(name), methods=["GET", "HEAD"], include_in_schema=False)


# ---------------------------------------------------------------------------------------------- serve


def serve(host: str | None = None, port: int | None = None) -> None:
    """Load the model and index once, then serve until stopped (Ctrl+C or SIGTERM finish in-flight requests)."""
    import uvicorn

    settings = get_settings()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("dzqa").setLevel(logging.INFO)  # our own notes; libraries only when something is wrong
    host = host or settings.host
    port = port or settings.port
    print("dzqa: loading the model and index …", file=sys.stderr)
    engine = Engine.open(settings)
    app = create_app(engine, settings)
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}{settings.root_path}"
    print(f"dzqa: serving {base}/  (embed {base}/embed, desk {base}/desk, API {base}/docs)", file=sys.stderr)
    # no access log: it would write client addresses; proxies' X-Forwarded-* trusted only from listed hosts
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning", proxy_headers=True,
                forwarded_allow_ips=settings.trusted_proxies.replace(" ", ",") or "127.0.0.1",
                timeout_graceful_shutdown=10)
