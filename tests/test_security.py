"""Issue 12, points 1, 3, 4 and 5 on the real app: exports only with the token, headers that shape URLs only
from trusted proxies, no cache of pages, only the Gradio routes the pages use, CORS as documented, errors
in one line."""

from __future__ import annotations

import json
import logging
import os
import re
import stat
from pathlib import Path

import httpx
import pytest

import dzqa.web
from dzqa.web.server import create_app
from web_support import LiveServer

SECRET_QUESTION = "我的邻居张三今年能领多少低保补贴？"


def page_config(html: str) -> dict:
    return json.loads(re.search(r"window\.gradio_config = (\{.*?\});</script>", html, re.S).group(1))


# ----------------------------------------------------------------------------------- 1. exports


def test_desk_exports_never_touch_gradio_files_and_file_route_is_refused(make_client) -> None:
    c = make_client(admin_token="s3cret")
    assert c.post("/api/ask", json={"question": SECRET_QUESTION}).status_code == 200
    config = page_config(c.get("/desk/").text)
    # no download box, and the export buttons are browser-only events (no server function to call)
    assert not [x for x in config["components"] if x.get("type") == "file"]
    buttons = {x["id"] for x in config["components"] if x.get("props", {}).get("elem_id", "").startswith("dz-export-")}
    exports = [d for d in config["dependencies"] if {t[0] for t in d["targets"]} & buttons]
    assert len(exports) == 2 and all(not d["backend_fn"] and "/api/export/" in d["js"] for d in exports)
    # the route they fetch needs the token
    assert c.get("/api/export/questions.csv").status_code == 401
    r = c.get("/api/export/questions.csv", headers={"Authorization": "Bearer s3cret"})
    assert SECRET_QUESTION in r.text and r.headers["cache-control"] == "no-store"
    # nothing under Gradio's temp folder holds a question, and its files cannot be fetched anyway
    temp = Path(dzqa.web.TEMP_DIR)
    for f in temp.rglob("*"):
        assert not f.is_file() or SECRET_QUESTION.encode() not in f.read_bytes(), f
    planted = temp / "dzqa-exports" / "dzqa-questions-20260101-120000.csv"
    planted.parent.mkdir(exist_ok=True)
    planted.write_text(SECRET_QUESTION, encoding="utf-8")
    try:
        for prefix in ("", "/desk", "/embed"):
            for ref in (f"/gradio_api/file={planted}", f"/gradio_api/file/{planted}"):
                r = c.get(prefix + ref)
                assert r.status_code == 404 and SECRET_QUESTION not in r.text, prefix + ref
    finally:
        planted.unlink()


# ------------------------------------------------------------------------ 3. forged hosts, caching


FORGED = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "X-Gradio-Server": "http://evil2.example",
          "Forwarded": "host=evil3.example;proto=https"}


@pytest.mark.parametrize("path", ["/", "/embed/", "/desk/"])
def test_forwarded_headers_from_anyone_do_not_shape_the_page(make_client, path) -> None:
    page = make_client().get(path, headers=FORGED).text
    assert "evil" not in page and '"root":"http://testserver' in page.replace(" ", "")


def test_only_a_trusted_proxy_and_allowed_hosts_shape_urls(engine, settings, tmp_path: Path) -> None:
    s = settings.replace(feedback_db=tmp_path / "fb.sqlite3", trusted_proxies="127.0.0.1",
                         allowed_hosts="qa.dezhou.gov.cn *.example.gov.cn")
    with LiveServer(create_app(engine, s)) as live, httpx.Client(base_url=live.url, timeout=30) as h:
        # the proxy (loopback, trusted) says the public host: believed, it is allowed
        r = h.get("/embed/", headers={"Host": "127.0.0.1", "X-Forwarded-Host": "www.example.gov.cn",
                                      "X-Forwarded-Proto": "https"})
        assert r.status_code == 200 and '"root":"https://www.example.gov.cn/embed"' in r.text.replace(" ", "")
        assert h.get("/", headers={"Host": "qa.dezhou.gov.cn:8443"}).status_code == 200
        assert h.get("/healthz").status_code == 200  # loopback names are always served
        for forged in ({"Host": "evil.example"}, {"X-Forwarded-Host": "evil.example"},
                       {"Host": 'qa.dezhou.gov.cn/"><script>alert(1)</script>'}):
            r = h.get("/", headers=forged)
            assert r.status_code == 400 and "evil" not in r.text and "<script>" not in r.text, forged


def test_a_malformed_host_is_refused_even_without_a_host_list(make_client) -> None:
    r = make_client().get("/", headers={"Host": 'x"><script src=//evil.example/a.js></script>'})
    assert r.status_code == 400 and "evil" not in r.text


def test_pages_and_json_are_never_cached_but_hashed_assets_are(make_client) -> None:
    c = make_client()
    page = c.get("/")
    for r in (page, c.get("/embed/"), c.get("/desk/"), c.get("/reader"), c.get("/healthz"), c.get("/gradio_api/info"),
              c.post("/api/ask", json={"question": "今年招聘多少老师？"}), c.get("/api/nothing")):
        assert r.headers["cache-control"] == "no-store", r.url
    asset = re.search(r'src="\./(assets/index-[\w-]+\.js)"', page.text).group(1)
    assert "immutable" in c.get("/" + asset).headers["cache-control"]


# ----------------------------------------------------------------------------- 4. Gradio's routes


def test_uploads_and_unused_gradio_routes_are_refused(make_client) -> None:
    c = make_client()
    before = {p for p in Path(dzqa.web.TEMP_DIR).rglob("*")}
    for prefix in ("", "/embed", "/desk"):
        r = c.post(prefix + "/gradio_api/upload", files={"files": ("x.html", b"<script>alert(1)</script>", "text/html")})
        assert r.status_code == 404, prefix
        for method, path in (("GET", "/config"), ("GET", "/gradio_api/proxy=http://example.com/"),
                             ("GET", "/gradio_api/upload_progress?upload_id=x"), ("POST", "/gradio_api/run/chat"), ("POST", "/gradio_api/run/desk_search"),
                             ("POST", "/gradio_api/api/chat"), ("GET", "/gradio_api/startup-events"),
                             ("GET", "/monitoring"), ("POST", "/login"), ("GET", "/gradio_api/deep_link"),
                             ("POST", "/gradio_api/reset"), ("GET", "/manifest.json"), ("POST", "/gradio_api/call/v2/chat")):
            assert c.request(method, prefix + path).status_code == 404, (method, prefix + path)
    assert {p for p in Path(dzqa.web.TEMP_DIR).rglob("*")} == before  # nothing was stored
    # what the pages use still works (the chat's queue is tested end to end elsewhere)
    assert c.get("/gradio_api/info").status_code == 200
    assert c.get("/theme.css").status_code == 200 and c.get("/desk/theme.css").status_code == 200


def test_queued_answers_cannot_skip_the_queue(make_client) -> None:
    c = make_client()
    config = page_config(c.get("/").text)
    chat = next(d for d in config["dependencies"] if d.get("api_name") == "chat")
    r = c.post("/gradio_api/run/predict", json={"fn_index": chat["id"], "data": ["今年招聘多少老师？", [], []],
                                                  "session_hash": "s1"})
    assert r.status_code >= 400 and "dz-reply" not in r.text
    clear = next(d for d in config["dependencies"] if not d["queue"] and d["backend_fn"])
    assert c.post("/gradio_api/run/predict", json={"fn_index": clear["id"], "data": [], "session_hash": "s1"}).status_code != 404


def test_gradio_temp_dir_is_private_to_this_process() -> None:
    temp = Path(dzqa.web.TEMP_DIR)
    assert os.environ["GRADIO_TEMP_DIR"] == str(temp) and f"dzqa-gradio-{os.getpid()}-" in temp.name
    assert stat.S_IMODE(temp.stat().st_mode) == 0o700 and temp.stat().st_uid == os.getuid()


# ------------------------------------------------------------------------------------ 5. CORS, errors


ORIGINS = ("http://localhost:3000", "http://127.0.0.1:8080", "https://evil.example", "null")


@pytest.mark.parametrize("origin", ORIGINS)
def test_no_cors_anywhere_by_default(make_client, origin) -> None:
    c = make_client()
    h = {"Origin": origin}
    preflight = {**h, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    for r in (c.get("/", headers=h), c.get("/gradio_api/info", headers=h), c.get("/embed/", headers=h),
              c.options("/gradio_api/queue/join", headers=preflight), c.options("/api/ask", headers=preflight),
              c.post("/api/ask", json={"question": "今年招聘多少老师？"}, headers=h), c.get("/healthz", headers=h)):
        assert not [k for k in r.headers if k.lower().startswith("access-control-")], (r.url, dict(r.headers))


def test_cors_only_for_the_api_and_the_listed_origins(make_client) -> None:
    c = make_client(cors_origins="https://www.dezhou.gov.cn")
    ok, other = {"Origin": "https://www.dezhou.gov.cn"}, {"Origin": "http://localhost:3000"}
    r = c.post("/api/ask", json={"question": "今年招聘多少老师？"}, headers=ok)
    assert r.headers["access-control-allow-origin"] == "https://www.dezhou.gov.cn"
    assert "access-control-allow-credentials" not in r.headers
    assert "access-control-allow-origin" not in c.post("/api/ask", json={"question": "你好"}, headers=other).headers
    for path in ("/", "/gradio_api/info", "/desk/"):
        for h in (ok, other):
            assert not [k for k in c.get(path, headers=h).headers if k.startswith("access-control-")], path


def test_a_failing_gradio_page_is_one_log_line_and_a_json_500(make_client, monkeypatch, caplog, tmp_path) -> None:
    from fastapi.testclient import TestClient
    from gradio import route_utils

    c = TestClient(make_client(feedback_db=tmp_path / "e.sqlite3").app, raise_server_exceptions=False)

    def broken(*args, **kwargs):
        raise RuntimeError("injected fault")

    monkeypatch.setattr(route_utils, "get_root_url", broken)
    with caplog.at_level(logging.INFO):
        r = c.get("/desk/")
    assert r.status_code == 500 and r.json() == {"error": "internal error"}
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["cache-control"] == "no-store"
    errors = [x for x in caplog.records if x.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None and "\n" not in errors[0].getMessage()
    assert "RuntimeError: injected fault" in errors[0].getMessage()


def test_an_anonymous_gradio_stream_without_session_is_one_line(make_client, caplog) -> None:
    with caplog.at_level(logging.INFO):
        make_client().get("/gradio_api/queue/data", params={"session_hash": "nobody"})
    errors = [x for x in caplog.records if x.levelno >= logging.WARNING]
    assert all(x.exc_info is None and "\n" not in x.getMessage() for x in errors)
    assert sum(len(x.getMessage()) for x in errors) < 500
