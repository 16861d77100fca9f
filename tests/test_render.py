"""The chat's reply HTML for every kind of answer (Answer objects built by hand: no engine needed)."""

from __future__ import annotations

import re

from dzqa.types import Answer, AnswerPart, Citation, Hit, Passage
from dzqa.web.render import answer_html, source_word


def hit(pid: str, text: str, doc_title: str = "2021年德州市政府工作报告", doc_id: str = "2021") -> Hit:
    c = Citation(doc_id=doc_id, doc_title=doc_title, section_id=f"{doc_id}/s6", section="第六部分 民生",
                 paragraph_id=pid, paragraph_number=2, start=0, end=len(text), year=int(doc_id[:4]), place="德州市")
    return Hit(passage=Passage(id=pid, text=text, context="", citation=c), score=1.0, dense=0.9, keyword=1.0)


TICKET = "报告没有提到具体票价。报告中相关的内容是："
CLOSING = "具体票价请拨打 12345 咨询。"


def partial() -> Answer:
    parts = (AnswerPart("推进德州东站综合交通枢纽建设。", 1),
             AnswerPart("继续实施老年人乘车优惠。", 2, doc_label="《2022年国务院政府工作报告》："))
    cites = (hit("2021/s3/p4", "推进德州东站综合交通枢纽建设。加快高铁建设。"),
             hit("2022/s2/p1", "继续实施老年人乘车优惠。", doc_title="2022年国务院政府工作报告", doc_id="2022"))
    return Answer(question="公交票价多少？", text="推进德州东站综合交通枢纽建设。[1]继续实施老年人乘车优惠。[2]",
                  found=False, kind="partial", citations=cites, parts=parts, preface=TICKET, closing=CLOSING)


def tags(html: str) -> list[str]:
    return re.findall(r"<(/?[a-z]+)", html)


def test_partial_answer_is_marked_and_quotes_like_an_answer() -> None:
    html = answer_html(partial(), hotline="12345", source="报告摘要")
    assert 'class="dz-reply dz-partial"' in html and '<p class="dz-badge">部分回答</p>' in html
    # preface, then the quotes with their markers, then the closing: in that order
    i_pre, i_q1, i_q2, i_close = (html.index(x) for x in (TICKET, "推进德州东站", "继续实施老年人", "具体票价请拨打"))
    assert i_pre < i_q1 < i_q2 < i_close
    assert '<button type="button" class="dz-mark dz-m1" title="查看出处 1">[1]</button>' in html
    assert 'class="dz-mark dz-m2"' in html
    # the doc label is printed before the quote from the other report
    assert "《2022年国务院政府工作报告》：继续实施老年人乘车优惠。" in html
    # collapsible cited paragraphs, one per citation, keyed by class (Gradio strips data-*)
    assert html.count('<details class="dz-cite dz-c') == 2 and 'class="dz-cite dz-c2"' in html
    assert "在报告摘要中查看" in html and "原文" not in html
    # the closing's hotline is the reply's one tappable link; no second hotline line
    assert html.count('href="tel:12345"') == 1 and "dz-hotline" not in html
    assert html.rstrip().endswith("</div>") and html.index('href="tel:12345"') > i_q2


def test_answer_ends_with_a_tappable_hotline_link() -> None:
    ans = Answer(question="q", text="新建扩建公办幼儿园38所。[1]", found=True, kind="answer",
                 citations=(hit("2021/s6/p2", "实施教育提升工程。新建扩建公办幼儿园38所。"),),
                 parts=(AnswerPart("新建扩建公办幼儿园38所。", 1),))
    html = answer_html(ans, hotline="12345")
    said = html[:html.index('<div class="dz-sources">')]
    assert said.rstrip().endswith('政务服务便民热线。</p>') and 'href="tel:12345"' in said
    assert html.count('href="tel:12345"') == 1 and "dz-badge" not in html and "《" not in said.split("dz-text")[1][:3]


def test_refusal_and_greeting_have_one_hotline_link() -> None:
    refusal = Answer(question="天气", text="抱歉，没有找到。如需进一步咨询，请拨打 12345 政务服务便民热线。", found=False,
                     kind="refusal")
    greeting = Answer(question="你好", text="您好！请问有什么可以帮您？", found=False, kind="greeting")
    for a in (refusal, greeting):
        html = answer_html(a, hotline="12345")
        assert html.count('<a class="dz-tel" href="tel:12345">12345</a>') == 1, a.kind
        assert "dz-cite" not in html and "dz-badge" not in html


def test_visitor_and_corpus_text_stays_text() -> None:
    evil = "<img src=x onerror=alert(1)>"
    a = Answer(question=evil, text=evil, found=False, kind="partial", preface=evil, closing=evil,
               citations=(hit("2021/s6/p2", evil),), parts=(AnswerPart(evil, 1, doc_label=evil),))
    html = answer_html(a)
    assert "<img" not in html and set(tags(html)) <= {"div", "/div", "p", "/p", "button", "/button", "details",
                                                       "/details", "summary", "/summary", "span", "/span", "dl", "/dl",
                                                       "dt", "/dt", "dd", "/dd", "blockquote", "/blockquote", "a", "/a",
                                                       "mark", "/mark"}


def test_source_word_follows_the_sidecar_kind() -> None:
    assert source_word("summary") == "报告摘要"
    assert source_word(None) == source_word("full") == "报告原文"
