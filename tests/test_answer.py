"""Stage 6: answers quote the report verbatim with citations, refuse what it does not cover."""

from __future__ import annotations

import re

import pytest

from dzqa.answer import PARTIAL_CLOSING, PARTIAL_DETAIL, PARTIAL_PLACE, PARTIAL_YEAR, REFUSAL
from dzqa.engine import Engine

MARKER = re.compile(r"\[(\d+)\]")


def test_kindergarten_answer_quotes_the_fact_with_its_citation(engine: Engine) -> None:
    a = engine.ask("今年要新建多少所公办幼儿园？")
    assert a.found and a.kind == "answer"
    assert a.text.startswith("开展学前教育攻坚年行动,新建扩建公办幼儿园38所,新增学位9980个。[1]")
    c = a.citations[0].passage.citation
    assert c.paragraph_id == "2021/s6/p2" and c.section.startswith("第六部分 聚焦基本公共服务需求")
    assert c.doc_title == "2021年德州市政府工作报告"


def test_off_topic_is_refused_without_citations(engine: Engine) -> None:
    a = engine.ask("德州明天天气怎么样")
    assert not a.found and a.kind == "refusal" and a.citations == ()
    assert a.text == REFUSAL.format(hotline="12345") and "12345" in a.text


def test_a_year_the_report_never_mentions_is_refused(engine: Engine) -> None:
    assert not engine.ask("2019年德州GDP是多少").found
    assert engine.ask("城镇新增就业有没有2000人").found  # a quantity, not a year


@pytest.mark.parametrize("question", ["医保", "那养老呢", "养老呢？"])
def test_a_new_short_question_is_not_hijacked_by_the_previous_one(engine: Engine, question: str) -> None:
    a = engine.ask(question, history=["今年要新建多少所公办幼儿园？"])
    assert "幼儿园" not in a.text


@pytest.mark.parametrize("hello", ["你好", "您好！", "谢谢", "thanks", "再见"])
def test_small_talk_gets_a_short_polite_reply(engine: Engine, hello: str) -> None:
    a = engine.ask(hello)
    assert a.kind == "greeting" and not a.citations and "抱歉" not in a.text


def _source(engine: Engine, citation) -> str:
    """The text a citation points at: its paragraph, or its section's heading (paragraph 0)."""
    paragraph = engine.paragraph(citation.paragraph_id)
    if paragraph is not None:
        return paragraph.text
    return next(s.heading for s in engine.sections() if s.id == citation.section_id)


def _templates_ok(a) -> bool:
    """A partial's own words are one of the fixed sentences, slots filled from fixed vocabularies."""
    pattern = "|".join(re.escape(t).replace(r"\{what\}", "(?P<what>.+?)").replace(r"\{home\}", ".+?")
                       .replace(r"\{place\}", ".+?").replace(r"\{year\}", r"[\d、—]+").replace(r"\{have\}", r"[\d、]+")
                       for t in (PARTIAL_DETAIL, PARTIAL_PLACE, PARTIAL_YEAR))
    closing = re.escape(PARTIAL_CLOSING).replace(r"\{what\}", ".+?").replace(r"\{hotline\}", "12345")
    return bool(re.fullmatch(pattern, a.preface)) and bool(re.fullmatch(closing, a.closing))


def test_every_answer_part_occurs_in_the_report(engine: Engine, every_question: list[tuple[str, list[str]]]) -> None:
    """Over every question of every set (dialogue turns with their history): nothing but the report's own
    words, each part correctly cited; a partial adds only its fixed sentences."""
    quoted = 0
    for question, history in every_question:
        a = engine.ask(question, history=history)
        if a.kind not in ("answer", "partial"):
            assert not a.parts and not a.citations
            continue
        quoted += 1
        assert a.found == (a.kind == "answer")
        body = a.text[len(a.preface):len(a.text) - len(a.closing)]
        assert a.text == a.preface + body + a.closing
        if a.kind == "partial":
            assert _templates_ok(a), (question, a.preface, a.closing)
        else:
            assert not a.preface and not a.closing
        pieces = MARKER.split(body)
        texts, numbers = pieces[0::2], pieces[1::2]
        assert texts[-1] == "" and len(numbers) == len(a.parts)
        for text, number, part in zip(texts, numbers, a.parts):
            assert text == part.doc_label + part.text and int(number) == part.citation
            cited = a.citations[part.citation - 1].passage
            assert part.text in cited.text, (question, part.text)
            assert part.text in _source(engine, cited.citation), (question, part.text)
    assert quoted > 500


def test_follow_up_in_a_conversation(engine: Engine) -> None:
    a = engine.ask("那农村呢？", history=["城市里的路今年怎么修？"])
    assert a.found and any("农村公路" in p.text for p in a.parts)
    # nothing of its own: what the report says next, never the same quote again
    more = engine.ask("还有呢", history=["今年要新建多少所公办幼儿园？"])
    assert more.found and "义务教育" in more.text and "幼儿园38所" not in more.text


def test_what_else_goes_on_where_the_previous_answer_stopped(engine: Engine) -> None:
    history = ["城市规划方面今年有什么安排？"]
    first = engine.ask(history[0])
    more = engine.ask("还有呢？", history=history)
    assert more.kind == "answer" and "加强控规编制管理" in more.text
    assert not {p.text for p in first.parts} & {p.text for p in more.parts}
    again = engine.ask("还有吗", history=history + ["还有呢？"])  # and on, without repeating
    assert again.found and not {p.text for p in more.parts} & {p.text for p in again.parts}
    assert all(p.text in engine.passage(again.citations[p.citation - 1].passage.id).text for p in again.parts)
    assert engine.ask("还有啥？", history=["碳达峰有啥计划", "四减四增是啥"]).text.startswith("落实“三线一单”")


def test_an_answer_of_a_heading_alone_goes_on_with_what_its_section_opens_with(engine: Engine) -> None:
    a = engine.ask("今年工业化强市建设怎么搞？")
    assert a.kind == "answer"
    paragraphs = [a.citations[p.citation - 1].passage.citation.paragraph_number for p in a.parts]
    assert paragraphs[0] == 0 and any(n > 0 for n in paragraphs)  # the heading, then the section's own words
    assert "聚力培育标志性产业链" in a.text


def test_a_how_question_gets_the_topic_sentence_and_what_follows_it(engine: Engine) -> None:
    a = engine.ask("现代高效农业咋发展？")
    assert a.kind == "answer" and a.text.startswith("大力发展现代高效农业。[1]")
    assert "推动品种培优、品质提升、品牌打造和标准化生产" in a.text


def test_a_which_question_answered_by_a_heading_gets_the_items_its_section_lists(engine: Engine) -> None:
    a = engine.ask("平安德州要抓哪些？")
    assert a.kind == "answer" and a.text.count("毫不放松抓好") == 4
    # the item named before the which-word: the paragraphs opening with it (实施…工程) are the list
    b = engine.ask("民生工程都有哪几项")
    assert b.kind == "answer" and b.text.count("工程。") == 5
    # 哪几块 asks which parts, whatever their kind: the battles listed are the answer, not a partial
    c = engine.ask("治理大气污染主要从哪几块下手")
    assert c.kind == "answer" and "打好蓝天保卫战" in c.text


def test_what_a_programme_is_to_become_is_read_as_its_aim(engine: Engine) -> None:
    a = engine.ask("产城融合示范区要打造成啥样？")
    assert "打造对接京津冀协同发展先行区、鲁北智慧活力新城区、新能源新材料产业示范基地" in a.text


@pytest.mark.parametrize("question, n", [("第二个方面主要讲啥", 2), ("八个方面里头头一个是聚焦啥的", 1),
                                         ("最后一个方面讲的啥", 8)])
def test_the_nth_part_of_the_report_is_answered_from_its_outline(engine: Engine, question: str, n: int) -> None:
    a = engine.ask(question)
    heading = engine.outline.headings[a.citations[0].passage.citation.doc_id][n - 1][1]
    assert a.kind == "answer" and a.parts[0].text == heading and a.citations[0].passage.id.endswith("/h")
    # a figure inside a part is a question for retrieval
    assert engine.ask("第六个方面里新建多少所公办幼儿园").parts[0].text != heading


def test_the_topic_probe_can_vouch_for_a_question_never_veto_one() -> None:
    """Unit test of the decision's shape (a fake probe): covered when the plain fit or the fit with the topic
    score says so."""
    import numpy as np

    from dzqa.answer import FEATURES, TOPIC_LIMIT, RelevanceModel, TopicProbe

    probe = TopicProbe(np.zeros(2, dtype=np.float32), np.array([100.0, 0.0], dtype=np.float32), 0.0)
    assert probe(np.array([1.0, 0.0])) == TOPIC_LIMIT and probe(np.array([-1.0, 0.0])) == -TOPIC_LIMIT
    topic_only = tuple(1.0 if f == "topic" else 0.0 for f in FEATURES)
    dense_only = tuple(10.0 if f == "dense_cjk" else 0.0 for f in FEATURES)
    model = RelevanceModel(topic_only, 0.0, probe=probe, plain=(dense_only, -5.0))
    assert model({"topic": 5.0, "dense_cjk": 0.0}) > 0.99  # the probe vouches
    assert model({"topic": -5.0, "dense_cjk": 0.9}) > 0.98  # the plain fit accepts: no veto
    assert model({"topic": -5.0, "dense_cjk": 0.2}) < 0.05


def test_the_shipped_relevance_model_has_its_topic_probe(engine: Engine) -> None:
    model = engine.relevance
    assert model is not None and model.probe is not None and model.plain is not None
    assert len(model.probe.weights) == engine.index.dim
    # colloquial questions the retrieval signals alone doubted; errands and trivia stay refused
    assert engine.ask("村里的路坑坑洼洼的，今年乡下的路打算修多少？").found
    for q in ("德州扒鸡哪家的最正宗啊？", "医保卡丢了咋补办啊，要带啥材料？", "红烧肉怎么做才不腻？"):
        assert engine.ask(q).kind == "refusal", q


def test_another_city_named_in_english_gets_the_partial_reply(engine: Engine) -> None:
    a = engine.ask("What is Jinan's GDP growth target for 2021?")
    assert a.kind == "partial" and a.text.startswith(PARTIAL_PLACE.format(home="德州市", place="济南"))
    assert engine.read("how do dezhou and jinan cooperate").other_places == ()


def test_a_detail_asked_after_an_answer_is_a_partial_quoting_that_answer(engine: Engine) -> None:
    """"这个中心在哪办公？" after the question that found the centre: the report gives no address, so the reply
    says so and quotes what it says about the topic, cited."""
    history = ["政府为啥要大力发展物流？", "要成立什么机构来管？"]
    a = engine.ask("这个中心在哪办公？", history=history)
    assert a.kind == "partial" and a.citations and a.text.startswith(PARTIAL_DETAIL.format(what="具体的地点或地址"))
    assert a.text.endswith(PARTIAL_CLOSING.format(what="具体的地点或地址", hotline="12345"))


@pytest.mark.parametrize("question, kind", [
    ("四区同城里的四区是哪四个区？", "partial"),  # the report names 四区 without them
    ("德州高新区一区多园都有哪几个园？", "partial"),
    ("产城融合示范区要打造成哪三个定位？", "answer"),  # 先行区、新城区、示范基地
])
def test_a_which_question_is_answered_only_with_the_items_it_asks_for(engine: Engine, question: str,
                                                                       kind: str) -> None:
    assert engine.ask(question).kind == kind


def test_a_story_year_is_not_the_year_asked(engine: Engine) -> None:
    a = engine.ask("孩子明年要上幼儿园了，听说今年要新盖一批公办的，到底盖多少所？")
    assert a.kind == "answer" and "38所" in a.text


def test_fitting_the_relevance_model_gives_weights_a_probe_and_a_held_out_estimate(engine: Engine) -> None:
    """`dzqa eval --fit`'s fit, on one fitting set: both fits, the probe over the model's dimensions, and a
    cross-validated estimate (probe and weights refitted in every fold); the result loads as a model."""
    from pathlib import Path

    from dzqa.answer import FEATURES, RelevanceModel, TopicProbe
    from dzqa.evaluate import evaluate, fit_relevance, load_questions

    items = load_questions(Path(__file__).parent / "data" / "fit-citizens.jsonl")
    fitted = fit_relevance(evaluate(engine, items), engine.encoder.encode)
    assert fitted["features"] == list(FEATURES) and len(fitted["weights"]) == len(FEATURES)
    assert len(fitted["plain"]["weights"]) == len(FEATURES) and fitted["plain"]["weights"][-1] == 0.0  # no topic
    probe = TopicProbe.from_json(fitted["probe"])
    assert len(probe.weights) == engine.index.dim
    cv = fitted["cross_validated"]
    assert 0.8 <= cv["covered_kept"] <= 1.0 and 0.6 <= cv["refusals_refused"] <= 1.0
    model = RelevanceModel(tuple(fitted["weights"]), fitted["bias"], probe=probe,
                           plain=(tuple(fitted["plain"]["weights"]), fitted["plain"]["bias"]))
    assert engine.ask("今年要新建多少所公办幼儿园？").found and 0.0 <= model(engine.ask("红烧肉怎么做").signals) <= 1.0


def test_which_part_of_the_report_an_answer_stands_in(engine: Engine) -> None:
    a = engine.ask("这个属于哪块工作？", history=["城乡融合试验区是咋回事？"])
    assert a.kind == "answer" and a.parts[0].text == "聚焦乡村振兴战略 坚定不移优先发展农业农村"
    assert "全面深化农村各项改革" in a.text  # the sentence opening the paragraph names its topic
    assert all(p.text in a.citations[p.citation - 1].passage.text for p in a.parts)
    # a part named by the question itself is a question of its own, not about the previous answer
    b = engine.ask("改革开放那部分标题是啥", history=["城乡融合试验区是咋回事？"])
    assert "聚焦乡村振兴战略" not in b.text


@pytest.mark.parametrize("question", ["这个报告是谁念的？哪天开的会呀", "人代会 召开日期", "这个报告是在哪个会上作的？",
                                      "Who delivered the government work report, and on what date?"])
def test_who_delivered_the_report_when_and_where_is_the_sentence_naming_it(engine: Engine, question: str) -> None:
    a = engine.ask(question)
    assert a.kind == "answer" and "杨洪涛代表市政府" in a.text and "1月23日" in a.text
    assert a.parts[0].text in a.citations[0].passage.text


def test_a_follow_up_asking_who_delivered_it_and_questions_on_other_meetings(engine: Engine) -> None:
    assert "杨洪涛" in engine.ask("谁作的", history=["这个报告是在哪个会上作的？"]).text
    assert "杨洪涛" not in engine.ask("德州要办什么会展").text  # 会展 is no meeting
    assert "杨洪涛" not in engine.ask("新医院什么时候开").text


def test_how_the_report_ends_or_opens_is_its_last_or_first_paragraph(engine: Engine) -> None:
    """"报告最后是怎么收尾的" quotes the closing paragraph; "开头第一句话说的什么" the opening one; a topic of its last part
    ("最后讲教育时说了哪些学校") is retrieval's question, and "最后一个呢" after a list is still the last item."""
    end = engine.ask("报告最后是怎么收尾的")
    assert end.kind == "answer" and end.text.endswith("始终坚守清正廉洁。[1]")
    assert end.citations[0].passage.citation.paragraph_id == engine.index.passages[-1].citation.paragraph_id
    start = engine.ask("报告开头第一句话说的什么")
    assert start.kind == "answer" and start.text.startswith("报告中强调,做好今年政府工作[1]")
    assert "始终坚守清正廉洁" not in engine.ask("报告最后讲教育时说了哪些学校").text
    assert engine.ask("最后一个呢", history=["重点抓几个方面？"]).parts[0].text == "聚焦为民服务宗旨 坚定不移完善治理体系"


def test_an_item_pointed_at_by_its_place_is_taken_from_the_previous_list(engine: Engine) -> None:
    """"第一个是啥" after "重点抓几个方面" is the first of the parts the report counted; "最后一个呢" after it still
    counts in that list; "第二个呢" after a list of quotes is the second quote."""
    turns = ["重点抓几个方面？", "第一个是啥"]
    first = engine.ask(turns[1], history=turns[:1])
    assert first.parts[0].text == "聚焦新旧动能转换 坚定不移加快型工业化强市建设"
    last = engine.ask("最后一个呢", history=turns)
    assert last.parts[0].text == "聚焦为民服务宗旨 坚定不移完善治理体系"
    second = engine.ask("第二个呢", history=["平安德州建设要在哪几件事上毫不放松？"])
    assert second.text == "毫不放松抓好经济安全运行。[1]"


def test_a_list_written_as_long_sentences_opening_alike_is_quoted_whole(engine: Engine) -> None:
    """The three battles open three long sentences across two passages of one paragraph: each is an item."""
    a = engine.ask("污染防治攻坚战要打哪几场保卫战？")
    assert all(w in a.text for w in ("打好蓝天保卫战", "打好碧水保卫战", "打好净土保卫战"))
    assert a.text.index("蓝天") < a.text.index("碧水") < a.text.index("净土")  # the report's order


def test_questions_that_only_look_like_questions_about_the_report_are_not(engine: Engine) -> None:
    """为什么会, the verb 会 (will), a plan someone made, a date asked of what the report names: not its delivery."""
    for q in ("GDP为什么会下降", "高铁会在什么时候通车", "运动会什么时候开", "这个规划是谁做的", "报告中谁负责城管",
              "who made the plan", "报告里说的东部医疗中心什么时候开"):
        assert "杨洪涛" not in engine.ask(q).text, q
    assert "杨洪涛" not in engine.ask("谁做的", history=["城乡融合试验区是咋回事"]).text


def test_a_place_in_a_list_of_figures_and_the_report_s_own_parts(engine: Engine) -> None:
    """"第二个方面讲的啥" after a list of figures is the report's second part, not the second figure; "第0个" is
    nothing."""
    a = engine.ask("第二个方面讲的啥", history=["今年有哪些主要预期目标"])
    assert a.parts and a.parts[0].text == "聚焦融入新发展格局 坚定不移深化改革开放"
    assert engine.ask("第0个呢", history=["平安德州建设要在哪几件事上毫不放松？"]).text != "毫不放松抓好社会安全稳定。[1]"


def test_what_else_starts_with_what_lies_between_the_quotes(engine: Engine) -> None:
    """The answer quotes by score: "还有呢" gives the units it skipped between its quotes first, in order."""
    first = engine.ask("德州今年物流有啥打算")
    more = engine.ask("还有呢？", history=["德州今年物流有啥打算"])
    assert more.kind == "answer" and not {p.text for p in more.parts} & {p.text for p in first.parts}
    assert "高质量编制现代物流业五年发展规划" in more.text


def test_the_sentence_naming_the_session_carries_no_topic_s_date(engine: Engine) -> None:
    """"1月23日" is the meeting's date: a topic's year or date is not in it, a follow-up on the meeting's is."""
    a = engine.ask("德州哪年能实现碳达峰？")
    assert a.kind == "partial" and "杨洪涛" not in a.text
    b = engine.ask("哪天？", history=["这个报告是在哪个会上作的？", "谁作的"])
    assert b.kind == "answer" and "1月23日" in b.text
    assert engine.ask("会一共开了几天？", history=["这个报告是在哪个会上作的？"]).kind != "answer"


def test_an_amount_asked_needs_a_figure_on_its_topic(engine: Engine) -> None:
    """多少/几/百分之几 ask a figure: the sentence naming the topic without one ("外贸进出口、利用外资稳中提质") is a partial
    saying the report gives no figure, never another target's figure from the same list; a target asked without an
    amount word (有什么目标) is answered by that sentence."""
    a = engine.ask("外贸进出口今年要增长百分之几？")
    assert a.kind == "partial" and "具体数字" in a.preface and "外贸进出口、利用外资稳中提质" in a.text
    assert "%" not in a.text.replace(a.preface, "")
    b = engine.ask("外贸进出口和利用外资今年有什么目标？")
    assert b.kind == "answer" and "稳中提质" in b.text
    c = engine.ask("今年新建扩建多少所公办幼儿园？")
    assert c.kind == "answer" and "38所" in c.text
