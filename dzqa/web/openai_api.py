"""The OpenAI-compatible API: ``POST /v1/chat/completions`` and ``GET /v1/models``.

What WeChat bots, Open WebUI, a portal's chat widget or any OpenAI client library speak. The answer is the
same one ``/api/ask`` gives (through :meth:`Services.ask`, channel ``openai``, so it is logged like the
others), shaped as a chat completion:

* the last ``user`` message is the question, earlier ``user`` messages the history (``system`` and
  ``assistant`` messages are ignored: dzqa does not take instructions, it quotes the report);
* ``content`` is the answer with its ``[n]`` markers and a short footer naming the cited sources, so a
  plain client shows them; refusals and greetings are ordinary completions with their text;
* ``"reference": true`` (top level, or inside ``extra_body`` as RAGFlow's clients send it) adds
  ``message.reference`` (``delta.reference`` on the last stream chunk): kind, source and the structured
  citations (the fields of ``/api/ask`` plus paragraph id, label and a reader URL);
* ``"stream": true``: server-sent ``chat.completion.chunk`` events ending in ``data: [DONE]``;
* every error is an OpenAI error object ``{"error": {"message", "type", "param", "code"}}`` with a 4xx
  (:class:`OpenAIErrorsMiddleware` reshapes those of the middleware in front: 404, 413, 429, 500).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any, Iterator

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..engine import QuestionError, check_question
from ..types import Answer, Hit
from .limits import ASGIApp, Receive, Scope, Send, is_openai_path
from .render import READER
from .service import MAX_HISTORY, Services, bearer_token

#: the roles of OpenAI's chat format; only ``user`` messages are read
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
#: error ``type`` of an OpenAI error object, by HTTP status
ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 404: "invalid_request_error",
               429: "rate_limit_error"}
FOOTER_TITLE = "来源："


class OpenAIError(Exception):
    """A client mistake on /v1/: answered as an OpenAI error object."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.headers = status, message, param, code, headers


def error_object(status: int, message: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(e: OpenAIError) -> JSONResponse:
    return JSONResponse(error_object(e.status, e.message, e.param, e.code), status_code=e.status, headers=e.headers)


def model_id(services: Services) -> str:
    """``dzqa-2021``: the service's one model, named after the corpus's first document."""
    reports = services.engine.corpus.reports
    return f"dzqa-{reports[0].document.id}" if reports else "dzqa"


# ------------------------------------------------------------------------------------------ request


def _text(content: Any, param: str) -> str:
    """A message's text: a string, or the text parts of a content list (images and other parts ignored)."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        texts = []
        for j, part in enumerate(content):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise OpenAIError(400, f"{param}[{j}] must be a content part object with a type", param=f"{param}[{j}]")
            if part["type"] == "text":
                if not isinstance(part.get("text"), str):
                    raise OpenAIError(400, f"{param}[{j}].text must be a string", param=f"{param}[{j}].text")
                texts.append(part["text"])
        return "\n".join(texts)
    raise OpenAIError(400, f"{param} must be a string or a list of content parts", param=param)


class ChatRequest:
    """A validated ``/v1/chat/completions`` body (unknown fields such as temperature are ignored)."""

    def __init__(self, body: Any, services: Services) -> None:
        if not isinstance(body, dict):
            raise OpenAIError(400, "请求内容必须是 JSON 对象 (the body must be a JSON object)")
        self.model = body.get("model", model_id(services))
        if not isinstance(self.model, str):
            raise OpenAIError(400, "model must be a string", param="model")
        if self.model != model_id(services):
            raise OpenAIError(404, f"The model `{self.model}` does not exist; use `{model_id(services)}` "
                                   f"(see GET /v1/models)", param="model", code="model_not_found")
        self.stream = self._flag(body, "stream")
        extra = body.get("extra_body")
        if extra is not None and not isinstance(extra, dict):
            raise OpenAIError(400, "extra_body must be an object", param="extra_body")
        self.reference = self._flag(body, "reference") or self._flag(extra or {}, "reference", "extra_body.")
        messages = body.get("messages")
        if messages is None:
            raise OpenAIError(400, "messages is required: [{\"role\": \"user\", \"content\": \"…\"}]",
                              param="messages", code="missing_required_parameter")
        if not isinstance(messages, list) or not messages:
            raise OpenAIError(400, "messages must be a non-empty list of message objects", param="messages")
        asked: list[str] = []
        for i, m in enumerate(messages):
            param = f"messages[{i}]"
            if not isinstance(m, dict):
                raise OpenAIError(400, f"{param} must be an object with role and content", param=param)
            role = m.get("role")
            if role not in ROLES:
                raise OpenAIError(400, f"{param}.role must be one of {', '.join(ROLES)}", param=f"{param}.role")
            text = _text(m.get("content"), f"{param}.content")
            if role == "user":
                asked.append(text)
        if not asked:
            raise OpenAIError(400, "messages has no user message: the last user message is the question",
                              param="messages")
        try:
            self.question = check_question(asked[-1], services.settings.max_question_chars)
        except QuestionError as e:
            raise OpenAIError(400, str(e), param="messages", code="invalid_question") from None
        # a chat client resends every earlier message: those that are no valid question (a pasted text, an
        # empty turn) are no context for a follow-up and must not make every later turn fail
        self.history = [h for h in (_valid(q, services) for q in asked[:-1][-MAX_HISTORY:]) if h]

    @staticmethod
    def _flag(body: dict[str, Any], name: str, prefix: str = "") -> bool:
        value = body.get(name, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise OpenAIError(400, f"{prefix}{name} must be true or false", param=prefix + name)
        return value


def _valid(question: str, services: Services) -> str | None:
    try:
        return check_question(question, services.settings.max_question_chars)
    except QuestionError:
        return None


# ------------------------------------------------------------------------------------------ response


def content(answer: Answer) -> str:
    """The answer with its [n] markers, then the cited sources: '\\n\\n来源：\\n[1] 《…》第六部分 … 第2段'."""
    if not answer.citations:
        return answer.text
    lines = [f"[{n}] {h.passage.citation.label()}" for n, h in enumerate(answer.citations, 1)]
    return answer.text + "\n\n" + FOOTER_TITLE + "\n" + "\n".join(lines)


def site_url(request: Request) -> str:
    """The site's root URL as the client reached it (X-Forwarded-* only survive from DZQA_TRUSTED_PROXIES:
    ForwardedHeadersMiddleware drops them from anyone else)."""
    h = request.headers
    scheme = (h.get("x-forwarded-proto") or request.url.scheme).split(",")[0].strip()
    host = (h.get("x-forwarded-host") or h.get("host") or request.url.netloc).split(",")[0].strip()
    if scheme not in ("http", "https"):
        scheme = request.url.scheme
    return f"{scheme}://{host}{request.scope.get('root_path', '')}/"


def citation_json(n: int, hit: Hit, site: str) -> dict[str, Any]:
    """One structured citation: /api/ask's fields, plus its number, paragraph, label and reader link."""
    c = hit.passage.citation
    return {"n": n, **hit.to_json(), "paragraph_id": c.paragraph_id, "paragraph_number": c.paragraph_number,
            "section_id": c.section_id, "label": c.label(), "url": f"{site}{READER}#{c.anchor}"}


def reference(answer: Answer, site: str) -> dict[str, Any]:
    return {"kind": answer.kind, "found": answer.found, "source": answer.source,
            "citations": [citation_json(n, h, site) for n, h in enumerate(answer.citations, 1)]}


def pieces(text: str) -> list[str]:
    """The content in stream pieces: a sentence or clause with its marker, a footer line."""
    return [p for p in re.findall(r".*?(?:\[\d+\]|[。！？；]|\n+|$)", text, flags=re.S) if p]


def sse(obj: Any) -> bytes:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n".encode()


# ----------------------------------------------------------------------------------------- endpoints

REQUEST_SCHEMA = {"type": "object", "required": ["messages"], "properties": {
    "model": {"type": "string", "description": "the id from GET /v1/models, e.g. dzqa-2021 (optional)"},
    "messages": {"type": "array", "items": {"type": "object", "required": ["role", "content"], "properties": {
        "role": {"type": "string", "enum": list(ROLES)},
        "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]}}},
        "description": "the last user message is the question, earlier user messages the history"},
    "stream": {"type": "boolean", "default": False},
    "reference": {"type": "boolean", "default": False,
                  "description": "add message.reference: kind, source and structured citations"},
    "extra_body": {"type": "object", "description": "RAGFlow style: {\"reference\": true}"}},
    "example": {"model": "dzqa-2021", "messages": [{"role": "user", "content": "今年要新建多少所公办幼儿园？"}]}}


def build_openai_router(services: Services) -> APIRouter:
    router = APIRouter(tags=["OpenAI-compatible"])

    def authorise(request: Request) -> None:
        if not services.api_key_allowed(bearer_token(request.headers.get("authorization"))):
            raise OpenAIError(401, "Incorrect or missing API key: send Authorization: Bearer <one of DZQA_API_KEYS>",
                              code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})

    def model_card() -> dict[str, Any]:
        return {"id": model_id(services), "object": "model", "created": created, "owned_by": "dzqa"}

    created = int(time.time())

    @router.get("/v1/models", summary="The one model: the report's question answering (e.g. dzqa-2021)")
    def models(request: Request) -> Response:
        try:
            authorise(request)
        except OpenAIError as e:
            return error_response(e)
        return JSONResponse({"object": "list", "data": [model_card()]})

    @router.get("/v1/models/{name}", summary="One model")
    def model(name: str, request: Request) -> Response:
        try:
            authorise(request)
            if name != model_id(services):
                raise OpenAIError(404, f"The model `{name}` does not exist", param="model", code="model_not_found")
        except OpenAIError as e:
            return error_response(e)
        return JSONResponse(model_card())

    @router.post("/v1/chat/completions", summary="A cited answer as a chat completion (stream or not)",
                 openapi_extra={"requestBody": {"required": True, "content": {
                     "application/json": {"schema": REQUEST_SCHEMA}}}})
    async def chat_completions(request: Request) -> Response:
        try:
            authorise(request)
            req = ChatRequest(parse_json(await request.body()), services)
            # the engine's CPU work in the thread pool: many concurrent questions never block the event loop
            answer = await run_in_threadpool(services.ask, req.question, req.history, channel="openai")
        except OpenAIError as e:
            return error_response(e)
        except QuestionError as e:
            return error_response(OpenAIError(400, str(e), param="messages", code="invalid_question"))
        text = content(answer)
        ref = reference(answer, site_url(request)) if req.reference else None
        ident, now = "chatcmpl-" + uuid.uuid4().hex, int(time.time())
        if not req.stream:
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if ref is not None:
                message["reference"] = ref
            return JSONResponse({"id": ident, "object": "chat.completion", "created": now, "model": req.model,
                                 "choices": [{"index": 0, "message": message, "finish_reason": "stop",
                                              "logprobs": None}]})

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return sse({"id": ident, "object": "chat.completion.chunk", "created": now, "model": req.model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]})

        def events() -> Iterator[bytes]:
            yield chunk({"role": "assistant", "content": ""})
            for piece in pieces(text):
                yield chunk({"content": piece})
            yield chunk({"reference": ref} if ref is not None else {}, "stop")
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream; charset=utf-8",
                                 headers={"X-Accel-Buffering": "no"})

    @router.api_route("/v1/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def unknown(rest: str, request: Request) -> Response:
        path = request.url.path[len(request.scope.get("root_path", "")):]
        allowed = sorted({m for r in router.routes if isinstance(r, APIRoute) and r.path != "/v1/{rest:path}"
                          and r.path_regex.match(path) for m in r.methods})
        if allowed:  # the endpoint exists, with another method
            return error_response(OpenAIError(405, f"{request.method} not allowed here; use {', '.join(allowed)}",
                                              code="method_not_allowed", headers={"Allow": ", ".join(allowed)}))
        return error_response(OpenAIError(404, f"no such endpoint /v1/{rest}: this service has /v1/models and "
                                               f"/v1/chat/completions", code="unknown_url"))

    return router


def parse_json(body: bytes) -> Any:
    """The body as JSON (read by the endpoint, so FastAPI's own validation errors never answer here)."""
    if not body.strip():
        raise OpenAIError(400, "请求缺少 JSON 内容 (a JSON body is required)", code="invalid_json")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise OpenAIError(400, "请求不是有效的 JSON (invalid JSON body)", code="invalid_json") from None


# ---------------------------------------------------------------------------------------- middleware


class OpenAIErrorsMiddleware:
    """On /v1/, an error that a layer in front of the endpoint answered with dzqa's ``{"error": "…"}``
    (unknown path 404, 405, body limit 413, rate limit 429, bad Host 400, the one-line 500) becomes an
    OpenAI error object, so OpenAI clients raise their usual exception with the message. Headers such as
    Retry-After are kept."""

    def __init__(self, app: ASGIApp, root_path: str = "") -> None:
        self.app = app
        self.root_path = root_path

    def applies(self, scope: Scope) -> bool:
        path = scope.get("path", "")
        if self.root_path and (path == self.root_path or path.startswith(self.root_path + "/")):
            path = path[len(self.root_path):]
        return is_openai_path(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.applies(scope):
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] | None = None
        chunks: list[bytes] = []

        async def reshape(message: dict[str, Any]) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                kind = dict(message.get("headers") or []).get(b"content-type", b"")
                if message["status"] >= 400 and kind.startswith(b"application/json"):
                    start = message  # held until the body is complete
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            try:
                obj = json.loads(body)
            except ValueError:
                obj = None
            message_text = obj.get("error", obj.get("detail")) if isinstance(obj, dict) else None
            if isinstance(message_text, str):
                body = json.dumps(error_object(start["status"], message_text), ensure_ascii=False).encode()
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            await send({**start, "headers": headers + [(b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, reshape)
