"""The JSON API for the city's widgets and the hotline's tools (documented at ``/docs``).

``POST /api/ask`` returns exactly what ``dzqa ask --json`` prints and ``GET /api/search`` exactly what
``dzqa search --json`` prints (``Answer.to_json()`` / ``SearchResult.to_json()``). Bad input is a 4xx
with ``{"error": "<what is wrong>"}``; the engine runs in the thread pool (sync endpoints), so the CPU
work of many concurrent questions never blocks the event loop.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.routing import APIRoute
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..curated import CuratedError
from ..db import errors as db_errors
from ..engine import FilterError, QuestionError, check_question
from ..text import is_valid_unicode
from ..feedback import EXPORTS, MAX_COMMENT, REASONS, Feedback, parse_rating
from ..settings import Settings
from .hardening import error_line, security_headers
from .service import MAX_HISTORY, Services, bearer_token

log = logging.getLogger("dzqa.api")

EXAMPLE_QUESTION = "今年要新建多少所公办幼儿园？"


class ApiError(Exception):
    """A client mistake: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


# ------------------------------------------------------------------------------------------ schemas


class AskRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"question": EXAMPLE_QUESTION}, {"question": "那农村呢？", "history": ["城市里的路今年怎么修？"]}]})
    question: StrictStr = Field(description="the question, 1–500 characters")
    history: list[StrictStr] = Field(default_factory=list, max_length=MAX_HISTORY,
                                     description="earlier questions of the conversation, oldest first; "
                                                 "a short follow-up (“那农村呢？”) is read with the last one")
    doc: StrictStr | None = Field(None, description="only one document, by its id (see /healthz), e.g. 2021")
    year: int | None = Field(None, description="only the reports of one year, e.g. 2021")
    section: StrictStr | None = Field(None, description="only one section (with its subsections), e.g. 2021/s6")


class Hit(BaseModel):
    id: str = Field(description="passage id, e.g. 2021/s6/p2 (a split paragraph: 2021/s4/p2/c1)")
    doc: str
    section: str
    text: str = Field(description="the passage, verbatim")
    score: float
    doc_id: str = Field(description="id of the report the passage comes from")
    year: int | None = Field(description="year of that report")
    place: str = Field(description="place of that report: a city (德州市) or 全国")


class AskResponse(BaseModel):
    question: str
    answer: str = Field(description="verbatim sentences of the report, each followed by [n]; or the refusal")
    found: bool = Field(description="true only when the report states what was asked (kind answer)")
    kind: Literal["answer", "partial", "refusal", "greeting"] = Field(
        description="answer: the report says it; partial: the report covers the topic but not the asked detail "
                    "(a fixed sentence says what is missing, then cited quotes); refusal; greeting")
    source: Literal["retrieval", "curated"] = Field(description="curated: a staff-curated link chose the passages")
    citations: list[Hit]
    related: list[Topic] = Field(description="follow-up suggestions: the topic sentences of the paragraphs next "
                                             "to the cited one, verbatim (ask `text` to ask about it); empty "
                                             "for a refusal or greeting")


class Topic(BaseModel):
    text: str = Field(description="the report's own topic sentence, e.g. 实施教育提升工程")
    id: str = Field(description="the paragraph it opens, e.g. 2021/s6/p2")


class SuggestResponse(BaseModel):
    q: str
    suggestions: list[str] = Field(description="staff-curated questions containing what was typed, most used first")


class SearchResponse(BaseModel):
    question: str
    hits: list[Hit]


class Neighbour(BaseModel):
    id: str
    section: str
    text: str


class PassageResponse(BaseModel):
    id: str
    doc: str
    section: str
    text: str
    section_id: str
    paragraph_id: str
    paragraph_number: int
    start: int
    end: int
    label: str
    anchor: str = Field(description="HTML id of the paragraph in the report reader")
    reader: str = Field(description="link to the paragraph in the reader, relative to the site root")
    paragraph: str = Field(description="the whole paragraph the passage belongs to")
    previous: Neighbour | None
    next: Neighbour | None


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "question": EXAMPLE_QUESTION, "answer": "开展学前教育攻坚年行动,新建扩建公办幼儿园38所,新增学位9980个。[1]",
        "citations": ["2021/s6/p2"], "rating": "down", "reason": "信息不全"}]})
    question: StrictStr = Field(min_length=1, max_length=500)
    answer: StrictStr = Field(max_length=5000)
    citations: list[StrictStr] = Field(default_factory=list, max_length=20, description="cited passage ids")
    rating: StrictStr = Field(description="up | down (or 👍 | 👎)")
    reason: Literal[REASONS] | None = Field(default=None, description="only with down: " + " / ".join(REASONS))  # type: ignore[valid-type]
    comment: StrictStr | None = Field(default=None, max_length=MAX_COMMENT,
                                      description=f"only with down: the citizen's own words, at most {MAX_COMMENT} characters")


class CuratedRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"question": EXAMPLE_QUESTION, "passages": ["2021/s6/p2"], "author": "王芳"},
        {"question": "德州明天天气怎么样", "covered": False, "author": "王芳"}]})
    question: StrictStr = Field(description="the question, 1–500 characters")
    passages: list[StrictStr] | None = Field(None, max_length=10,
                                             description="passage or paragraph ids, as /api/search gives them")
    covered: bool = Field(True, description="false: the report does not cover it (the standard refusal)")
    author: StrictStr = Field(description="the staff member's name, 1–40 characters (written to the audit table)")


class FeedbackResponse(BaseModel):
    saved: bool
    id: int | None = None
    error: str | None = None


class ErrorResponse(BaseModel):
    error: str


ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": ErrorResponse}, 422: {"model": ErrorResponse}}


# ----------------------------------------------------------------------------------------- endpoints


def build_router(services: Services) -> APIRouter:
    """All JSON endpoints, bound to the loaded engine and feedback store."""
    router = APIRouter()
    settings = services.settings
    engine = services.engine

    def require_admin(request: Request) -> None:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else request.headers.get("x-admin-token")
        if not services.admin_allowed(token):
            raise ApiError(401, "需要管理口令 (admin token required: Authorization: Bearer <DZQA_ADMIN_TOKEN>)",
                           {"WWW-Authenticate": "Bearer"})

    def require_api_key(request: Request) -> None:
        if not services.api_key_allowed(bearer_token(request.headers.get("authorization"))):
            raise ApiError(401, "需要 API 密钥 (API key required: Authorization: Bearer <one of DZQA_API_KEYS>)",
                           {"WWW-Authenticate": "Bearer"})

    keyed = [Depends(require_api_key)]

    @router.post("/api/ask", response_model=AskResponse, responses=ERRORS, tags=["questions"], dependencies=keyed,
                 summary="A cited answer (same object as `dzqa ask --json`)")
    def ask(body: AskRequest) -> Response:
        try:
            question = check_question(body.question, settings.max_question_chars)
            history = services.check_history(body.history)
            answer = services.ask(question, history, channel="api", doc=body.doc, year=body.year,
                                  section=body.section)
        except (QuestionError, FilterError) as e:
            raise ApiError(422, str(e)) from None
        return JSONResponse(answer.to_json())

    @router.get("/api/search", response_model=SearchResponse, responses=ERRORS, tags=["questions"], dependencies=keyed,
                summary="Top passages with scores (same object as `dzqa search --json`)")
    def search(q: str = Query(description="the question or keywords", examples=["农村公路"]),
               k: int = Query(5, ge=1, le=50, description="number of passages, 1–50"),
               section: str | None = Query(None, description="only one section (with its subsections), e.g. 2021/s6"),
               doc: str | None = Query(None, description="only one document, by its id, e.g. 2021"),
               year: int | None = Query(None, description="only the reports of one year, e.g. 2021")) -> Response:
        try:
            result = engine.search(q, k=k, section=section, doc=doc, year=year)
        except (QuestionError, FilterError) as e:
            raise ApiError(422, str(e)) from None
        return JSONResponse(result.to_json())

    @router.get("/api/suggest", response_model=SuggestResponse, responses=ERRORS, tags=["questions"],
                summary="Completions for what is being typed: staff-curated questions containing it")
    def suggest(q: str = Query(description="what has been typed so far (2–100 characters count)",
                               examples=["幼儿园"]),
                n: int = Query(5, ge=1, le=10, description="at most this many, 1–10")) -> Response:
        try:
            found = engine.complete(q, n)
        except QuestionError as e:
            raise ApiError(422, str(e)) from None
        return JSONResponse({"q": q, "suggestions": found})

    @router.get("/api/passages/{passage_id:path}", response_model=PassageResponse,
                responses={404: {"model": ErrorResponse}}, tags=["report"],
                summary="One passage with its paragraph, section and neighbours")
    def passage(passage_id: str = Path(description="e.g. 2021/s6/p2")) -> Response:
        p = engine.passage(passage_id)
        if p is None:
            raise ApiError(404, f"no passage {passage_id!r} (ids look like 2021/s6/p2; see /api/search)")
        return JSONResponse(services.passage_context(p))

    @router.get("/api/sections", tags=["report"], summary="The report's sections (ids for ?section=)")
    def sections() -> list[dict[str, Any]]:
        return [{"id": s.id, "label": s.label, "heading": s.heading, "number": s.number, "doc_id": s.doc_id}
                for s in engine.sections()]

    @router.post("/api/feedback", response_model=FeedbackResponse, status_code=201,
                 responses={**ERRORS, 503: {"model": FeedbackResponse}}, tags=["feedback"],
                 summary="Store 👍/👎 (with a reason for 👎) for an answer")
    def feedback(body: FeedbackRequest) -> Response:
        try:
            rating = parse_rating(body.rating)
        except ValueError as e:
            raise ApiError(422, str(e)) from None
        if body.reason is not None and rating != "down":
            raise ApiError(422, "reason only goes with a down rating (👎)")
        comment = (body.comment or "").strip() or None
        if comment is not None and rating != "down":
            raise ApiError(422, "comment only goes with a down rating (👎)")
        if any(len(c) > 100 for c in body.citations):
            raise ApiError(422, "citations are passage ids (at most 100 characters each)")
        if not all(is_valid_unicode(t) for t in (body.question, body.answer, *body.citations, comment or "")):
            raise ApiError(422, "反馈含有无效字符 (invalid Unicode: lone surrogates)")
        row = services.store.save_feedback(Feedback(question=body.question, answer=body.answer,
                                                    citations=tuple(body.citations), rating=rating,
                                                    reason=body.reason, channel="api", comment=comment))
        if row is None:  # honest: nothing was stored (the failure is in the server log)
            return JSONResponse({"saved": False, "error": "反馈未能保存 (feedback could not be saved)"},
                                status_code=503, headers={"Retry-After": "60"})
        return JSONResponse({"saved": True, "id": row}, status_code=201)

    @router.get("/healthz", tags=["service"], summary="Status, model and passages")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "model": engine.spec.name, "passages": len(engine.index.passages),
                "documents": [r.document.title for r in engine.corpus.reports],
                "feedback_db": "ok" if services.store.healthy() else "unavailable"}

    @router.get("/api/stats", tags=["desk"], dependencies=[Depends(require_admin)],
                summary="Questions per day, most asked, refused, ratings (admin token required)")
    def stats(days: int = Query(30, ge=1, le=3660)) -> dict[str, Any]:
        try:
            return dataclasses.asdict(services.store.stats(days=days))
        except db_errors() as e:
            raise ApiError(503, f"统计暂时无法读取 (statistics unavailable: {type(e).__name__})") from None

    @router.get("/api/export/{table}.csv", tags=["desk"], dependencies=[Depends(require_admin)],
                summary="Asked questions or feedback as CSV (admin token required)")
    def export(table: Literal[tuple(EXPORTS)]) -> Response:  # type: ignore[valid-type]
        try:
            data = services.store.export_csv(table)
        except db_errors() as e:
            raise ApiError(503, f"导出暂时无法完成 (export unavailable: {type(e).__name__})") from None
        return Response(data, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="dzqa-{table}.csv"'})

    admin = [Depends(require_admin)]

    @router.get("/api/review", tags=["curated"], dependencies=admin,
                summary="The review queue: refused, partial and 👎 questions grouped by wording (admin token)")
    def review(days: int = Query(30, ge=1, le=3660), limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
        try:
            return {"queue": services.review(days=days, limit=limit)}
        except db_errors() as e:
            raise ApiError(503, f"审核队列暂时无法读取 (review queue unavailable: {type(e).__name__})") from None

    @router.get("/api/curated", tags=["curated"], dependencies=admin,
                summary="Staff-curated links with hit counts, and stale ones (admin token)")
    def curated_list() -> dict[str, Any]:
        try:
            return services.curated_links()
        except db_errors() as e:
            raise ApiError(503, f"纠错记录暂时无法读取 (curated links unavailable: {type(e).__name__})") from None

    @router.post("/api/curated", tags=["curated"], dependencies=admin, status_code=201,
                 responses={**ERRORS, 200: {"description": "an existing link updated (or unchanged)"}},
                 summary="Link a question to passages, or mark it not covered (admin token; audited)")
    def curated_save(body: CuratedRequest) -> Response:
        try:
            link, action = services.save_link(body.question, body.passages, covered=body.covered, author=body.author)
        except CuratedError as e:
            raise ApiError(422, str(e)) from None
        except db_errors() as e:
            raise ApiError(503, f"纠错未能保存 (curated link not saved: {type(e).__name__})") from None
        return JSONResponse({"link": link, "action": action}, status_code=201 if action == "created" else 200)

    @router.delete("/api/curated", tags=["curated"], dependencies=admin, responses={404: {"model": ErrorResponse}},
                   summary="Delete the link of a question (admin token; audited)")
    def curated_delete(question: str = Query(description="the question (its normalised wording is matched)"),
                       author: str = Query(description="the staff name written to the audit table")) -> dict[str, Any]:
        try:
            deleted = services.delete_link(question, author=author)
        except CuratedError as e:
            raise ApiError(422, str(e)) from None
        except db_errors() as e:
            raise ApiError(503, f"纠错未能删除 (curated link not deleted: {type(e).__name__})") from None
        if not deleted:
            raise ApiError(404, "no curated link for this question")
        return {"deleted": True}

    @router.get("/api/curated/audit", tags=["curated"], dependencies=admin,
                summary="The latest changes of the curated links: who, what, when (admin token)")
    def curated_audit(limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
        return {"audit": services.engine.curated.store.audit(limit)}

    @router.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                      include_in_schema=False)
    def unknown(rest: str, request: Request) -> Response:
        allowed = sorted({m for r in router.routes if isinstance(r, APIRoute) and r.path != "/api/{rest:path}"
                          and r.path_regex.match(request.url.path[len(request.scope.get("root_path", "")):])
                          for m in r.methods})
        if allowed:  # the endpoint exists, with another method
            raise ApiError(405, f"{request.method} not allowed here; use {', '.join(allowed)}",
                           {"Allow": ", ".join(allowed)})
        raise ApiError(404, f"no such endpoint /api/{rest}; see /docs")

    return router


# ------------------------------------------------------------------------------------------- errors


def install_error_handlers(app: FastAPI, settings: Settings) -> None:
    """Every error of the JSON API is ``{"error": "..."}`` with a 4xx that says what is wrong."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse({"error": "请求不是有效的 JSON (invalid JSON body)"}, status_code=400)
        return JSONResponse({"error": "; ".join(_describe(e) for e in errors[:5])}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 400 and "parsing the body" in message:
            message = "请求不是有效的 JSON (invalid JSON body)"
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # normally ErrorLineMiddleware answers first; this is the last resort of Starlette's outermost layer,
        # outside our middleware (security headers come along). The settings are the closure's: on a Gradio
        # page request.app is Gradio's app, which has no dzqa state.
        log.error(error_line(request.method, request.url.path, exc))
        return JSONResponse({"error": "internal error"}, status_code=500,
                            headers={**security_headers(settings.frame_ancestor_list), "Cache-Control": "no-store"})


def _describe(error: dict[str, Any]) -> str:
    """'body.question: Input should be a valid string' → 'question: Input should be a valid string'."""
    where = ".".join(str(x) for x in error.get("loc", ()) if x not in ("body", "query", "path"))
    if where == "" and error.get("type") == "missing":
        return "请求缺少 JSON 内容 (a JSON body is required)"
    if where == "" and error.get("type") in ("model_attributes_type", "dict_type", "model_type"):
        return "请求内容必须是 JSON 对象 (the body must be a JSON object)"
    return f"{where or 'body'}: {error.get('msg', 'invalid')}"
