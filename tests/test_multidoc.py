"""Several reports: the right document for a question's place and year (issue 9), on the real five-report
corpus (Dezhou's summary plus the four national reports of ../shared/corpus-extra; skipped without them)."""

from __future__ import annotations

import json
from pathlib import Path

from dzqa.engine import Engine
from dzqa.evaluate import evaluate, load_questions

DATA = Path(__file__).parent / "data"


def _items() -> list[dict]:
    return [json.loads(line) for line in (DATA / "multidoc.jsonl").read_text(encoding="utf-8").splitlines() if line]


def test_questions_go_to_the_report_of_their_place_and_year(five_engine: Engine) -> None:
    """multidoc.jsonl (91 questions written from the five reports: years, 今年/去年/前年, 德州, no place, other
    cities, years without a report, comparisons): floors just under today's figures (README)."""
    right_doc = fact = answerable = handled = other = 0
    for item in _items():
        a = five_engine.ask(item["q"])
        if item["expect"] == "answer":
            answerable += 1
            right_doc += bool(a.citations) and a.citations[0].passage.citation.doc_id in item["doc"]
            fact += a.kind == "answer" and any(g in a.text for g in item["gold"])
        else:
            other += 1
            handled += a.kind != "answer"
    assert answerable >= 40
    assert right_doc / answerable >= 0.78 and fact / answerable >= 0.74 and handled / other >= 0.90


def test_place_and_year_pick_the_report(five_engine: Engine) -> None:
    cases = {
        "2021年全国国内生产总值增长目标是多少？": "cn2021",
        "2022年国家定的GDP增长目标是多少？": "cn2022",
        "德州城镇新增就业目标是多少？": "2021",
        "德州2021年粮食产量目标是多少": "2021",
        "今年要新建多少所公办幼儿园？": "2021",  # no place: the home city leads
    }
    for q, doc in cases.items():
        a = five_engine.ask(q)
        assert a.kind == "answer" and a.citations[0].passage.citation.doc_id == doc, (q, a.text)
    # a year the home city has no report of is never answered with another year's figure
    assert five_engine.ask("德州2023年地区生产总值增长目标是多少").kind in ("partial", "refusal")
    assert five_engine.ask("德州明天天气怎么样").kind == "refusal"


def test_a_topic_only_a_national_report_covers_is_answered_from_it_without_a_place(five_engine: Engine) -> None:
    """No place named: Dezhou's report leads, but an answer holding few of the question's words gives way to the
    widest scope's when that holds clearly more (赤字率 and 抗疫特别国债 are national topics only)."""
    a = five_engine.ask("2021年的赤字率按多少安排？抗疫特别国债还发不发？")
    assert a.kind == "answer" and a.citations[0].passage.citation.doc_id == "cn2021" and "3.2%" in a.text
    b = five_engine.ask("今年要新建多少所公办幼儿园？")  # Dezhou's own topic stays Dezhou's
    assert b.citations[0].passage.citation.doc_id == "2021"


def test_mixed_answers_say_which_report_each_part_quotes(five_engine: Engine) -> None:
    a = five_engine.ask("2023年和2024年全国城镇新增就业目标各是多少")
    docs = [a.citations[p.citation - 1].passage.citation.doc_id for p in a.parts]
    for part, doc in zip(a.parts, docs):
        assert bool(part.doc_label) == (doc != docs[0])
        if part.doc_label:
            assert part.doc_label == f"《{five_engine.outline.titles[doc]}》：" and part.doc_label in a.text


def test_nothing_from_the_licence_footers_is_quoted(five_engine: Engine) -> None:
    for item in _items():
        a = five_engine.ask(item["q"])
        assert "本作品" not in a.text and "Public domain" not in a.text and "\u200b" not in a.text


def test_the_dezhou_sets_keep_their_quality_beside_the_national_reports(five_engine: Engine, engine: Engine) -> None:
    """The home city's questions lose at most 0.03 of hit@1 and of off-topic handled (issue 9) — measured
    0.991 → 0.982 and 1.00 → 1.00 on questions.jsonl (README)."""
    alone = evaluate(engine, load_questions(DATA / "questions.jsonl")).metrics()
    five = evaluate(five_engine, load_questions(DATA / "questions.jsonl")).metrics()
    assert five["hit@1"] >= alone["hit@1"] - 0.03
    assert five["answer_has_gold"] >= alone["answer_has_gold"] - 0.03
    assert five["off_topic_handled"] >= alone["off_topic_handled"] - 0.03


def test_a_wider_scope_must_be_surer(five_engine: Engine) -> None:
    """A question with no year or place that Dezhou's report lacks is tried in the national reports only at
    the stricter DZQA_WIDER_MIN_RELEVANCE: a sentence that merely shares words (住房公积金) is not an answer."""
    assert five_engine.settings.wider_min_relevance > five_engine.settings.min_relevance
    assert five_engine.ask("公积金贷款额度是多少").kind != "answer"
    # a topic only the national reports cover is still answered from them
    a = five_engine.ask("中央预算内投资拟安排多少亿元")
    assert a.kind == "answer" and a.citations[0].passage.citation.doc_id == "cn2024" and "7000亿元" in a.text


def test_a_follow_up_is_not_sent_to_the_widest_scope(five_engine: Engine) -> None:
    """The wider scope replaces only a question of its own: a follow-up keeps the conversation's report."""
    a = five_engine.ask("目标是啥", history=["院感防控是怎么回事", "跟谁合作？"])
    assert a.citations and a.citations[0].passage.citation.doc_id == "2021"
