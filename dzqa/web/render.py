"""HTML for the chat, the desk, the report reader and the statistics — pure functions, no Gradio.

Every piece of text that comes from a visitor or from the corpus goes through :func:`esc` (or
:func:`marked`, which escapes too) before it becomes markup: a question like
``<img src=x onerror=alert(1)>`` is shown as text everywhere. Links are relative (``reader#p-…``) so
they keep working under a reverse-proxy sub-path (``DZQA_ROOT_PATH``).
"""

from __future__ import annotations

import html
from typing import Iterable, Sequence

from ..corpus import Corpus, Report
from ..feedback import Stats
from ..types import Answer, Citation, Hit, Passage, Section

#: the reader page, relative to the site root; each page passes the prefix that reaches the root
READER = "reader"


def esc(text: object) -> str:
    """Text → HTML text (quotes too, so it is safe inside attributes)."""
    return html.escape(str(text), quote=True)


def marked(text: str, needles: Iterable[str], cls: str) -> str:
    """``text`` escaped, with every occurrence of each needle wrapped in ``<mark class=cls>``.

    Longer needles win where they overlap ("农村公路" over "农村"); used for the answer clause inside its
    cited passage (chat) and for the matched terms (desk)."""
    spans: list[tuple[int, int]] = []
    for needle in sorted({n for n in needles if n}, key=len, reverse=True):
        start = text.find(needle)
        while start >= 0:
            end = start + len(needle)
            if all(end <= a or start >= b for a, b in spans):
                spans.append((start, end))
            start = text.find(needle, end)
    out, pos = [], 0
    for a, b in sorted(spans):
        out.append(esc(text[pos:a]))
        out.append(f'<mark class="{cls}">{esc(text[a:b])}</mark>')
        pos = b
    out.append(esc(text[pos:]))
    return "".join(out)


# ------------------------------------------------------------------------------------------ citations


def reader_href(citation: Citation, root: str = "") -> str:
    """Link to the cited paragraph in the reader; ``root`` reaches the site root from the page ("../")."""
    return f"{root}{READER}#{citation.anchor}"


def reply_text(passage: Passage) -> str:
    """The ready-to-read reply the hotline desk copies: "根据《…》第六部分 … 第2段：…"."""
    return f"根据{passage.citation.label()}：{passage.text}"


def source_word(kind: str | None) -> str:
    """What the pages call the text they quote: a published summary is not the report's 原文.

    ``kind`` is the sidecar's ``"kind"`` (``corpus/*.json``): "summary" for a published summary."""
    return "报告摘要" if kind == "summary" else "报告原文"


def corpus_source(corpus: Corpus) -> str:
    """:func:`source_word` of the corpus' main report (the one the pages are titled after)."""
    return source_word(corpus.reports[0].document.meta.get("kind") if corpus.reports else None)


def source_phrase(source: str) -> str:
    """The quoted text in a sentence: "公开发布的报告摘要" for a summary, "报告原文" otherwise."""
    return "公开发布的报告摘要" if source == "报告摘要" else source


def citation_block(n: int, hit: Hit, clauses: Sequence[str], root: str, *, open_: bool = False,
                   source: str = "报告原文") -> str:
    """One cited paragraph, collapsible: where it is, the quote with the answer clause marked, a link.

    Gradio's sanitiser drops ``data-*`` and ``aria-*`` but keeps classes: ``dz-c<n>`` names the block
    that the marker ``dz-m<n>`` opens (see dzqa.js)."""
    c = hit.passage.citation
    return (f'<details class="dz-cite dz-c{n}"{" open" if open_ else ""}>'
            f'<summary><span class="dz-n">[{n}]</span> {esc(c.label())}</summary>'
            f'<dl class="dz-where"><dt>文件</dt><dd>《{esc(c.doc_title)}》</dd>'
            f'<dt>部分</dt><dd>{esc(c.section)}</dd><dt>段落</dt><dd>第{c.paragraph_number}段</dd></dl>'
            f'<blockquote class="dz-quote">{marked(hit.passage.text, clauses, "dz-hl")}</blockquote>'
            f'<a class="dz-open" href="{esc(reader_href(c, root))}" target="_blank" rel="noopener">'
            f'在{esc(source)}中查看 ›</a></details>')


def tel_link(text: str, hotline: str) -> str:
    """``text`` escaped, with the first mention of the hotline number a tappable ``tel:`` link."""
    body, tel = esc(text), esc(hotline)
    return body.replace(tel, f'<a class="dz-tel" href="tel:{tel}">{tel}</a>', 1)


#: the last line of every reply that does not already name the hotline: a way forward
HOTLINE_LINE = "如需进一步咨询，请拨打 {hotline} 政务服务便民热线。"
PARTIAL_BADGE = "部分回答"
#: under an answer whose paragraphs a hotline operator linked to this question (the words are still the report's)
CURATED_BADGE = "出处经热线工作人员核对"


def marker(n: int) -> str:
    """The [n] after a quote: a real button (keyboard and mouse), opening and scrolling to block n."""
    return f'<button type="button" class="dz-mark dz-m{n}" title="查看出处 {n}">[{n}]</button>'


def answer_html(answer: Answer, root: str = "", hotline: str = "12345", source: str = "报告原文") -> str:
    """The chat's reply: the report's words with [n] markers, then the cited paragraphs; always ending
    with a tappable hotline link.

    A partial answer (the report covers the topic, not the asked detail) is marked as such: its fixed
    preface, the related quotes with their markers, its closing. ``source`` is what the quoted text is
    (:func:`source_word`)."""
    kind = answer.kind if answer.kind in ("answer", "partial", "refusal", "greeting") else "answer"
    quoted = kind in ("answer", "partial") and bool(answer.citations) and bool(answer.parts)
    said: list[str] = []  # the paragraphs a screen reader reads as the reply (class dz-said)
    last = ""
    if not quoted:
        last = answer.text
        said.append(f'<p class="dz-said dz-text">{tel_link(answer.text, hotline)}</p>')
    else:
        if kind == "partial":
            said.append(f'<p class="dz-badge">{PARTIAL_BADGE}</p>')
            if answer.preface:
                said.append(f'<p class="dz-said dz-preface">{esc(answer.preface)}</p>')
        text = "".join(f'{esc(p.doc_label)}{esc(p.text)}{marker(p.citation)}' for p in answer.parts)
        said.append(f'<p class="dz-said dz-text">{text}</p>')
        if answer.source == "curated":  # the quotes are still the report's; staff chose which paragraphs
            said.append(f'<p class="dz-badge dz-curated-badge">{CURATED_BADGE}</p>')
        if kind == "partial" and answer.closing:
            last = answer.closing
            said.append(f'<p class="dz-said dz-closing">{tel_link(answer.closing, hotline)}</p>')
    if hotline not in last:
        said.append(f'<p class="dz-said dz-hotline">{tel_link(HOTLINE_LINE.format(hotline=hotline), hotline)}</p>')
    sources = ""
    if quoted:
        blocks = "".join(citation_block(i, hit, [p.text for p in answer.parts if p.citation == i], root,
                                        source=source)
                         for i, hit in enumerate(answer.citations, 1))
        sources = (f'<div class="dz-sources"><p class="dz-sources-title">出处（点击 [n] 或下方标题展开{esc(source)}中的段落）'
                   f'</p>{blocks}</div>')
    return f'<div class="dz-reply dz-{kind}">{"".join(said)}{sources}</div>'


def question_html(question: str) -> str:
    return f'<span class="dz-q">{esc(question)}</span>'


def notice_html(text: str, kind: str = "info") -> str:
    """A short status line (feedback saved / not saved, errors) for the page's live region."""
    return f'<p class="dz-notice dz-notice-{esc(kind)}" role="status">{esc(text)}</p>'


# ----------------------------------------------------------------------------------------------- desk


def hits_html(hits: Sequence[Hit], root: str = "../", source: str = "报告原文") -> str:
    """The desk's result list: label, scores, passage with matched terms marked, copy and open buttons."""
    if not hits:
        return '<p class="dz-empty">没有找到相关段落。</p>'
    cards = []
    for i, h in enumerate(hits, 1):
        c = h.passage.citation
        cards.append(
            f'<article class="dz-hit" data-id="{esc(h.passage.id)}">'
            f'<header><span class="dz-rank">{i}</span> <span class="dz-label">{esc(c.label())}</span></header>'
            f'<p class="dz-scores">综合得分 <b>{h.score:.4f}</b> · 语义相似度 {h.dense:.3f} · 关键词 {h.keyword:.2f}'
            f' · <code>{esc(h.passage.id)}</code></p>'
            f'<p class="dz-passage">{marked(h.passage.text, h.terms, "dz-term")}</p>'
            f'<footer><button type="button" class="dz-copy" data-dz-copy="{esc(reply_text(h.passage))}">'
            f'复制答复</button> <a class="dz-open" href="{esc(reader_href(c, root))}" target="_blank" '
            f'rel="noopener">在{esc(source)}中查看 ›</a></footer></article>')
    return f'<div class="dz-hits">{"".join(cards)}</div>'


# --------------------------------------------------------------------------------------------- reader


def section_html(report: Report, section: Section) -> str:
    """One section of the report; every paragraph carries its anchor id (``p-2021-s6-p2``)."""
    paras = "".join(
        f'<p class="dz-para" id="{esc(p.anchor)}"><a class="dz-pnum" href="#{esc(p.anchor)}" '
        f'title="{esc(p.id)}">第{p.number}段</a>{esc(p.text)}</p>'
        for p in report.paragraphs if p.section_key == section.key)
    return (f'<section class="dz-section" id="s-{esc(section.id.replace("/", "-"))}">'
            # the heading is citable too (a numbered section's heading is a passage: 2021/s6/h → #p-2021-s6-h)
            f'<h2 id="p-{esc(section.id.replace("/", "-"))}-h">{esc(section.label)}</h2>{paras}</section>')


def reader_page(corpus: Corpus, css: str, title: str | None = None) -> str:
    """Every report of the corpus as one static page, each with its own table of contents (works without
    JavaScript; anchors land on paragraphs). ``title``: the corpus title (:func:`dzqa.corpus.corpus_title`);
    several documents get a list of them at the top."""
    parts = []
    for report in corpus.reports:
        doc = report.document
        toc = "".join(f'<li{" class=dz-sub" if s.parent else ""}><a href="#s-{esc(s.id.replace("/", "-"))}">'
                      f'{esc(s.label)}</a></li>' for s in report.sections)
        body = "".join(section_html(report, s) for s in report.sections)
        parts.append(f'<article class="dz-doc" id="d-{esc(doc.id)}"><h1>{esc(doc.title)}</h1>'
                     f'<nav class="dz-toc" aria-label="目录：{esc(doc.title)}"><ol>{toc}</ol></nav>{body}</article>')
    if len(corpus.reports) > 1:
        docs = "".join(f'<li><a href="#d-{esc(r.document.id)}">{esc(r.document.title)}</a></li>'
                       for r in corpus.reports)
        parts.insert(0, f'<nav class="dz-docs" aria-label="报告列表"><h1>{esc(title or "")}</h1><ol>{docs}</ol></nav>')
    source = corpus_source(corpus)
    if title is None:
        title = corpus.reports[0].document.title if len(corpus.reports) == 1 else source
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{esc(title)} · {esc(source)}</title><style>{css}</style></head>'
            f'<body class="dz-reader"><header class="dz-reader-bar"><a href="./">← 返回问答</a>'
            f'<span>{esc(source_phrase(source))} · 每段均可引用</span></header><main>{"".join(parts)}</main></body></html>')


# ---------------------------------------------------------------------------------------------- stats


def _table(caption: str, headers: Sequence[str], rows: Iterable[Sequence[object]], cls: str) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in rows)
    body = body or f'<tr><td colspan="{len(headers)}" class="dz-empty">暂无记录</td></tr>'
    return (f'<table class="dz-table {cls}"><caption>{esc(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


#: words, not emoji, on the pages: a desk PC without an emoji font would show empty boxes
RATING_WORDS = {"up": "好评（赞）", "down": "差评（踩）"}


def short_time(iso: str) -> str:
    """'2021-03-01T09:30:12+08:00' → '2021-03-01 09:30'."""
    return iso[:16].replace("T", " ")


def stats_html(s: Stats) -> str:
    """The desk's statistics: questions per day, most asked, refused questions, 👎 with reasons."""
    peak = max((n for _, n, _ in s.per_day), default=0) or 1
    per_day = "".join(
        f'<tr><td>{esc(d)}</td><td class="dz-bar"><span style="width:{round(100 * n / peak)}%"></span>'
        f"</td><td>{n}</td><td>{r}</td></tr>" for d, n, r in s.per_day)
    per_day = per_day or '<tr><td colspan="4" class="dz-empty">暂无记录</td></tr>'
    ratings = " · ".join(f"{esc(RATING_WORDS.get(r, r))} {n}" for r, n in s.ratings) or "暂无"
    return (f'<div class="dz-stats"><p class="dz-summary">最近 {s.days} 天：提问 <b>{s.total_questions}</b> 次，'
            f"其中报告未涉及（已拒答） <b>{s.total_refused}</b> 次；评价 {ratings}</p>"
            f'<table class="dz-table dz-per-day"><caption>每日提问数</caption><thead><tr><th>日期</th><th></th>'
            f"<th>提问</th><th>拒答</th></tr></thead><tbody>{per_day}</tbody></table>"
            + _table("最常问的问题", ("问题", "次数"), s.most_asked, "dz-most")
            + _table("报告未涉及的问题（已拒答）", ("问题", "次数", "最近一次"),
                     ((q, n, short_time(t)) for q, n, t in s.refused), "dz-refused")
            + _table("差评的原因", ("原因", "次数"), s.reasons, "dz-reasons")
            + _table("最近的差评", ("时间", "问题", "原因", "回答"),
                     ((short_time(t), q, r, a) for t, q, r, a in s.dislikes), "dz-dislikes")
            + "</div>")


# ------------------------------------------------------------------------------------ curated (纠错)

REVIEW_WHY = {"refusal": "拒答", "partial": "部分回答", "down": "差评"}


def _why(reasons: dict[str, int]) -> str:
    words = []
    for key, n in reasons.items():
        kind, _, reason = key.partition(":")
        words.append(f"{REVIEW_WHY.get(kind, kind)}{'（' + reason + '）' if reason else ''} ×{n}")
    return "，".join(words)


def _linked(link: dict | None) -> str:
    if not link:
        return "未纠错"
    return "已标记：报告未涉及" if link.get("covered") is False else "已关联 " + "、".join(link.get("passages", []))


def review_html(queue: Sequence[dict]) -> str:
    """The review queue: refused, partial and disliked questions grouped by wording, most frequent first."""
    return _table("待审核的问题（拒答、部分回答、差评，按出现次数）", ("问题", "次数", "最近一次", "原因", "当时的回答与引用", "纠错"),
                  ((q["question"], q["count"], short_time(q["last"]), _why(q["reasons"]),
                    (q.get("answer") or "") + (" 〔" + "、".join(q["citations"]) + "〕" if q.get("citations") else ""),
                    _linked(q.get("link"))) for q in queue), "dz-review")


def curated_html(links: Sequence[dict], stale: Sequence[dict]) -> str:
    """The curated links with their hit counts, and the stale ones (passages gone after a corpus change)."""
    out = _table("已保存的纠错", ("问题", "关联段落", "使用次数", "修改人", "更新时间"),
                 ((x["question"], _linked(x), x.get("hits", 0), x.get("author", ""), short_time(x.get("updated_at", "")))
                  for x in links), "dz-curated")
    if stale:
        out += _table("失效的纠错（段落已不存在，不会使用，请修改或删除）", ("问题", "原关联段落", "问题说明"),
                      ((x["question"], "、".join(x["passages"]), x["problem"]) for x in stale), "dz-stale")
    return out


def pick_label(hit: Hit) -> str:
    """A search hit as a choice of the 纠错 form: its id and the start of its text (plain text: Gradio
    shows choices as text, never as HTML)."""
    text = hit.passage.text
    return f"{hit.passage.id} · {text[:60]}{'…' if len(text) > 60 else ''}"
