"""The web application: FastAPI with the JSON API, the report reader and three Gradio pages mounted in it.

    /            citizens' chat (Gradio)           /embed   the chat alone, for an iframe (Gradio)
    /desk        hotline lookup desk (Gradio)      /reader  the whole report, an anchor per paragraph
    /api/...     JSON API (docs at /docs)          /healthz status, model, passages

:func:`create_app` takes an engine that is already loaded (the model and index load once, in
:func:`serve`), so every request after start-up is fast. Every middleware (security headers, body and rate
limits, the polite "busy" answer, CORS, the sub-path, request logs) is installed in :func:`install_middleware`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from importlib import resources
from typing import Any, AsyncIterator, Awaitable, Callable, MutableMapping
from urllib.parse import urlencode

import gradio as gr  # dzqa (imported first) has switched its telemetry off; dzqa.web set its temp dir
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi_offline import FastAPIOffline
from starlette._utils import get_route_path
from starlette.middleware.cors import CORSMiddleware

from .. import __version__
from ..engine import Engine
from ..db import open_database
from ..feedback import FeedbackStore
from ..settings import Settings, get_settings
from .api import build_router, install_error_handlers
from .chat import build_chat
from .desk import build_desk
from .hardening import (BodyLimitMiddleware, BusyMessageMiddleware, CacheControlMiddleware, ErrorLineMiddleware,
                        ForwardedHeadersMiddleware, GradioRoutesMiddleware, NoGradioCORSMiddleware,
                        RequestLogMiddleware, SecurityHeadersMiddleware)
from .limits import API_PREFIXES, RateLimitMiddleware
from .openai_api import OpenAIErrorsMiddleware, build_openai_router
from .render import reader_page
from .service import Services

log = logging.getLogger("dzqa.web")

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]

#: static files and Gradio's result streams: not worth a log line each
QUIET_PATHS = ("/assets/", "/static/", "/favicon", "/gradio_api/queue/data", "/gradio_api/heartbeat",
               "/theme.css", "/gradio_api/upload_progress", "/manifest.json")
#: the paths that get CORS headers: the APIs (dzqa.web.limits.API_PREFIXES: /api/, /v1/), health, the schema
CORS_PREFIXES = API_PREFIXES + ("/healthz", "/openapi.json")
#: Gradio pages that live under a sub-path; the bare path (/embed) redirects to the mount (/embed/)
SUB_PAGES = ("embed", "desk")
#: paths of the app's own routes (never Gradio's): the JSON API, the reader, the API docs and their files
OWN_PREFIXES = CORS_PREFIXES + ("/docs", "/redoc", "/static-offline-docs/")
OWN_EXACT = ("/reader", *(f"/{name}" for name in SUB_PAGES))
#: marks the embed's page so the stylesheet can make it compact
EMBED_CLASS = '<script>document.documentElement.classList.add("dz-embed");</script>'


def static_text(name: str) -> str:
    return resources.files("dzqa.web").joinpath("static", name).read_text(encoding="utf-8")


def theme() -> gr.themes.Base:
    """Gradio's default look with the system's CJK fonts (no web fonts: nothing is downloaded), with the
    colours that fall short of WCAG 2.1 AA (4.5:1) darkened: white on the primary buttons (3.68:1 on
    blue-500), the placeholder (2.56:1) and subdued text (the slider's numbers)."""
    fonts = ["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"]
    base = gr.themes.Default(primary_hue="blue", neutral_hue="slate", font=fonts,
                             font_mono=["Noto Sans Mono CJK SC", "monospace"])
    return base.set(
        button_primary_background_fill="*primary_700", button_primary_background_fill_hover="*primary_800",
        button_primary_background_fill_dark="*primary_700", button_primary_background_fill_hover_dark="*primary_800",
        button_primary_text_color="white", button_primary_text_color_dark="white",
        input_placeholder_color="*neutral_600", input_placeholder_color_dark="*neutral_400",
        body_text_color_subdued="*neutral_600", body_text_color_subdued_dark="*neutral_400",
        block_label_text_color="*neutral_600", block_label_text_color_dark="*neutral_300")


# ------------------------------------------------------------------------------------------- middleware


class ApiCORSMiddleware:
    """CORS for the JSON API only, for the origins in DZQA_CORS_ORIGINS (none: no CORS headers at all)."""

    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        self.app = app
        self.cors = CORSMiddleware(app, allow_origins=list(origins), allow_methods=["GET", "POST", "OPTIONS"],
                                   allow_headers=["Content-Type", "Authorization", "X-Admin-Token"],
                                   allow_credentials=False, max_age=600)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and get_route_path(scope).startswith(CORS_PREFIXES):
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


def install_middleware(app: FastAPI, settings: Settings) -> None:
    """Every middleware of the app, in one place. The last added runs first, so a request meets them in
    the reverse order: log → OpenAI-shaped errors on /v1/ → one-line errors → root path → security headers → cache control → forwarded
    headers and Host → CORS → no Gradio CORS → Gradio route allow-list → body limit → rate limit → busy
    message (CORS outside the limits, so a cross-origin widget can read a 429 or 413 and its Retry-After)."""
    proxies = settings.trusted_proxy_networks
    app.add_middleware(BusyMessageMiddleware)
    # on PostgreSQL the replicas share one bucket per client; on SQLite each process keeps its own
    shared = open_database(settings.database) if settings.database_url and settings.rate_limit > 0 else None
    app.add_middleware(RateLimitMiddleware, per_minute=settings.rate_limit, trusted_proxies=proxies,
                       shared=shared if shared is not None and not shared.sqlite else None)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(GradioRoutesMiddleware, own=OWN_PREFIXES, own_exact=OWN_EXACT,
                       mounts=tuple("/" + name for name in SUB_PAGES) + ("",))
    app.add_middleware(NoGradioCORSMiddleware)
    if settings.cors_origin_list:
        app.add_middleware(ApiCORSMiddleware, origins=settings.cors_origin_list)
    app.add_middleware(ForwardedHeadersMiddleware, trusted_proxies=proxies, allowed_hosts=settings.allowed_host_list)
    app.add_middleware(CacheControlMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, frame_ancestors=settings.frame_ancestor_list)
    if settings.root_path:
        app.add_middleware(RootPathMiddleware, root_path=settings.root_path)
    app.add_middleware(ErrorLineMiddleware, frame_ancestors=settings.frame_ancestor_list)
    app.add_middleware(OpenAIErrorsMiddleware, root_path=settings.root_path)
    app.add_middleware(RequestLogMiddleware, trusted_proxies=proxies, quiet_prefixes=QUIET_PATHS)


# ------------------------------------------------------------------------------------------------ app


def create_app(engine: Engine, settings: Settings | None = None, store: FeedbackStore | None = None) -> FastAPI:
    """The whole site around an already loaded engine."""
    settings = settings or engine.settings
    if settings.database != engine.settings.database:  # curated links live in the server's database
        engine = engine.with_database(settings.database)
    services = Services(engine=engine, store=store or FeedbackStore(settings.database), settings=settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        retention = asyncio.create_task(enforce_retention(services.store, settings.retention_days))
        yield
        retention.cancel()
        services.store.close()  # a clean close on shutdown (SIGTERM included): WAL checkpointed

    app = FastAPIOffline(title="dzqa · 德州市政府工作报告问答 API", version=__version__, lifespan=lifespan,
                         description="Cited answers from the 2021 Dezhou government work report. "
                                     "`/api/ask` returns what `dzqa ask --json` prints; `/api/search` what "
                                     "`dzqa search --json` prints. Errors are `{\"error\": \"...\"}` with a 4xx.",
                         favicon_url=None)
    app.state.services = services
    install_error_handlers(app, settings)
    app.include_router(build_router(services))
    app.include_router(build_openai_router(services))
    add_page_routes(app, services)

    script = f"<script>{static_text('dzqa.js')}</script>"
    look = dict(theme=theme(), css=static_text("dzqa.css"), footer_links=[], run_history=False, show_error=False,
                ssr_mode=False, pwa=False, mcp_server=False)
    # sub-paths first: the app at "/" would otherwise catch them
    pages = (("/embed", build_chat(services, compact=True), EMBED_CLASS + script),
             ("/desk", build_desk(services), script), ("/", build_chat(services), script))
    for path, blocks, head in pages:
        # every visitor (and every API call) is a session holding a copy of the page's state; Gradio keeps
        # 10,000 per page by default, hundreds of MB on a busy public site
        blocks.state_session_capacity = settings.session_capacity
        gr.mount_gradio_app(app, blocks, path=path, head=head, **look)  # type: ignore[arg-type]
    install_middleware(app, settings)
    return app


#: seconds between two retention runs (the first is at start)
RETENTION_INTERVAL = 3600


async def enforce_retention(store: FeedbackStore, days: int, interval: float = RETENTION_INTERVAL) -> None:
    """Delete questions and feedback older than DZQA_RETENTION_DAYS now, then every ``interval`` seconds
    (in a worker thread: a locked database must not stall the event loop). 0 days: keep everything."""
    if days <= 0:
        return
    while True:
        await asyncio.to_thread(store.purge, days)  # failures are logged by the store; try again later
        await asyncio.sleep(interval)


def add_page_routes(app: FastAPI, services: Services) -> None:
    """The reader, and the published bare URLs of the sub-path pages (/embed, /desk)."""
    page = reader_page(services.engine.corpus, static_text("dzqa.css"), services.engine.title)

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
    configure_logging()
    host = host or settings.host
    port = port or settings.port
    settings = ensure_admin_token(settings)
    print("dzqa: loading the model and index …", file=sys.stderr)
    engine = Engine.open(settings)
    app = create_app(engine, settings)
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}{settings.root_path}"
    print(f"dzqa: serving {base}/  (embed {base}/embed, desk {base}/desk, API {base}/docs)", file=sys.stderr)
    # no uvicorn access log: it would write client addresses (ours writes pseudonyms). No uvicorn proxy
    # headers either: it would replace the peer address before ForwardedHeadersMiddleware can tell a
    # trusted proxy (DZQA_TRUSTED_PROXIES) from anyone else; our middleware reads X-Forwarded-* itself.
    remove_temp_on_sigterm()
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning", proxy_headers=False,
                timeout_graceful_shutdown=10)


def remove_temp_on_sigterm() -> None:
    """uvicorn stops gracefully on SIGTERM and then re-raises it with the handler it found: with the
    default one the process dies without atexit, leaving Gradio's temp folder. Ours removes it first and
    then dies of SIGTERM as before (the exit status still says so)."""
    import signal

    from . import remove_temp

    def handler(signum: int, frame: Any) -> None:
        remove_temp()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, handler)


def configure_logging() -> None:
    """Request logs: one JSON line each on stdout; everything else: readable lines on stderr."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("dzqa").setLevel(logging.INFO)  # our own notes; libraries only when something is wrong
    access = logging.getLogger("dzqa.access")
    if not access.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
        access.propagate = False


def ensure_admin_token(settings: Settings) -> Settings:
    """Statistics and exports always need a token: DZQA_ADMIN_TOKEN, else one generated once and kept in a
    file beside the feedback database (readable by the server's user only)."""
    if settings.admin_token:
        return settings
    path = settings.feedback_db.parent / "admin-token"
    try:
        token = path.read_text(encoding="utf-8").strip() if path.exists() else ""
        if not token:
            import secrets

            path.parent.mkdir(parents=True, exist_ok=True)
            token = secrets.token_urlsafe(18)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(token + "\n")
        print(f"dzqa: the desk's statistics and exports need the admin token in {path} "
              f"(or set DZQA_ADMIN_TOKEN)", file=sys.stderr)
    except OSError as e:  # statistics stay locked rather than open
        log.error("no admin token (%s): statistics and exports are unavailable; set DZQA_ADMIN_TOKEN", e)
        return settings
    return settings.replace(admin_token=token)
