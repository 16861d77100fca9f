"""The JSON API and the HTTP behaviour of the site: contract identical to the CLI, every 4xx, feedback in
SQLite, framing and CORS headers, sub-path deployment, and the real server under concurrent load."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest

import dzqa.cli
from dzqa.cli import main as cli_main
from dzqa.engine import Engine
from dzqa.settings import Settings, SettingsError
from dzqa.web.server import create_app
from dzqa.web.service import admin_allowed
from conftest import db_rows
from web_support import LiveServer

HIT_KEYS = {"id", "doc", "section", "text", "score", "doc_id", "year", "place"}



# ------------------------------------------------------------------------------------ CLI contract


def cli_json(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, engine: Engine,
             *argv: str) -> dict:
    monkeypatch.setattr(dzqa.cli, "_engine", lambda **kw: engine)  # the same loaded engine, the CLI's printing
    assert cli_main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("question", ["今年要新建多少所公办幼儿园？", "德州明天天气怎么样", "你好", "医疗方面今年有什么安排？"])
def test_ask_returns_exactly_what_the_cli_prints(client, capsys, monkeypatch, engine, question) -> None:
    r = client.post("/api/ask", json={"question": question})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json() == cli_json(capsys, monkeypatch, engine, "ask", question, "--json")
    assert set(r.json()) == {"question", "answer", "found", "kind", "source", "citations", "related"}


@pytest.mark.parametrize("argv, query", [
    (["农村公路"], "q=农村公路"),
    (["农村公路", "-k", "3"], "q=农村公路&k=3"),
    (["幼儿园", "-k", "2", "--section", "2021/s6"], "q=幼儿园&k=2&section=2021/s6"),
])
def test_search_returns_exactly_what_the_cli_prints(client, capsys, monkeypatch, engine, argv, query) -> None:
    r = client.get("/api/search?" + query)
    assert r.status_code == 200
    assert r.json() == cli_json(capsys, monkeypatch, engine, "search", *argv, "--json")
    assert all(set(h) == HIT_KEYS for h in r.json()["hits"])


def test_follow_up_uses_the_history(client) -> None:
    first = client.post("/api/ask", json={"question": "城市里的路今年怎么修？"}).json()
    follow = client.post("/api/ask", json={"question": "那农村呢？", "history": ["城市里的路今年怎么修？"]}).json()
    assert "路网" in first["answer"]
    assert follow["found"] and "新建改造农村公路600公里" in follow["answer"]
    assert follow["citations"][0]["id"] == "2021/s3/p2"


# ------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("body, status, message", [
    ({"question": ""}, 422, "问题不能为空"),
    ({"question": " \t\n "}, 422, "问题不能为空"),
    ({"question": "字" * 501}, 422, "最多 500 个字"),
    ({"question": 42}, 422, "question: Input should be a valid string"),
    ({"question": None}, 422, "question"),
    ({}, 422, "question: Field required"),
    ({"question": "农村公路", "history": "城市"}, 422, "history"),
    ({"question": "农村公路", "history": [1]}, 422, "history.0"),
    ({"question": "那农村呢？", "history": ["字" * 501]}, 422, "最多 500 个字"),
    ({"question": "那农村呢？", "history": ["问"] * 21}, 422, "history"),
    ([1, 2], 422, "JSON 对象"),
    ("question", 422, "JSON 对象"),
])
def test_ask_rejects_bad_bodies_with_a_json_error(client, body, status, message) -> None:
    r = client.post("/api/ask", json=body)
    assert r.status_code == status and message in r.json()["error"], r.text


@pytest.mark.parametrize("raw, content_type, message", [
    (b'{"question": "x"', "application/json", "invalid JSON"),
    (b"\xff\xfe not json", "application/json", "invalid JSON"),
    (b"", "application/json", "JSON"),
    (b"question=x", "application/x-www-form-urlencoded", "JSON 对象"),
])
def test_ask_rejects_unparsable_bodies(client, raw, content_type, message) -> None:
    r = client.post("/api/ask", content=raw, headers={"Content-Type": content_type})
    assert 400 <= r.status_code < 500 and message in r.json()["error"], r.text


@pytest.mark.parametrize("query, message", [
    ("q=", "问题不能为空"),
    ("q=%20%20", "问题不能为空"),
    ("", "q: Field required"),
    ("q=" + "字" * 501, "最多 500 个字"),
    ("q=农村&k=0", "k: Input should be greater than or equal to 1"),
    ("q=农村&k=51", "k: Input should be less than or equal to 50"),
    ("q=农村&k=abc", "k: Input should be a valid integer"),
    ("q=农村&section=2021/s99", "unknown section"),
    ("q=？？？", "没有可检索的文字"),
])
def test_search_rejects_bad_queries(client, query, message) -> None:
    r = client.get("/api/search?" + query)
    assert r.status_code == 422 and message in r.json()["error"], r.text


def test_unknown_endpoints_and_methods_are_json_4xx(client) -> None:
    r = client.get("/api/nope")
    assert r.status_code == 404 and "no such endpoint" in r.json()["error"]
    r = client.get("/api/ask")
    assert r.status_code == 405 and r.headers["allow"] == "POST" and "POST" in r.json()["error"]
    r = client.delete("/api/search")
    assert r.status_code == 405 and "GET" in r.json()["error"]


# ----------------------------------------------------------------------------------- other endpoints


def test_passage_with_its_context(client, engine) -> None:
    r = client.get("/api/passages/2021/s6/p2")
    p = r.json()
    assert r.status_code == 200 and p["id"] == "2021/s6/p2" and p["section"].startswith("第六部分")
    assert p["anchor"] == "p-2021-s6-p2" and p["reader"] == "reader#p-2021-s6-p2"
    assert "新建扩建公办幼儿园38所" in p["text"] and p["text"] in p["paragraph"]
    assert p["previous"]["id"] == "2021/s6/p1" and p["next"]["id"].startswith("2021/s6/p3")
    split = next(x for x in engine.index.passages if "/c" in x.id)  # a piece of a long paragraph
    q = client.get(f"/api/passages/{split.id}").json()
    assert q["text"] == split.text and len(q["paragraph"]) > len(q["text"])


@pytest.mark.parametrize("pid", ["nope", "2021/s6/p99", "2021/s6/p2/extra", "%00"])
def test_unknown_passage_is_404(client, pid) -> None:
    r = client.get(f"/api/passages/{pid}")
    assert r.status_code == 404 and "no passage" in r.json()["error"]


def test_healthz(client, engine) -> None:
    h = client.get("/healthz").json()
    assert h["status"] == "ok" and h["model"] == engine.spec.name
    assert h["passages"] == len(engine.index.passages) and h["feedback_db"] == "ok"


def test_openapi_docs_are_served_offline(client) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/api/ask", "/api/search", "/api/passages/{passage_id}", "/api/feedback", "/healthz"} <= set(spec["paths"])
    docs = client.get("/docs").text
    assert "swagger-ui-bundle.js" in docs and "cdn." not in docs and "https://" not in docs
    assert client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200


# ----------------------------------------------------------------------------------------- feedback


def test_feedback_is_stored_without_the_client_address(client) -> None:
    body = {"question": "今年要新建多少所公办幼儿园？", "answer": "新建扩建公办幼儿园38所[1]",
            "citations": ["2021/s6/p2"], "rating": "👎", "reason": "引用错误"}
    r = client.post("/api/feedback", json=body, headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.status_code == 201 and r.json()["saved"] is True
    row = db_rows(client, "SELECT * FROM feedback WHERE id = %d" % r.json()["id"])[0]
    assert body["question"] in row and "down" in row and "引用错误" in row and '["2021/s6/p2"]' in row
    assert not any("203.0.113" in str(v) or "testclient" in str(v) for v in row)


@pytest.mark.parametrize("body, message", [
    ({"question": "q", "answer": "a", "rating": "meh"}, "rating"),
    ({"question": "q", "answer": "a", "rating": "up", "reason": "信息不全"}, "reason only goes with"),
    ({"question": "q", "answer": "a", "rating": "down", "reason": "太长了"}, "reason"),
    ({"question": "", "answer": "a", "rating": "up"}, "question"),
    ({"question": "q", "answer": "a", "rating": "up", "citations": "2021/s6/p2"}, "citations"),
    ({"question": "q", "answer": "a", "rating": "up", "citations": ["x" * 101]}, "passage ids"),
    ({"answer": "a", "rating": "up"}, "question: Field required"),
])
def test_feedback_rejects_bad_bodies(client, body, message) -> None:
    r = client.post("/api/feedback", json=body)
    assert r.status_code == 422 and message in r.json()["error"], r.text


def test_feedback_takes_a_free_text_comment_with_down(client) -> None:
    body = {"question": "公交票价多少？", "answer": "报告没有提到具体票价。", "rating": "down", "reason": "信息不全",
            "comment": "  想知道老年人坐公交是否免费  "}
    r = client.post("/api/feedback", json=body)
    assert r.status_code == 201, r.text
    assert db_rows(client, "SELECT reason, comment FROM feedback WHERE id = %d" % r.json()["id"]) == \
        [("信息不全", "想知道老年人坐公交是否免费")]
    r = client.post("/api/feedback", json={**body, "reason": None, "comment": "字" * 200})
    assert r.status_code == 201 and db_rows(client, "SELECT reason, comment FROM feedback WHERE id = %d"
                                            % r.json()["id"]) == [(None, "字" * 200)]


@pytest.mark.parametrize("changes, message", [
    ({"comment": "字" * 201}, "comment"),
    ({"comment": "很好", "rating": "up", "reason": None}, "comment only goes with"),
    ({"comment": 12}, "comment"),
    ({"comment": "LONE"}, "comment"),  # a lone surrogate
])
def test_feedback_rejects_bad_comments(client, changes, message) -> None:
    body = json.dumps({"question": "q", "answer": "a", "rating": "down", **changes}).replace("LONE", "\\ud800")
    r = client.post("/api/feedback", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and message in r.json()["error"], r.text


def test_api_questions_are_logged_for_the_stats(client) -> None:
    client.post("/api/ask", json={"question": "今年招聘多少老师？"})
    rows = db_rows(client, "SELECT channel, kind, found, citations FROM questions WHERE question = '今年招聘多少老师？'")
    assert rows and rows[-1] == ("api", "answer", 1, '["2021/s6/p2"]')


def test_broken_database_is_reported_honestly_and_answers_go_on(make_client, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    c = make_client(feedback_db=blocker / "fb.sqlite3")
    r = c.post("/api/feedback", json={"question": "q", "answer": "a", "rating": "up"})
    assert r.status_code == 503 and r.json()["saved"] is False and "could not be saved" in r.json()["error"]
    assert c.post("/api/ask", json={"question": "今年招聘多少老师？"}).json()["found"] is True
    assert c.get("/healthz").json()["feedback_db"] == "unavailable"


# --------------------------------------------------------------------------------- admin / exports


def test_stats_and_exports_behind_the_admin_token(make_client) -> None:
    c = make_client(admin_token="s3cret")
    c.post("/api/ask", json={"question": "德州明天天气怎么样"})
    for path in ("/api/stats", "/api/export/questions.csv", "/api/export/feedback.csv"):
        assert c.get(path).status_code == 401
        assert c.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = c.get("/api/stats", headers={"Authorization": "Bearer s3cret"})
    assert r.status_code == 200 and r.json()["refused"][0][0] == "德州明天天气怎么样"
    r = c.get("/api/export/questions.csv", headers={"X-Admin-Token": "s3cret"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"] and "德州明天天气怎么样" in r.text
    assert c.get("/api/export/users.csv", headers={"X-Admin-Token": "s3cret"}).status_code == 422


def test_admin_check_is_closed_without_a_configured_token(settings) -> None:
    assert not admin_allowed(settings.replace(admin_token=""), None)
    assert not admin_allowed(settings.replace(admin_token=""), "")
    locked = settings.replace(admin_token="t")
    assert admin_allowed(locked, "t") and not admin_allowed(locked, None) and not admin_allowed(locked, "T")


# ----------------------------------------------------------------------------- framing, CORS, paths


PAGES = ["/", "/embed/", "/desk/", "/reader", "/docs", "/healthz", "/api/search?q=农村", "/api/nope"]


@pytest.mark.parametrize("path", PAGES)
def test_every_response_allows_framing_by_policy_never_x_frame_options(client, path) -> None:
    r = client.get(path)
    assert csp(r)["frame-ancestors"] == "*"
    assert "x-frame-options" not in r.headers
    # the other security headers of a public site, on every response
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert csp(r)["object-src"] == "'none'"


def csp(r) -> dict[str, str]:
    """The Content-Security-Policy of a response as {directive: sources}."""
    parts = (p.strip().split(" ", 1) for p in r.headers["content-security-policy"].split(";") if p.strip())
    return {p[0]: p[1] if len(p) > 1 else "" for p in parts}


def test_frame_ancestors_from_settings(make_client) -> None:
    c = make_client(frame_ancestors="https://www.dezhou.gov.cn self")
    for path in ("/embed/", "/api/ask"):
        r = c.get(path)
        assert csp(r)["frame-ancestors"] == "https://www.dezhou.gov.cn 'self'"
        assert "x-frame-options" not in r.headers


@pytest.mark.parametrize("value", ["https://a.example; script-src *", "https://a.example,'unsafe-inline'",
                                   "<script>", "https://a.example/\"x", "https://exa mple.com/;"])
def test_frame_ancestors_cannot_inject_into_the_header(value) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env({"DZQA_FRAME_ANCESTORS": value})


def test_frame_ancestors_forms() -> None:
    s = Settings.from_env({"DZQA_FRAME_ANCESTORS": " https://www.dezhou.gov.cn\r\n https://*.dezhou.gov.cn:8443 'self' none"})
    assert s.frame_ancestor_list == ("https://www.dezhou.gov.cn", "https://*.dezhou.gov.cn:8443", "'self'", "'none'")
    assert Settings.from_env({"DZQA_FRAME_ANCESTORS": ""}).frame_ancestor_list == ("'none'",)


def test_no_cors_headers_by_default(client) -> None:
    r = client.post("/api/ask", json={"question": "你好"}, headers={"Origin": "https://www.dezhou.gov.cn"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_cors_only_for_listed_origins_and_only_on_the_api(make_client) -> None:
    c = make_client(cors_origins="https://www.dezhou.gov.cn, https://12345.dezhou.gov.cn")
    ok = {"Origin": "https://www.dezhou.gov.cn"}
    r = c.get("/api/search?q=农村", headers=ok)
    assert r.headers["access-control-allow-origin"] == "https://www.dezhou.gov.cn"
    pre = c.options("/api/ask", headers={**ok, "Access-Control-Request-Method": "POST",
                                          "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == ok["Origin"]
    assert "POST" in pre.headers["access-control-allow-methods"]
    evil = c.get("/api/search?q=农村", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in evil.headers
    assert "access-control-allow-origin" not in c.get("/reader", headers=ok).headers


def test_published_urls_redirect_to_their_pages(client) -> None:
    r = client.get("/embed?theme=dark&elder=1", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "embed/?elder=1&__theme=dark"
    assert client.get("/desk", follow_redirects=False).headers["location"] == "desk/"
    for path in ("/embed", "/desk"):
        page = client.get(path)
        assert page.status_code == 200 and "gradio_config" in page.text


def test_reader_has_an_anchor_per_paragraph(client, engine) -> None:
    html = client.get("/reader").text
    assert all(f'id="{p.anchor}"' in html for p in engine.corpus.paragraphs)
    assert html.count('class="dz-para"') == len(engine.corpus.paragraphs)
    assert 'lang="zh-CN"' in html and "第六部分" in html


@pytest.mark.parametrize("prefix_stripped", [True, False])
def test_root_path_behind_a_proxy(make_client, prefix_stripped) -> None:
    c = make_client(root_path="/dzqa/")  # normalised to "/dzqa"
    p = "" if prefix_stripped else "/dzqa"
    assert c.get(p + "/healthz").json()["status"] == "ok"
    assert c.post(p + "/api/ask", json={"question": "今年招聘多少老师？"}).json()["found"]
    assert "'/dzqa/openapi.json'" in c.get(p + "/docs").text
    assert c.get(p + "/embed", follow_redirects=False).headers["location"] == "embed/"
    page = c.get(p + "/embed/", headers={"Host": "www.example.gov.cn"})
    assert '"root":"http://www.example.gov.cn/dzqa/embed"' in page.text.replace(" ", "")


# ------------------------------------------------------------------------------------- real server


@pytest.fixture(scope="module")
def live(engine: Engine, settings: Settings, tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("live") / "feedback.sqlite3"
    with LiveServer(create_app(engine, settings.replace(feedback_db=db))) as server:
        yield server


def test_real_server_answers_concurrent_clients(live, engine) -> None:
    questions = ["今年要新建多少所公办幼儿园？", "农村公路今年修多少公里？", "德州明天天气怎么样", "今年招聘多少老师？"] * 4
    results: list[tuple[int, dict]] = []

    def one(q: str) -> None:
        r = httpx.post(live.url + "/api/ask", json={"question": q}, timeout=60)
        results.append((r.status_code, r.json()))

    threads = [threading.Thread(target=one, args=(q,)) for q in questions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [s for s, _ in results] == [200] * len(questions)
    assert sum(1 for _, j in results if not j["found"]) == 4
    rows = live.server.config.app.state.services.store.question_rows()  # flushes the server's question log
    assert len(rows) == len(questions) and {r["channel"] for r in rows} == {"api"}


def test_gradio_chat_endpoint_is_published_as_chat(live) -> None:
    """The load test drives the chat through Gradio's HTTP API, as /gradio_api/call/chat."""
    with httpx.Client(base_url=live.url, timeout=60) as h:
        info = h.get("/gradio_api/info").json()
        assert "/chat" in info["named_endpoints"]
        event = h.post("/gradio_api/call/chat", json={"data": ["今年要新建多少所公办幼儿园？", []]}).json()["event_id"]
        stream = h.get(f"/gradio_api/call/chat/{event}").text
    assert "event: complete" in stream
    data = json.loads(stream.split("event: complete\ndata:", 1)[1].strip().splitlines()[0])
    textbox, history = data[0], data[1]
    assert textbox == "" and [m["role"] for m in history] == ["user", "assistant"]
    reply = json.dumps(history[1]["content"], ensure_ascii=False)
    assert "新建扩建公办幼儿园38所" in reply and "dz-cite" in reply


# ----------------------------------------------------------------------------- page handlers directly


def test_chat_tells_the_citizen_when_feedback_was_not_saved(make_client, tmp_path: Path) -> None:
    import gradio as gr

    from dzqa.web.chat import NOT_SAVED, ChatLogic

    blocker = tmp_path / "file"
    blocker.write_text("x")
    services = make_client(feedback_db=blocker / "fb.sqlite3").app.state.services
    logic = ChatLogic(services, channel="chat", root="")
    _, history, turns, *_ = logic.respond("今年招聘多少老师？", [], [])
    assert len(history) == 2 and turns[0].index == 1  # answered although nothing could be logged
    status, pending, *_ = logic.rate(turns, gr.LikeData(None, {"index": 1, "value": [], "liked": False}))
    assert NOT_SAVED in status and "dz-notice-error" in status and pending is None


def test_desk_stats_need_the_token_when_one_is_set(make_client) -> None:
    from dzqa.web.desk import TOKEN_REFUSED, DeskLogic

    desk = DeskLogic(make_client(admin_token="s3cret").app.state.services)
    assert TOKEN_REFUSED in desk.stats("", 30) and TOKEN_REFUSED in desk.stats("S3CRET", 30)
    assert "每日提问数" in desk.stats("s3cret", 30)
    assert "<img" not in desk.search("<img src=x onerror=alert(1)>", "", 3)


# ------------------------------------------------------------------------------- document, year, section


@pytest.mark.parametrize("query, message", [
    ("q=农村&doc=nope", "unknown document"),
    ("q=农村&year=1999", "no report of the year 1999"),
    ("q=农村&section=cn2023", "unknown section"),
])
def test_search_rejects_unknown_filters(client, query, message) -> None:
    r = client.get(f"/api/search?{query}")
    assert r.status_code == 422 and message in r.json()["error"]


@pytest.mark.parametrize("body, message", [
    ({"doc": "nope"}, "unknown document"),
    ({"year": 1999}, "no report of the year 1999"),
    ({"section": "2021/s99"}, "unknown section"),
])
def test_ask_rejects_unknown_filters(client, body, message) -> None:
    r = client.post("/api/ask", json={"question": "今年要新建多少所公办幼儿园？", **body})
    assert r.status_code == 422 and message in r.json()["error"]


def test_ask_with_filters_cites_only_from_them(client) -> None:
    r = client.post("/api/ask", json={"question": "今年要新建多少所公办幼儿园？", "doc": "2021", "year": 2021,
                                      "section": "2021/s6"})
    obj = r.json()
    assert r.status_code == 200 and obj["found"] and all(c["id"].startswith("2021/s6/") for c in obj["citations"])


@pytest.fixture(scope="module")
def five_client(five_engine, settings, tmp_path_factory):
    from fastapi.testclient import TestClient

    from dzqa.web.server import create_app

    db = tmp_path_factory.mktemp("five-db") / "feedback.sqlite3"
    return TestClient(create_app(five_engine, settings.replace(feedback_db=db, corpus_dir=five_engine.settings.corpus_dir)))


def test_five_reports_search_and_ask_by_document_and_year(five_client) -> None:
    hits = five_client.get("/api/search?q=粮食产量&k=6&year=2023").json()["hits"]
    assert hits and {h["doc_id"] for h in hits} == {"cn2023"} and all(h["place"] == "全国" for h in hits)
    obj = five_client.post("/api/ask", json={"question": "国内生产总值增长目标是多少？", "doc": "cn2021"}).json()
    assert obj["citations"] and {c["doc_id"] for c in obj["citations"]} == {"cn2021"} and "6%以上" in obj["answer"]
    r = five_client.get("/api/search?q=就业&doc=cn2022&section=cn2021/s3")
    assert r.status_code == 422 and "exclude each other" in r.json()["error"]


def test_five_reports_pages_are_titled_after_the_corpus(five_client, five_engine) -> None:
    assert five_engine.title == "政府工作报告"
    greeting = five_engine.ask("你好")
    assert greeting.kind == "greeting" and "德州市政府工作报告》" not in greeting.text
    page = five_client.get("/reader").text
    assert "<title>政府工作报告 · " in page
    for report in five_engine.corpus.reports:  # every document, each with its own table of contents
        doc = report.document
        assert f'id="d-{doc.id}"' in page and f'aria-label="目录：{doc.title}"' in page
    assert 'href="#s-cn2021-s3.2"' in page and 'id="p-cn2021-s3.2-p1"' in page
    from dzqa.web.desk import header_html

    assert "《政府工作报告》" in header_html(five_engine.title)
