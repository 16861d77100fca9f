"""Body size limit, security headers and structured logs, each on a minimal ASGI app."""

from __future__ import annotations

import asyncio
import json
import logging

from dzqa.web.hardening import (BUSY, BodyLimitMiddleware, BusyMessageMiddleware, RequestLogMiddleware,
                                SecurityHeadersMiddleware, note)


async def _echo(scope, receive, send):
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    note(found=True, passages=["2021/s6/p2"])
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"x-frame-options", b"DENY"), (b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


def _call(app, chunks: list[bytes], headers: list[tuple[bytes, bytes]] = (), client=("203.0.113.5", 1),
          path: str = "/api/ask"):
    sent = []
    queue = list(chunks)

    async def receive():
        chunk = queue.pop(0) if queue else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(queue)}

    async def send(msg):
        sent.append(msg)

    scope = {"type": "http", "method": "POST", "path": path, "headers": list(headers), "client": client}
    asyncio.run(app(scope, receive, send))
    start = sent[0]
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def test_body_limit_by_declared_length_and_by_stream() -> None:
    app = BodyLimitMiddleware(_echo, api_max=10, page_max=100)
    assert _call(app, [b"hello"])[0] == 200
    status, _, body = _call(app, [b"x"], [(b"content-length", b"1000")])
    assert status == 413 and "too large" in json.loads(body)["error"]
    assert _call(app, [b"123456", b"789012"])[0] == 413  # chunked, no length declared
    # Gradio's chat posts the conversation: a larger limit there
    assert _call(app, [b"x" * 50], path="/gradio_api/queue/join")[0] == 200
    assert _call(app, [b"x" * 101], path="/gradio_api/queue/join")[0] == 413


def test_full_gradio_queue_gets_a_polite_busy_message() -> None:
    async def full(scope, receive, send):
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": b'{"detail": "Queue is full. Max size is 0"}'})

    status, headers, body = _call(BusyMessageMiddleware(full), [b"{}"], path="/gradio_api/queue/join")
    assert status == 503 and json.loads(body)["detail"] == BUSY and headers[b"retry-after"]
    assert _call(BusyMessageMiddleware(_echo), [b"ok"], path="/gradio_api/queue/join")[0] == 200


def test_security_headers_and_no_x_frame_options() -> None:
    app = SecurityHeadersMiddleware(_echo, ("https://www.dezhou.gov.cn", "https://*.dezhou.gov.cn"))
    _, headers, _ = _call(app, [b""])
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert headers[b"referrer-policy"]
    assert b"frame-ancestors https://www.dezhou.gov.cn https://*.dezhou.gov.cn" in headers[b"content-security-policy"]
    assert b"x-frame-options" not in headers


def test_request_log_is_one_json_line_without_the_ip(caplog) -> None:
    app = RequestLogMiddleware(_echo)
    with caplog.at_level(logging.INFO, logger="dzqa.access"):
        _call(app, [b"q"])
    [line] = [r.getMessage() for r in caplog.records if r.name == "dzqa.access"]
    record = json.loads(line)
    assert record["route"] == "/api/ask" and record["status"] == 200 and record["found"] is True
    assert record["passages"] == ["2021/s6/p2"] and record["latency_ms"] >= 0
    assert "203.0.113.5" not in line and record["client"]
