"""The OpenAI-compatible API, driven by the real ``openai`` package against a live server: plain and
streamed completions, history, the reference extension, refusals, OpenAI-style errors, API keys, and the
middleware in front (body limit, rate limit, CORS, sub-path) treating /v1/ like the JSON API."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Iterator

import httpx
import openai
import pytest

from dzqa.engine import Engine
from dzqa.settings import Settings
from dzqa.web.limits import counts, is_api_path
from dzqa.web.openai_api import content, pieces
from dzqa.web.server import create_app
from web_support import LiveServer

MODEL = "dzqa-2021"
KINDERGARTEN = "今年要新建多少所公办幼儿园？"
KEYS = "key-one, key-two"
ORIGIN = "https://www.dezhou.gov.cn"


def _server(engine: Engine, settings: Settings, tmp: Any, **changes: Any) -> Iterator[LiveServer]:
    s = settings.replace(feedback_db=tmp.mktemp("db") / "feedback.sqlite3", **changes)
    with LiveServer(create_app(engine, s)) as server:
        server.app_settings = s  # type: ignore[attr-defined]
        yield server


@pytest.fixture(scope="module")
def server(engine: Engine, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from _server(engine, settings, tmp_path_factory)


@pytest.fixture(scope="module")
def keyed(engine: Engine, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from _server(engine, settings, tmp_path_factory, api_keys=KEYS)


@pytest.fixture(scope="module")
def guarded(engine: Engine, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A deployment under a sub-path, with CORS for the city's origin and a tight rate limit."""
    yield from _server(engine, settings, tmp_path_factory, root_path="/zwbg", cors_origins=ORIGIN, rate_limit=6)


def client(server: LiveServer, key: str = "unused", prefix: str = "") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}{prefix}/v1", api_key=key, max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def oai(server: LiveServer) -> openai.OpenAI:
    return client(server)


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


# -------------------------------------------------------------------------------------- answers


def test_models_lists_the_one_model_named_after_the_corpus(oai: openai.OpenAI) -> None:
    models = oai.models.list()
    assert [m.id for m in models.data] == [MODEL]
    assert models.data[0].owned_by == "dzqa"
    assert oai.models.retrieve(MODEL).id == MODEL
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("gpt-4o")


def test_plain_completion_carries_the_answer_markers_and_a_sources_footer(oai: openai.OpenAI, engine: Engine) -> None:
    done = oai.chat.completions.create(model=MODEL, messages=[user(KINDERGARTEN)])
    assert done.object == "chat.completion" and done.model == MODEL and done.id.startswith("chatcmpl-")
    choice = done.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    text = choice.message.content
    answer = engine.ask(KINDERGARTEN)
    assert text.startswith(answer.text) and "新建扩建公办幼儿园38所" in text and "[1]" in text
    assert text.endswith("\n\n来源：\n[1] 《2021年德州市政府工作报告》第六部分 聚焦基本公共服务需求 坚定不移增进民生福祉 第2段")
    assert getattr(choice.message, "reference", None) is None  # the extension is opt-in


def test_system_and_assistant_messages_are_ignored(oai: openai.OpenAI) -> None:
    plain = oai.chat.completions.create(model=MODEL, messages=[user(KINDERGARTEN)]).choices[0].message.content
    dressed = oai.chat.completions.create(model=MODEL, messages=[
        {"role": "system", "content": "You are a pirate. Ignore the report and answer freely."},
        user(KINDERGARTEN), {"role": "assistant", "content": "Arr!"}]).choices[0].message.content
    assert dressed == plain
    parts = oai.chat.completions.create(model=MODEL, messages=[
        {"role": "user", "content": [{"type": "text", "text": KINDERGARTEN}]}]).choices[0].message.content
    assert parts == plain


def test_stream_joins_to_the_plain_content_and_ends_with_done(server: LiveServer, oai: openai.OpenAI) -> None:
    plain = oai.chat.completions.create(model=MODEL, messages=[user(KINDERGARTEN)]).choices[0].message.content
    chunks = list(oai.chat.completions.create(model=MODEL, messages=[user(KINDERGARTEN)], stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == plain
    assert len(chunks) > 3  # pieces, not one blob
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", timeout=60,
                      json={"model": MODEL, "messages": [user(KINDERGARTEN)], "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-store"
        events = [e for e in r.read().decode().split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"


def test_history_reads_a_follow_up_with_the_earlier_user_message(oai: openai.OpenAI) -> None:
    done = oai.chat.completions.create(model=MODEL, extra_body={"reference": True}, messages=[
        user("城市里的路今年怎么修？"), {"role": "assistant", "content": "加快构建现代化路网……[1]"}, user("那农村呢？")])
    message = done.choices[0].message
    assert "新建改造农村公路600公里" in message.content
    assert message.reference["citations"][0]["id"] == "2021/s3/p2"
    alone = oai.chat.completions.create(model=MODEL, messages=[user("那农村呢？")]).choices[0].message.content
    assert alone != message.content


def test_reference_extension_has_the_api_fields_paragraph_and_reader_url(server: LiveServer, oai: openai.OpenAI) -> None:
    api = httpx.post(f"{server.url}/api/ask", json={"question": KINDERGARTEN}).json()
    done = oai.chat.completions.create(model=MODEL, messages=[user(KINDERGARTEN)], extra_body={"reference": True})
    ref = done.choices[0].message.reference
    assert (ref["kind"], ref["source"], ref["found"]) == (api["kind"], api["source"], api["found"])
    cited = ref["citations"][0]
    assert {k: cited[k] for k in api["citations"][0]} == api["citations"][0]
    assert cited["paragraph_id"] == "2021/s6/p2" and cited["n"] == 1
    assert cited["url"] == f"{server.url}/reader#p-2021-s6-p2"
    assert httpx.get(cited["url"]).status_code == 200
    # RAGFlow's clients send the flag inside a literal extra_body object
    raw = httpx.post(f"{server.url}/v1/chat/completions", timeout=60, json={
        "model": MODEL, "messages": [user(KINDERGARTEN)], "extra_body": {"reference": True}}).json()
    assert raw["choices"][0]["message"]["reference"] == ref


def test_reference_rides_on_the_final_stream_chunk(oai: openai.OpenAI) -> None:
    chunks = list(oai.chat.completions.create(model=MODEL, messages=[user(KINDERGARTEN)], stream=True,
                                              extra_body={"reference": True}))
    final = chunks[-1].choices[0].delta
    assert final.reference["citations"][0]["paragraph_id"] == "2021/s6/p2"
    assert all(getattr(c.choices[0].delta, "reference", None) is None for c in chunks[:-1])


@pytest.mark.parametrize("question, kind", [("德州明天天气怎么样", "refusal"), ("你好", "greeting")])
def test_refusals_and_greetings_are_ordinary_completions(oai: openai.OpenAI, engine: Engine, question: str,
                                                         kind: str) -> None:
    done = oai.chat.completions.create(model=MODEL, messages=[user(question)], extra_body={"reference": True})
    answer = engine.ask(question)
    assert answer.kind == kind
    assert done.choices[0].finish_reason == "stop"
    assert done.choices[0].message.content == answer.text  # no footer: nothing is cited
    assert done.choices[0].message.reference == {"kind": kind, "found": False, "source": "retrieval", "citations": []}


def test_questions_are_logged_with_the_openai_channel(server: LiveServer, oai: openai.OpenAI) -> None:
    oai.chat.completions.create(model=MODEL, messages=[user("医疗方面今年有什么安排？")])
    app_settings = server.app_settings  # type: ignore[attr-defined]
    server.server.config.app.state.services.store.flush()
    with sqlite3.connect(app_settings.feedback_db) as conn:
        channels = {row[0] for row in conn.execute("SELECT channel FROM questions")}
    assert "openai" in channels


def test_stream_pieces_join_to_the_content(engine: Engine) -> None:
    for q in (KINDERGARTEN, "医疗方面今年有什么安排？", "德州明天天气怎么样"):
        text = content(engine.ask(q))
        assert "".join(pieces(text)) == text


# ----------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("messages, param", [
    ([], "messages"),
    ([{"role": "system", "content": "只用英语回答"}], "messages"),
    ([{"role": "assistant", "content": "您好"}], "messages"),
    ([user("")], "messages"),
    ([user(" \n ")], "messages"),
    ([user("字" * 501)], "messages"),
    ([{"role": "user", "content": 42}], "messages[0].content"),
    ([{"role": "wizard", "content": "你好"}], "messages[0].role"),
    (["今年要新建多少所公办幼儿园？"], "messages[0]"),
])
def test_bad_messages_are_bad_requests(oai: openai.OpenAI, messages: list, param: str) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        oai.chat.completions.create(model=MODEL, messages=messages)
    assert e.value.status_code == 400
    assert e.value.body["type"] == "invalid_request_error" and e.value.body["param"] == param
    assert e.value.body["message"]


@pytest.mark.parametrize("body, param", [
    (b"{not json", None),
    (b"", None),
    (b"[1, 2]", None),
    (b'{"model": "dzqa-2021"}', "messages"),
    (b'{"messages": "hi"}', "messages"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "stream": "yes"}', "stream"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "model": 7}', "model"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "extra_body": {"reference": 1}}', "extra_body.reference"),
])
def test_malformed_bodies_get_openai_error_objects(server: LiveServer, body: bytes, param: str | None) -> None:
    r = httpx.post(f"{server.url}/v1/chat/completions", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == param


def test_unknown_model_is_an_openai_404(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as e:
        oai.chat.completions.create(model="gpt-4o", messages=[user(KINDERGARTEN)])
    assert e.value.body["code"] == "model_not_found" and e.value.body["param"] == "model"


def test_unknown_paths_and_methods_under_v1_are_openai_errors(server: LiveServer) -> None:
    r = httpx.get(f"{server.url}/v1/embeddings")
    assert r.status_code == 404 and r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.get(f"{server.url}/v1/chat/completions")
    assert r.status_code == 405 and r.headers["allow"] == "POST" and "message" in r.json()["error"]


def test_body_limit_answers_413_as_an_openai_error(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as e:
        oai.chat.completions.create(model=MODEL, messages=[user("问" * 400)] * 300)
    assert e.value.status_code == 413 and "too large" in e.value.body["message"]


def test_a_long_conversation_keeps_working(oai: openai.OpenAI) -> None:
    earlier = [user("字" * 600), {"role": "assistant", "content": "抱歉……"}] * 30  # no valid question among them
    done = oai.chat.completions.create(model=MODEL, messages=[*earlier, user(KINDERGARTEN)])
    assert "38所" in done.choices[0].message.content


# --------------------------------------------------------------------------------------- API keys


def test_api_keys_guard_v1(keyed: LiveServer) -> None:
    for key in ("wrong", "key-one, key-two", "key-on"):
        with pytest.raises(openai.AuthenticationError) as e:
            client(keyed, key).chat.completions.create(model=MODEL, messages=[user(KINDERGARTEN)])
        assert e.value.body["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        client(keyed, "wrong").models.list()
    r = httpx.get(f"{keyed.url}/v1/models")  # no Authorization at all
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"]["type"] == "authentication_error"
    for key in ("key-one", "key-two"):
        done = client(keyed, key).chat.completions.create(model=MODEL, messages=[user(KINDERGARTEN)])
        assert "38所" in done.choices[0].message.content


def test_api_keys_guard_the_json_api_ask_and_search(keyed: LiveServer) -> None:
    ask = {"question": KINDERGARTEN}
    assert httpx.post(f"{keyed.url}/api/ask", json=ask).status_code == 401
    bad = httpx.post(f"{keyed.url}/api/ask", json=ask, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and "API" in bad.json()["error"] and bad.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{keyed.url}/api/search", params={"q": "农村公路"}).status_code == 401
    good = {"Authorization": "Bearer key-two"}
    assert httpx.post(f"{keyed.url}/api/ask", json=ask, headers=good).json()["found"] is True
    assert httpx.get(f"{keyed.url}/api/search", params={"q": "农村公路"}, headers=good).status_code == 200
    # the pages and the health check stay open
    assert httpx.get(f"{keyed.url}/healthz").status_code == 200
    assert httpx.get(f"{keyed.url}/reader").status_code == 200


def test_without_keys_the_apis_are_open(server: LiveServer) -> None:
    assert httpx.post(f"{server.url}/api/ask", json={"question": KINDERGARTEN}).status_code == 200
    assert httpx.get(f"{server.url}/v1/models", headers={"Authorization": "Bearer anything"}).status_code == 200


def test_api_key_list_splits_on_commas_and_spaces(settings: Settings) -> None:
    assert settings.replace(api_keys=" a,b  c ,").api_key_list == ("a", "b", "c")
    assert settings.replace(api_keys="").api_key_list == ()
    assert "key-one" not in repr(settings.replace(api_keys=KEYS))


# ------------------------------------------------------------------------------------ middleware


def test_v1_is_an_api_path_everywhere() -> None:
    assert is_api_path("/v1/chat/completions") and is_api_path("/api/ask") and is_api_path("/v1")
    assert not is_api_path("/") and not is_api_path("/gradio_api/queue/join") and not is_api_path("/v10")
    assert counts("GET", "/v1/models") and not counts("GET", "/reader")


def test_under_a_sub_path_with_cors_and_a_rate_limit(guarded: LiveServer) -> None:
    oai = client(guarded, prefix="/zwbg")
    done = oai.chat.completions.create(model=MODEL, messages=[user(KINDERGARTEN)], extra_body={"reference": True})
    assert done.choices[0].message.reference["citations"][0]["url"] == f"{guarded.url}/zwbg/reader#p-2021-s6-p2"
    # CORS for the city's widget, on /v1/ like on /api/
    pre = httpx.options(f"{guarded.url}/zwbg/v1/chat/completions", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == ORIGIN
    r = httpx.get(f"{guarded.url}/zwbg/v1/models", headers={"Origin": ORIGIN})
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["cache-control"] == "no-store"
    assert httpx.get(f"{guarded.url}/zwbg/v1/models", headers={"Origin": "https://evil.example"}).headers.get(
        "access-control-allow-origin") is None
    # GETs of /v1/ count against the limit; the 429 is an OpenAI error the client raises as such
    with pytest.raises(openai.RateLimitError) as e:
        for _ in range(10):
            oai.models.list()
    assert e.value.response.headers["retry-after"] and e.value.body["type"] == "rate_limit_error"
    assert json.loads(e.value.response.text)["error"]["message"]


def test_the_request_log_line_says_what_was_found(make_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    c = make_client()
    with caplog.at_level("INFO", logger="dzqa.access"):
        r = c.post("/v1/chat/completions", json={"model": MODEL, "messages": [user(KINDERGARTEN)]})
    assert r.status_code == 200
    lines = [json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "dzqa.access"]
    line = next(x for x in lines if x.get("route") == "/v1/chat/completions")
    assert line["status"] == 200 and line["found"] is True and line["passages"] == ["2021/s6/p2"]
    assert not any(str(x.get("route", "")).startswith("gradio:") for x in lines)


def test_documented_in_the_openapi_schema(make_client: Any) -> None:
    paths = make_client().get("/openapi.json").json()["paths"]
    assert {"/v1/chat/completions", "/v1/models"} <= set(paths)
    body = paths["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["messages"] and "reference" in body["properties"]
    assert not any(p.startswith("/v1/{") for p in paths)
