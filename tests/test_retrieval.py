"""Stage 5: normalisation and hybrid retrieval find the right passage however a citizen writes."""

from __future__ import annotations

import pytest

from dzqa.engine import Engine, QuestionError
from dzqa.text import match, normalize


@pytest.mark.parametrize("raw, expected", [
    ("今年要新建多少所公辦幼兒園？？", "今年要新建多少所公办幼儿园"),
    ("  ＧＤＰ　增长多少 ", "gdp 增长多少"),
    ("\u202e德州\u200b天气!!!", "德州天气"),
    ("How many kindergartens?", "how many kindergartens"),
])
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_match_tolerates_a_different_cut_but_not_other_numbers() -> None:
    assert match("智轨", "建成智轨交通示范线路") == 1.0
    assert match("建智轨", "建成智轨交通示范线路") == 0.5
    assert match("2019", "2021年") == 0.0


@pytest.mark.parametrize("question, paragraph", [
    ("今年要新建多少所公办幼儿园？", "2021/s6/p2"),       # direct
    ("今年要新建多少所公辦幼兒園", "2021/s6/p2"),          # traditional characters
    ("公办幼儿圆新建几所", "2021/s6/p2"),                  # typo
    ("How many public kindergartens will be built this year?", "2021/s6/p2"),  # English
    ("乡下的路今年要修多少", "2021/s3/p2"),                # colloquial
    ("失业率要控制在多少以内？", "2021/h/p1"),             # one target in the long list
])
def test_right_paragraph_first(engine: Engine, question: str, paragraph: str) -> None:
    hit = engine.search(question, k=3).hits[0]
    assert hit.passage.citation.paragraph_id == paragraph


def test_search_returns_scored_hits_with_terms(engine: Engine) -> None:
    result = engine.search("农村公路要修多少公里", k=5)
    assert len(result.hits) == 5
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)
    assert "农村公路" in result.hits[0].terms
    assert set(result.timings) >= {"encode", "faiss", "bm25", "fusion"}


def test_section_filter(engine: Engine) -> None:
    hits = engine.search("建设", k=10, section="2021/s4").hits
    assert hits and all(h.passage.citation.section_id == "2021/s4" for h in hits)


@pytest.mark.parametrize("bad", ["", "   ", "\n\t", "x" * 501])
def test_bad_questions_are_rejected_clearly(engine: Engine, bad: str) -> None:
    with pytest.raises(QuestionError):
        engine.search(bad)


def test_follow_up_reads_the_previous_question(engine: Engine) -> None:
    assert engine._leans("那农村呢") and engine._leans("为什么要这样做") and engine._leans("具体提到了哪些工程")
    assert not engine._leans("今年要新建多少所公办幼儿园")
    # a follow-up of a follow-up keeps the topic of the question they lean on
    assert engine._topic(["城市道路怎么建设？", "那农村呢？"]) == "城市道路怎么建设？ 那农村呢？"
    assert engine._topic(["城市道路怎么建设？", "今年要新建多少所公办幼儿园？"]) == "今年要新建多少所公办幼儿园？"
