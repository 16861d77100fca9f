"""Suggestions (issue 10): follow-up chips from the cited section, the chat's opening questions from the
most asked and well rated ones, completions from curated questions, and the curated marker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dzqa.curated import CuratedStore
from dzqa.engine import Engine
from dzqa.feedback import Feedback, FeedbackStore
from dzqa.related import topic_sentence
from dzqa.web.chat import EXAMPLES

#: questions of different sections and kinds; nothing below is keyed to them
ASKED = ("今年要新建多少所公办幼儿园？", "农村公路今年修多少公里？", "今年地区生产总值增长目标是多少？",
         "碳达峰有啥安排", "智轨交通票价多少", "老百姓收入今年能涨多少？", "产城融合示范区要打造成哪几个定位")


@pytest.mark.parametrize("question", ASKED)
def test_chips_are_the_reports_own_topic_sentences_next_to_what_was_cited(engine: Engine, question: str) -> None:
    answer = engine.ask(question)
    assert answer.kind in ("answer", "partial")
    cited = {h.passage.citation.paragraph_id for h in answer.citations}
    assert 2 <= len(answer.related) <= 3
    assert len({t.text for t in answer.related}) == len(answer.related)
    first = answer.citations[0].passage.citation
    for topic in answer.related:
        paragraph = engine.paragraph(topic.paragraph_id)
        assert paragraph is not None and topic.paragraph_id not in cited
        assert paragraph.text.startswith(topic.text) and topic_sentence(paragraph) == topic.text  # verbatim
        assert paragraph.doc_id == first.doc_id
    own = [t for t in answer.related if engine.paragraph(t.paragraph_id).section_key == first.section_id.split("/")[-1]]
    if own:  # the cited section's own neighbours come first
        assert answer.related[0] == own[0]
    # asking a chip asks about its paragraph: the answer cites it, alone and as a follow-up
    for topic in answer.related:
        for history in ((), (question,)):
            again = engine.ask(topic.text, history)
            assert again.kind == "answer" and again.citations[0].passage.citation.paragraph_id == topic.paragraph_id, \
                (topic, history)


def test_no_chips_after_a_refusal_or_a_greeting(engine: Engine) -> None:
    for question in ("德州明天天气怎么样", "你好"):
        answer = engine.ask(question)
        assert answer.kind in ("refusal", "greeting") and answer.related == ()
        assert answer.to_json()["related"] == []


def test_related_is_in_the_json_of_the_cli_and_the_api(client, engine: Engine) -> None:
    body = client.post("/api/ask", json={"question": "今年要新建多少所公办幼儿园？"}).json()
    assert body["related"] == [t.to_json() for t in engine.ask("今年要新建多少所公办幼儿园？").related]
    assert all(set(t) == {"text", "id"} for t in body["related"])


def _log(store: FeedbackStore, question: str, times: int, kind: str = "answer") -> None:
    for _ in range(times):
        store.log_question(question, channel="chat", kind=kind, found=kind == "answer", citations=[], ms=1.0)


def test_opening_questions_are_the_most_asked_well_rated_ones(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    _log(store, "今年要建几所幼儿园", 5)
    _log(store, "农村公路修多少", 3)
    _log(store, "只问过两次的问题", 2)  # too rare: could be one visitor's own case
    _log(store, "德州明天下雨吗", 6, kind="refusal")  # not answered
    _log(store, "我的手机号13812345678能办吗", 4)  # masked personal data is never shown
    _log(store, "评价很差的问题", 4)
    store.save_feedback(Feedback("评价很差的问题", "答", (), "down"))
    store.save_feedback(Feedback("农村公路修多少？", "答", (), "up"))
    store.flush()
    assert store.popular(limit=6, min_asks=3) == ["今年要建几所幼儿园", "农村公路修多少"]
    assert store.popular(limit=1, min_asks=3) == ["今年要建几所幼儿园"]
    assert store.popular(limit=6, min_asks=10) == []
    store.close()


def test_the_chat_opens_with_popular_questions_topped_up_with_the_examples(make_client) -> None:
    app = make_client(suggest_min_asks=2)
    services = app.app.state.services
    assert services.opening_questions(EXAMPLES) == list(EXAMPLES)
    for _ in range(2):
        assert app.post("/api/ask", json={"question": "农村公路今年修多少公里"}).status_code == 200
    services.store.flush()
    services._opening.clear()  # read again now, not after the minute the page keeps them
    opening = services.opening_questions(EXAMPLES)
    assert opening[0] == "农村公路今年修多少公里" and opening[1:] == list(EXAMPLES[:5])
    off = make_client(suggest_min_asks=0).app.state.services
    assert off.opening_questions(EXAMPLES) == list(EXAMPLES)


def test_completions_offer_curated_questions_that_answer(admin_client) -> None:
    db = admin_client.app.state.services.settings.feedback_db
    store = CuratedStore(db)
    store.save("今年要新建多少所公办幼儿园？", ["2021/s6/p2"], author="王芳")
    store.save("公办幼儿园的学位增加多少", ["2021/s6/p2"], author="王芳")
    store.save("幼儿园收费标准是多少", None, author="王芳")  # not covered: never offered
    engine = admin_client.app.state.services.engine
    engine.curated.refresh(force=True)
    got = admin_client.get("/api/suggest", params={"q": "幼儿园"}).json()
    assert got == {"q": "幼儿园", "suggestions": ["公办幼儿园的学位增加多少", "今年要新建多少所公办幼儿园？"]}
    assert admin_client.get("/api/suggest", params={"q": "公办幼儿"}).json()["suggestions"][0] == "公办幼儿园的学位增加多少"
    assert admin_client.get("/api/suggest", params={"q": "幼"}).json()["suggestions"] == []  # one character: no
    assert admin_client.get("/api/suggest", params={"q": "高铁"}).json()["suggestions"] == []
    assert admin_client.get("/api/suggest", params={"q": "幼儿园", "n": 1}).json()["suggestions"] == [
        "公办幼儿园的学位增加多少"]
    assert admin_client.get("/api/suggest", params={"q": "幼儿园", "n": 0}).status_code == 422
    assert admin_client.get("/api/suggest").status_code == 422
    # a curated answer says so in the chat, and its chips are there as for any answer
    answer = engine.ask("今年要新建多少所公办幼儿园？")
    assert answer.source == "curated" and answer.related
    from dzqa.web.render import CURATED_BADGE, answer_html
    assert CURATED_BADGE in answer_html(answer) and CURATED_BADGE not in answer_html(engine.ask("农村公路今年修多少公里？"))
    for q in ("今年要新建多少所公办幼儿园？", "公办幼儿园的学位增加多少", "幼儿园收费标准是多少"):
        store.delete(q, author="王芳")
    engine.curated.refresh(force=True)


@pytest.fixture(scope="module")
def admin_client(make_client):
    return make_client(admin_token="t0ken")
