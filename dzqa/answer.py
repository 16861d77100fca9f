"""Stage 6: compose an extractive answer from the retrieved passages: answer, partial or refusal.

Entry point: :func:`compose`. Every quoted part is a verbatim sentence, clause or heading of the report;
the only other words are fixed sentences (the refusal, and the preface and closing of a partial reply).

* **refusal** — the relevance model (a logistic model over retrieval signals, fitted with
  ``dzqa eval --fit``) says the report does not cover the question, or the question tries to instruct the
  assistant;
* **partial** — the report covers the topic but not what was asked: a detail no candidate sentence carries
  (a price, a phone number, a date, an address, a person), another place than the report's city, a year
  the corpus has no report for. The reply says so in a fixed sentence, then quotes what the report does say;
* **answer** — the unit that best carries the asked type (a number for a quantity, the enumeration for a
  list, the purpose clause for a why-question, the section headings for "哪八个方面"), each followed by
  its citation marker ``[n]``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any, Collection, Iterable, Sequence

import numpy as np

from .index import Index
from .passages import LEAD_MAX, Unit, delivery_marks, heading_id, quote
from .question import ASK_PATTERNS, DETAIL_WORDS, WHAT_IS, Reading, carries
from .retrieve import Query, Retrieval, held
from .text import match, years
from .types import Answer, AnswerPart, Hit, Passage

REFUSAL = "抱歉，政府工作报告中没有找到与您的问题相关的内容。如需进一步咨询，请拨打 {hotline} 政务服务便民热线。"
GREETING_REPLY = ("您好！我可以回答关于《{title}》的问题，例如今年的发展目标、教育、医疗、交通、乡村振兴等方面的"
                  "安排。请直接输入您的问题。")
THANKS_REPLY = "不客气！还有其他关于政府工作报告的问题，欢迎继续提问。"
BYE_REPLY = "再见！如需进一步咨询，也可以拨打 {hotline} 政务服务便民热线。"
#: the fixed sentences of a partial reply (slots: a word from DETAIL_WORDS, a recognised place name, a year)
PARTIAL_DETAIL = "报告没有提到{what}。报告中相关的内容是："
PARTIAL_PLACE = "这份报告是{home}的政府工作报告，没有提到{place}的情况。报告中{home}的相关内容是："
PARTIAL_YEAR = "报告中没有{year}年的内容（现有的是{have}年的报告）。报告中相关的内容是："
PARTIAL_CLOSING = "如需了解{what}，请拨打 {hotline} 政务服务便民热线咨询。"
PARTIAL_WHAT = "具体情况"
LIST_DETAIL = "具体包括哪些"

_GREETING = re.compile(r"^(你好|您好|嗨|哈喽|hello|hi|hey|早上好|上午好|下午好|晚上好|在吗|在不在|有人吗)+[啊呀呢吗!~ ]*$")
_THANKS = re.compile(r"^(谢谢|多谢|感谢|谢了|thanks|thank you|thx|好的|好|明白了|知道了|ok|okay)+[啊呀你您了!~ ]*$")
_BYE = re.compile(r"^(再见|拜拜|bye|goodbye|bye bye)+[啊呀了!~ ]*$")
_NUMBER = re.compile(r"\d|[一二三四五六七八九十两百千万]+[个所条项家人大类]")
#: a figure a quantity question asks for: a number that is no year ("1万亿元", "6.5%", "八个"; not "2024年")
_FIGURE = re.compile(r"(?<![\d.])(?!(?:19|20)\d\d年)\d+(?:\.\d+)?(?![\d.])|[一二三四五六七八九十两百千万]+[个所条项家人大类]")
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[a-z]{2,}")
#: a unit announcing a list of N parts ("重点抓好八个方面:")
_ANNOUNCES = re.compile(r"([一二三四五六七八九十]+|\d+)个方面[:：]?$")
#: a clause saying what something is for ("倒逼生产生活方式转变", "真正把…转化为…"); the weaker openings
#: (推动, 提升…) also open ordinary measures, so a clause with a strong one is preferred
_PURPOSE = re.compile(r"^(倒逼|真正|为了|以便|确保|旨在|进而|从而|以此|使|让|助力|(专项|主要|重点)?用于)")
_PURPOSE_WEAK = re.compile(r"^(努力|实现|推动|促进|提升|打造|形成)")
_CN = {c: i for i, c in enumerate("零一二三四五六七八九")}

# evidence a unit carries the answer: dense similarity, share of the question's words, a number when a
# quantity is asked, the rank of its passage; minus a penalty when it only restates the question
W_DENSE, W_LEXICAL, W_NUMBER, W_RANK, W_RESTATE = 1.0, 0.35, 0.05, 0.03, 0.06
#: a unit phrased as a target (左右, 以上) when a year's target is asked, less when what it achieved is asked;
#: less for a unit of several years (年均) either way
W_TENSE = 0.08
_TARGET_UNIT = re.compile(r"左右|以上|以内|预期|目标|力争|[^\d]拟")
_SPAN_UNIT = re.compile(r"年均|五年|累计")
#: a further unit is added when it scores within this margin of the best one
EXTRA_MARGIN = 0.04
#: a unit carrying the asked detail type is chosen over the best unit when it scores within this margin
DETAIL_MARGIN = 0.06
#: a unit with the figure a quantity question asks for is chosen over a best unit without one within this margin
FIGURE_MARGIN = 0.15
#: … when it holds at least this share of the question's words the best unit holds (the same topic)
FIGURE_TOPIC_SHARE = 0.4
#: a question asking an amount outright (多少, 几个, 多大; not 这么多高铁, 那几条, 哪几个, nor a bare 目标是啥)
_AMOUNT_ASKED = re.compile(r"多少|(?<![那这哪近前])几(?!乎|何)|(?<![么很好太许诸众较更])多(大|高|长|远|重|快)(?!好省)|百分之几|"
                           r"how (many|much)", re.I)
#: a key word of an amount asked weighs at least this share of the rarest word's idf (in a few passages only)
KEY_RARITY = 0.7
#: another report's figure answers an amount asked only in a clause holding this share of the topic's words
STATED_SHARE = 0.5
#: what a partial reply says the report does not give when no unit on the topic has a figure
FIGURE_DETAIL = "具体数字"
#: a list question quotes at most this many parallel items (eight section headings come on top)
MAX_LIST_UNITS = 10
#: sentences opening with the same this many characters are parallel items of one list (始终…, 毫不放松…)
PARALLEL_HEAD = 2
#: per enumerated item (、), when choosing the enumeration a which-question asks for
LIST_ITEM_BONUS = 0.01
#: share of a unit's own words the question lacks, below which the unit just restates the question
RESTATE_NOVELTY = 0.34

#: what the relevance model reads, in order (see :func:`signals`)
FEATURES = ("dense_cjk", "dense_latin", "coverage_cjk", "cjk", "gap", "keyword", "agree", "unknown", "latin",
            "topic")
#: the topic probe's score is a logit; bounded so that one odd vector cannot outvote every other signal
TOPIC_LIMIT = 8.0


@dataclass(frozen=True)
class TopicProbe:
    """A linear model over the question's own embedding: how much it reads like the questions people ask about
    a work report (goals, schools, roads, jobs…) rather than about daily errands, trivia or chit-chat. The
    retrieval signals say how close the best passage is; this says what kind of question it is — colloquial
    wording ("乡下的路打算修多少") lowers the first, not the second. Fitted with the relevance model."""

    mean: np.ndarray = field(repr=False, compare=False)
    weights: np.ndarray = field(repr=False, compare=False)
    bias: float = 0.0

    def __call__(self, vector: np.ndarray) -> float:
        x = float((np.asarray(vector, dtype=np.float32) - self.mean) @ self.weights) + self.bias
        return max(-TOPIC_LIMIT, min(TOPIC_LIMIT, x)) if math.isfinite(x) else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"mean": [round(float(x), 6) for x in self.mean],
                "weights": [round(float(x), 5) for x in self.weights], "bias": round(float(self.bias), 5)}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "TopicProbe":
        return cls(np.asarray(obj["mean"], dtype=np.float32), np.asarray(obj["weights"], dtype=np.float32),
                   float(obj["bias"]))


@dataclass(frozen=True)
class RelevanceModel:
    """A logistic model of "the report covers this question" over :data:`FEATURES`.

    With a topic probe there are two fits: ``plain`` over the retrieval signals alone and ``weights`` with the
    probe's ``topic`` score too. The question is covered when either says so: the probe can vouch for a
    colloquial question the retrieval signals doubt ("乡下的路打算修多少" shares no word with 农村公路), never veto
    one they accept (a detail asked of a report topic — "哪天通车，票多少钱" — reads like an errand to it)."""

    weights: tuple[float, ...]
    bias: float
    fitted_on: str = ""
    probe: TopicProbe | None = None
    plain: tuple[tuple[float, ...], float] | None = None  # (weights, bias) of the fit without ``topic``

    def __call__(self, sig: dict[str, float]) -> float:
        if self.probe is None:  # no probe: the fit without it when there is one
            return _logit(*self.plain, sig) if self.plain is not None else _logit(self.weights, self.bias, sig)
        full = _logit(self.weights, self.bias, sig)
        return full if self.plain is None else max(full, _logit(*self.plain, sig))

    @classmethod
    def parse(cls, text: str) -> "RelevanceModel":
        """``DZQA_RELEVANCE_WEIGHTS``: one weight per feature, then the bias, comma separated."""
        values = [float(x) for x in text.split(",")]
        if len(values) != len(FEATURES) + 1:
            raise ValueError(f"needs {len(FEATURES) + 1} numbers: {', '.join(FEATURES)}, bias")
        return cls(tuple(values[:-1]), values[-1], "DZQA_RELEVANCE_WEIGHTS")


def _logit(weights: Sequence[float], bias: float, sig: dict[str, float]) -> float:
    x = bias + sum(w * sig.get(f, 0.0) for w, f in zip(weights, FEATURES))
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


def fitted_models() -> dict[str, dict]:
    """The relevance models fitted per embedding-model identity (``dzqa/relevance.json``)."""
    return json.loads(resources.files("dzqa").joinpath("relevance.json").read_text(encoding="utf-8"))


def relevance_model(model_name: str, override: RelevanceModel | None = None) -> RelevanceModel | None:
    """The model for this embedding model: the override (``DZQA_RELEVANCE_WEIGHTS``) with the probe fitted for
    the model (an override has weights only), else the fitted one; None when neither exists."""
    fitted = _fitted(model_name)
    if override is not None:
        return replace(override, probe=fitted.probe if fitted else None)
    return fitted


def _fitted(model_name: str) -> RelevanceModel | None:
    entry = fitted_models().get(model_name)
    if not entry or list(entry.get("features", [])) != list(FEATURES):
        return None
    probe = TopicProbe.from_json(entry["probe"]) if entry.get("probe") else None
    plain = (tuple(entry["plain"]["weights"]), float(entry["plain"]["bias"])) if entry.get("plain") else None
    return RelevanceModel(tuple(entry["weights"]), float(entry["bias"]), str(entry.get("fitted_on", "")),
                          probe, plain)


def small_talk(normalized: str, title: str, hotline: str) -> str | None:
    """A short reply to a greeting, thanks or goodbye; None for anything else."""
    text = normalized.strip()
    if len(text) > 20:
        return None
    if _GREETING.match(text):
        return GREETING_REPLY.format(title=title)
    if _THANKS.match(text):
        return THANKS_REPLY
    if _BYE.match(text):
        return BYE_REPLY.format(hotline=hotline)
    return None


def refusal(question: str, hotline: str, *, query: str = "", relevance: float = 0.0,
            signals: dict[str, float] | None = None) -> Answer:
    return Answer(question=question, text=REFUSAL.format(hotline=hotline), found=False, kind="refusal",
                  relevance=relevance, query=query, signals=signals or {})


def states_asked(answer: Answer, reading: Reading, words: Collection[str]) -> bool:
    """Whether the answer's quotes state what a quantity question asks for: a clause with a figure and one of the
    question's topic ``words``, in a quoted sentence holding at least half of them (none given: any figure).
    "…纳入医保报销范围，住院费用跨省直接结算率达到60%" and "居民医保人均财政补助标准提高30元" state no 门诊医保报销比例."""
    if reading.asks != "quantity":
        return True

    def states(text: str) -> bool:
        return any(_FIGURE.search(c) and (not words or any(w in c for w in words)) for c in re.split("[,，;；。]", text))

    texts = [p.text.lower() for p in answer.parts]
    return any(states(t) and (not words or sum(w in t for w in words) >= STATED_SHARE * len(words)) for t in texts)


def signals(retrieval: Retrieval, query: Query, index: Index, probe: TopicProbe | None = None) -> dict[str, float]:
    """What the relevance model looks at (also what ``dzqa eval --fit`` fits it on); ``topic`` is the probe's
    reading of the question vector (0 without a probe)."""
    cjk = 1.0 if _CJK.search(query.text) else 0.0
    # words weigh, and are known or not, as in the report of the best hit (as if it were the only one)
    doc = retrieval.hits[0].passage.citation.doc_id if retrieval.hits else None
    weights = index.weights(query.all_tokens, doc)
    total = sum(weights.values())
    unknown = sum(w for t, w in weights.items() if not index.knows(t, doc)) / total if total else 1.0
    latin = len(_LATIN_WORD.findall(query.text))
    # the cosine means something else for an English question (the report is Chinese): two features
    return {"dense": retrieval.dense_best, "dense_cjk": retrieval.dense_best * cjk,
            "dense_latin": retrieval.dense_best * (1.0 - cjk), "coverage_cjk": retrieval.coverage * cjk, "cjk": cjk,
            "gap": retrieval.dense_gap, "keyword": retrieval.keyword_best / (1.0 + retrieval.keyword_best),
            "agree": 1.0 if retrieval.agree else 0.0, "unknown": unknown * cjk,
            "latin": min(latin, 8) / 8.0 * (1.0 - cjk),
            "topic": probe(query.vector) if probe is not None else 0.0}


@dataclass(frozen=True)
class Outline:
    """What compose needs of the corpus beyond the index: each document's numbered section headings
    (id, heading), its title and place, and the years the corpus has reports for."""

    headings: dict[str, tuple[tuple[str, str], ...]]
    titles: dict[str, str]
    home: str
    report_years: frozenset[str]
    #: per document, what its sidecar says of the delivery (speaker, occasion, date as the text writes it)
    delivery: dict[str, tuple[str, ...]] = field(default_factory=dict)


def compose(question: str, reading: Reading, query: Query, retrieval: Retrieval, index: Index,
            outline: Outline, *, hotline: str, model: RelevanceModel | None, min_relevance: float,
            max_units: int, max_passages: int = 3, in_scope: bool = False,
            missing_years: frozenset[str] | None = None, have_years: frozenset[str] | None = None) -> Answer:
    """The answer for ``question`` from ``retrieval``. ``in_scope``: the caller already knows the topic is
    covered (a follow-up about the previous answer). ``missing_years``: years asked for that the asked
    place has no report of (the engine knows the place; without it, the corpus's years decide)."""
    sig = signals(retrieval, query, index, model.probe if model is not None else None)
    rel = 1.0 if in_scope else (model(sig) if model is not None else sig["dense"])
    hits = retrieval.hits[:max_passages]
    if reading.asks == "list":
        hits = _with_section_body(hits, index)
    if reading.injection or not hits or rel < min_relevance:
        return refusal(question, hotline, query=query.text, relevance=rel, signals=sig)
    scored = _score_units(query, reading, hits, index)
    if not scored:
        return refusal(question, hotline, query=query.text, relevance=rel, signals=sig)

    preface = closing = ""
    what = PARTIAL_WHAT
    have = have_years if have_years is not None else outline.report_years
    asked_years = missing_years if missing_years is not None else \
        years_asked(reading, have) - have
    if asked_years:
        preface = PARTIAL_YEAR.format(year=year_span(asked_years), have="、".join(sorted(have)))
    best = scored[0]
    described = False  # a term asked about is described by the rest of its sentence
    for detail in reading.details:  # each detail asked for must be carried by a sentence close to the best
        # a subsidy is one of the asked thing: only the best sentence can say so (not another topic's 补贴性培训)
        margin = 0.0 if detail == "subsidy" else DETAIL_MARGIN
        # the sentence naming the congress session carries its own date, place and speaker, not those of the topic
        # that scored best ("德州哪年能实现碳达峰" is not answered by "在1月23日召开的…")
        about_delivery = bool(_OCCASION.search(best[2].text))
        carrier = next((c for c in scored if c[0] >= best[0] - margin and carries(detail, c[2].text)
                        and (about_delivery or not _OCCASION.search(c[2].text))), None)
        if carrier is None and detail == "define" and _describes(best[2], hits[best[1]].passage.text,
                                                                  _term_asked(reading.core)):
            carrier, described = best, True
        if carrier is None:
            what = DETAIL_WORDS[detail]
            preface = preface or PARTIAL_DETAIL.format(what=what)
            break
        best = carrier
    if reading.asks == "quantity" and not preface and _AMOUNT_ASKED.search(reading.core) \
            and not _FIGURE.search(best[2].text):
        # a figure asked ("先发行多少"): the unit with it, close behind the one naming the topic in words ("从今年开始拟
        # 连续几年发行超长期特别国债，……今年先发行1万亿元"); no unit on the topic has one: the report gives none
        weigh = lambda c: held(index.weights(query.all_tokens, hits[c[1]].passage.citation.doc_id),  # noqa: E731
                               c[2].text.lower())
        needed = FIGURE_TOPIC_SHARE * weigh(best)
        carrier = next((c for c in scored if c[0] >= best[0] - FIGURE_MARGIN and _FIGURE.search(c[2].text)
                        and weigh(c) >= needed), None)
        if carrier is not None:
            best = carrier
        else:
            what = FIGURE_DETAIL
            preface = PARTIAL_DETAIL.format(what=what)
    if reading.asks == "quantity" and not preface and _AMOUNT_ASKED.search(reading.core):
        # the figure of another topic ("外贸进出口今年增长目标是百分之几" → 地区生产总值增长6.5%): the units naming the
        # asked clause's rarest report word give none, so the report gives none
        rare = _rare_asked(reading, query, index, hits[best[1]].passage.citation.doc_id, hits)
        # the best unit holds none of the rare words, nor does the topic sentence of its paragraph ("更大力度扩大精准有效
        # 投资。" before the projects counted: "投资项目有多少个")
        if rare and not any(w in best[2].text.lower() for w in rare) \
                and rare[0] not in _paragraph_lead(index, index.positions[hits[best[1]].passage.id]).lower():
            naming = [c for c in scored if rare[0] in c[2].text.lower() and c[0] >= best[0] - FIGURE_MARGIN]
            if naming and not any(_FIGURE.search(c[2].text) for c in naming):
                best, what = naming[0], FIGURE_DETAIL
                preface = PARTIAL_DETAIL.format(what=what)
    chosen, listed = (_rest_of_sentence(best, scored, max(max_units, MAX_LIST_UNITS)), False) if described \
        else _choose(best, scored, hits, reading, max_units)
    cited_text = "".join(hits[c[1]].passage.text for c in chosen)
    away = [p for p in reading.other_places if p not in cited_text]
    if away and not reading.home_named and not preface:
        preface = PARTIAL_PLACE.format(home=outline.home or "本市", place=away[0])

    cited: list[Hit] = []
    parts: list[AnswerPart] = []
    for _, hit_no, unit in chosen:
        hit = hits[hit_no]
        if hit not in cited:
            cited.append(hit)
        parts.append(AnswerPart(text=quote(unit.text), citation=cited.index(hit) + 1))
    if reading.asks != "list" and all(hits[c[1]].passage.citation.paragraph_number == 0 for c in chosen):
        # only section headings ("今年工业化强市建设怎么搞？" → the heading restates it): what the section opens with
        parts, cited = _section_opening(parts, cited, hits[chosen[0][1]], index, max_units)
    if reading.asks == "list":
        before = len(parts)
        parts, cited = _with_headings(parts, cited, chosen, hits, index, outline)
        count = _asked_count(reading.core)
        listed = listed or len(parts) != before or _lists_the_asked(chosen[0][2].text, query, index,
                                                                          hits[chosen[0][1]].passage.citation.doc_id) \
            or 2 <= count <= _items(parts)
        if _items(parts) < count or not _names_the_asked(reading.core, cited, reading.bridged):
            listed = False  # "哪四个区" answered with a sentence that names "四区" without them
        if not listed and not preface:
            # a which-question whose best passage only names the programme ("实施快递业“两进一出”工程"):
            # the report does not list the items
            what = LIST_DETAIL
            preface = PARTIAL_DETAIL.format(what=what)
        if what == LIST_DETAIL and preface == PARTIAL_DETAIL.format(what=what):
            # "民生福祉这部分实施哪些工程": the paragraphs of the section open with the items ("实施社会保障工程。")
            leads = _leads_naming(reading.core, hits[chosen[0][1]].passage, index)
            if leads:
                parts, cited, preface, what = leads[0], leads[1], "", PARTIAL_WHAT
    parts = _label_documents(parts, cited, outline)
    kind = "partial" if preface else "answer"
    if preface:
        closing = PARTIAL_CLOSING.format(what=what, hotline=hotline)
    text = preface + _joined(parts) + closing
    return Answer(question=question, text=text, found=kind == "answer", kind=kind, citations=tuple(cited),
                  parts=tuple(parts), relevance=rel, query=query.text, signals=sig, preface=preface,
                  closing=closing)


Scored = tuple[float, int, Unit]


def _rare_asked(reading: Reading, query: Query, index: Index, doc: str, hits: Sequence[Hit]) -> list[str]:
    """The words of the clause asking an amount that report ``doc`` uses in few passages (外贸, not 工作) and the hits
    hold, rarest first. Only the question's own words: a word bridged from its frame (问问 → 咨询) names no topic."""
    clauses = [c for c in re.split(r"[,，;；？?！!。\s]", reading.core.lower()) if _AMOUNT_ASKED.search(c)]
    if not clauses or not hits:
        return []
    text = "".join(h.passage.text for h in hits).lower()
    # the words that ask for an amount (目标, 增长, 比例) name no topic
    weights = index.weights([t for t in query.tokens if len(t) >= 2 and t in clauses[-1] and index.knows(t, doc)
                             and t in text and not _QUANTITY_ASKED.search(t)], doc)
    own = index.keywords.idf(doc)
    top = own[1] if own is not None else index.top_idf  # the report's own rarest word
    return sorted((w for w in weights if weights[w] >= KEY_RARITY * top), key=lambda w: (-weights[w], w))


def _choose(best: Scored, scored: list[Scored], hits: tuple[Hit, ...], reading: Reading,
            max_units: int) -> tuple[list[Scored], bool]:
    """The units to quote: the best one, then what the answer type needs from its sentence, then close
    runners-up; and whether they list items (a run of parallel sentences or an enumerating clause)."""
    chosen = [best]
    follower = _follower_of_lead(best, scored, hits)
    if follower is not None:  # the topic sentence names the subject; the sentence after it says what happens
        chosen = [best, follower] if reading.asks in ("purpose", "list") else [follower, best]
    if reading.asks == "how":  # the topic sentence and the sentences that say how, in the report's order
        return _run_from(best, scored, max_units), False
    what = WHAT_IS.search(reading.core) if reading.asks == "other" and not reading.details else None
    if what is not None and follower is None and reading.core[:what.start()][-3:] in best[2].text:
        # "产城融合示范区是干啥的": the clause naming it, then the rest of its sentence says what it is to be
        return _rest_of_sentence(best, scored, max(max_units, MAX_LIST_UNITS)), False
    if reading.asks == "list":
        run = _parallel(best, scored) or _semicolon_run(best, scored) or _colon_run(best, scored) \
            or _parallel_openings(best, scored, hits)
        if len(run) >= 2:
            return run[:MAX_LIST_UNITS], True
        heading = hits[best[1]].passage.citation
        if heading.paragraph_number == 0:  # a section heading names the topic; its paragraphs may list the items
            inside = next((c for c in scored if hits[c[1]].passage.citation.section_id == heading.section_id
                           and hits[c[1]].passage.citation.paragraph_number > 0), None)
            run = (_parallel(inside, scored) or _semicolon_run(inside, scored)) if inside is not None else []
            if len(run) >= 2:
                return [best] + run[:MAX_LIST_UNITS], True
    if reading.asks in ("purpose", "list"):
        extra = _same_sentence(best, scored, purpose=reading.asks == "purpose")
        if extra is not None and all(extra[2] is not c[2] for c in chosen):
            chosen.append(extra)
        lead = _lead_of(best, scored, hits) if reading.asks == "purpose" and extra is None else None
        if lead is not None and all(lead[2] is not c[2] for c in chosen):
            # "搞这些是为啥" of a sentence with no purpose clause: its paragraph's topic sentence says what for
            # ("更大力度提升科技创新能力。" before the institutes to be finished)
            chosen.insert(0, lead)
        return chosen[:max_units], extra is not None and reading.asks == "list"
    for cand in scored:
        if len(chosen) >= max_units:
            break
        if cand[0] >= scored[0][0] - EXTRA_MARGIN and all(cand[2] is not c[2] for c in chosen):
            chosen.append(cand)
    return chosen, False


#: a numbered shorthand (两进一出, 四减四增, 三线一单, 双招双引): only its items enumerated say what it is
_NUMERAL = re.compile(r"[一二三四五六七八九十两双多\d]")
_DEFINE_ASKED = next(p for t, p in ASK_PATTERNS if t == "define")
_QUANTITY_ASKED = next(p for t, p in ASK_PATTERNS if t == "quantity")


def _term_asked(core: str) -> str:
    """What a what-does-it-mean question asks about: the words before the asking phrase ("碧水保卫战是指什么"), or
    after it when it opens the question ("什么叫碧水保卫战")."""
    m = _DEFINE_ASKED.search(core)
    if m is None:
        return core
    return core[:m.start()] or core[m.end():]


def _describes(unit: Unit, passage_text: str, subject: str) -> bool:
    """Whether the sentence holding ``unit`` says what the term asked about involves, though it defines nothing:
    the clause naming the term is followed by two clauses more or an enumeration ("打好碧水保卫战,统筹水资源、水生态、
    水环境,加快…"); a numbered shorthand only by its items enumerated in its own clause ("统筹生产、生活、生态三大空间";
    not "启动新一轮“四减四增”行动,落实…")."""
    start = max(passage_text.rfind(e, 0, unit.start) for e in _SENTENCE_ENDS) + 1
    end = min((i for i in (passage_text.find(e, unit.start) for e in _SENTENCE_ENDS) if i >= 0),
              default=len(passage_text))
    clauses = [c for c in re.split(r"[,，;；:：]", passage_text[start:end]) if c.strip()]
    if not clauses:
        return False
    term, at = max(((_common_run(c, subject), i) for i, c in enumerate(clauses)), key=lambda r: len(r[0]))
    if len(term) < 2 or _other_name(term, clauses[at], subject):
        return False
    if _NUMERAL.search(term):
        return clauses[at].count("、") >= 2
    after = clauses[at + 1:]
    return len(after) >= 2 or any("、" in c for c in after)


def _other_name(term: str, clause: str, subject: str) -> bool:
    """Whether ``term`` is only the shared ending of two different names: the question's 臭氧保卫战 and the report's
    蓝天保卫战 (a word of content before it in both, not the same one; 的 or 打好 before 净土保卫战 is no name)."""
    here, there = subject.find(term), clause.find(term)
    before = subject[here - 1] if here > 0 else ""
    theirs = clause[there - 1] if there > 0 else ""
    return bool(before and theirs and before != theirs and before not in _FUNCTION_CHARS
                and _CJK.match(before) and _CJK.match(theirs) and not clause[:there].endswith(_VERBS_BEFORE_NAME))


#: characters before a name that are not part of it ("报告里说的净土保卫战", "“三大空间”")
_FUNCTION_CHARS = frozenset("的是说了在和与及个“”\"'《》")
#: verbs the report puts before a programme's name ("打好净土保卫战", "实施…")
_VERBS_BEFORE_NAME = ("打好", "实施", "开展", "推进", "建设", "启动", "落实", "创建", "加快", "推动", "深化", "统筹")


def _common_run(a: str, b: str) -> str:
    """The longest run of characters ``a`` and ``b`` share."""
    best = ""
    for i in range(len(a)):
        for j in range(i + len(best) + 1, len(a) + 1):
            if a[i:j] not in b:
                break
            best = a[i:j]
    return best


def _rest_of_sentence(best: Scored, scored: list[Scored], n: int) -> list[Scored]:
    """The best unit and the units after it up to the end of its sentence, at most ``n``."""
    run = _run_from(best, scored, n)
    end = next((i for i, c in enumerate(run) if c[2].text.rstrip().endswith(_SENTENCE_ENDS)), len(run) - 1)
    return run[:end + 1]


_SENTENCE_ENDS = ("。", "；", ";", "！", "？")


def _run_from(best: Scored, scored: list[Scored], n: int) -> list[Scored]:
    """The best unit and the units right after it in its passage, at most ``n``."""
    run = [best]
    for c in sorted((c for c in scored if c[1] == best[1] and c[2].start >= best[2].end), key=lambda c: c[2].start):
        if len(run) >= n or c[2].start != run[-1][2].end:
            break
        run.append(c)
    return run


def _parallel(best: Scored, scored: list[Scored]) -> list[Scored]:
    """Sentences of the best unit's passage built in parallel with it ("毫不放松抓好疫情防控。毫不放松抓好…"):
    the items of a list the report writes as a run of sentences opening alike."""
    _, hit_no, unit = best
    head = _opening(unit.text)
    if not head or not unit.text.rstrip().endswith("。"):
        return []
    same = sorted((c for c in scored if c[1] == hit_no and c[2].text.strip().startswith(head)
                   and c[2].text.rstrip().endswith("。")), key=lambda c: c[2].start)
    return same if len(same) >= 2 else []


def _opening(text: str) -> str:
    """The characters parallel sentences open alike with ("毫不放松…", "打好…"), or "" when too short or not Chinese."""
    head = text.strip()[:PARALLEL_HEAD]
    return head if len(head) == PARALLEL_HEAD and _CJK.match(head) else ""


def _parallel_openings(best: Scored, scored: list[Scored], hits: tuple[Hit, ...]) -> list[Scored]:
    """Long sentences of the best unit's paragraph that open alike ("打好蓝天保卫战,…。打好碧水保卫战,…。打好净土
    保卫战,…"), split into clauses and over the paragraph's passages among the hits: the unit opening each, in order."""
    _, hit_no, unit = best
    head = _opening(unit.text)
    paragraph = hits[hit_no].passage.citation.paragraph_id

    def opens_sentence(c: Scored) -> bool:
        text = hits[c[1]].passage.text
        return c[2].start == 0 or text[c[2].start - 1] in "。！？!?"

    if not head or not opens_sentence(best):
        return []
    same = sorted((c for c in scored if hits[c[1]].passage.citation.paragraph_id == paragraph
                   and c[2].text.strip().startswith(head) and opens_sentence(c)),
                  key=lambda c: hits[c[1]].passage.citation.start + c[2].start)
    return same if len(same) >= 2 else []


def _semicolon_run(best: Scored, scored: list[Scored]) -> list[Scored]:
    """Items the report separates with semicolons ("务实精准开展“双招双引”;拓展…;加快…。"): from the best unit
    to the end of the run."""
    _, hit_no, unit = best
    if not unit.text.rstrip().endswith((";", "；")):
        return []
    units = sorted((c for c in scored if c[1] == hit_no), key=lambda c: c[2].start)
    at = next(i for i, c in enumerate(units) if c[2] is unit)
    start = at  # items before it belong to the run too
    while start > 0 and units[start - 1][2].text.rstrip().endswith((";", "；")) \
            and units[start - 1][2].end == units[start][2].start:
        start -= 1
    run = [units[start]]
    for c in units[start + 1:]:
        if c[2].start != run[-1][2].end or not run[-1][2].text.rstrip().endswith((";", "；")):
            break
        run.append(c)
    return run


#: a which-question naming how many items it wants: 哪四个区, 哪五大类, 哪两个基地
_ASKED_COUNT = re.compile(r"哪([一二三四五六七八九十两]{1,3}|\d{1,2})(个|项|条|大|类|件|样|种|块|所|家|座|处|方面|区)")


def _asked_count(text: str) -> int:
    """How many items a which-question asks for (0: it does not say)."""
    m = _ASKED_COUNT.search(text)
    if m is None:  # "那80个重点项目的完整清单": the whole list of a counted set
        m = _LIST_OF_COUNT.search(text)
    return 0 if m is None else (2 if m.group(1) == "两" else _number(m.group(1)))


#: the whole list of a counted set ("那80个重点项目的完整清单"): that many items are asked for
_LIST_OF_COUNT = re.compile(r"(\d{1,3}|[一二三四五六七八九十两]{1,3})(个|项|条|所|家|座|处).{0,12}(清单|名单)")


#: what a which-question asks to be listed, when a short noun ends the question: 疏解哪些单位, 划在哪几个乡镇
_ITEM_CLASSIFIERS = "个项家所条类种座处样件大块"
_ASKED_ITEMS = re.compile(rf"哪(些|几[{_ITEM_CLASSIFIERS}]?|[一二三四五六七八九十两\d]+[{_ITEM_CLASSIFIERS}])"
                          r"([\u4e00-\u9fff]{2,4})[呢啊呀吗]?$")
#: the item named before the which-word ("民生工程都有哪几项": 工程), when none follows it
_ITEM_BEFORE = re.compile(rf"([\u4e00-\u9fff]{{2}})(?:今年|明年|都|一共|总共|主要|具体|分别|还)*(?:有|包括|包含|是|涉及)"
                          rf"(?:哪些|哪几[{_ITEM_CLASSIFIERS}]?|哪[一二三四五六七八九十两\d]+[{_ITEM_CLASSIFIERS}])$")
#: words that end a phrase before the which-word without naming an item ("具体有哪些", "今年都有哪些")
_NO_ITEM = frozenset("今年 明年 去年 主要 具体 一共 总共 分别 都有 还有 报告 政府 市里 我们 咱们 俺们".split())
#: nouns that only say "items" (哪些方面, 哪几件事): any list answers them
_GENERIC_ITEMS = frozenset("方面 措施 内容 工作 东西 事情 件事 事儿 定位 方向 举措 办法 安排 领域 类型 种类 项目 工程 部分 "
                           "任务 重点 目标 行动 政策 问题".split())


#: what may trail a which-question without being its item ("哪几条啊": 啊)
_ASKING_TAIL = "？?！!。. 啊呀呢吗嘛啦哇"


def _asked_item(core: str) -> tuple[str, str] | None:
    """The item a which-question ends on, as typed and as the item's noun ("疏解哪些单位" → 单位); None when the
    question ends on no such noun."""
    m = _ASKED_ITEMS.search(core.rstrip(_ASKING_TAIL))
    if m is None or m.group(1).endswith("块"):  # "从哪几块下手": which parts, of whatever kind
        return None
    noun = m.group(2)
    if m.group(1) == "几" and noun[0] in _ITEM_CLASSIFIERS:
        noun = noun[1:]  # "哪几个率": 几 took no classifier, so the noun kept it; the item is 率
    return m.group(2), noun


def _names_the_asked(core: str, cited: Sequence[Hit], bridged: Sequence[tuple[str, str]] = ()) -> bool:
    """Whether the cited passages name the kind of item a which-question asks for ("疏解哪些单位": 单位, or a
    word of it, or the report word a typed one was bridged onto: 哪几条高贴 → 高铁); a report that never says the
    word does not list such items."""
    asked = _asked_item(core)
    if asked is None or any(asked[0].startswith(g) for g in _GENERIC_ITEMS):  # 哪几个方面使劲
        return True
    text = "".join(h.passage.context + h.passage.text for h in cited)
    for noun in [asked[1]] + [asked[1].replace(typed, word) for typed, word in bridged if typed in asked[1]]:
        if len(noun) < 2:  # items named by one character list it more than once ("开工率、投资率、资金到位率")
            if noun and text.count(noun) >= 2:
                return True
        elif any(noun[i:i + 2] in text for i in range(len(noun) - 1)):
            return True
    return False


#: item nouns every opening sentence could hold: no list of a section's items is named by them
_VAGUE_ITEMS = frozenset("工作 方面 内容 东西 事情 事儿 件事 问题".split())


def _leads_naming(core: str, passage: Passage, index: Index) -> tuple[list[AnswerPart], list[Hit]] | None:
    """The sentences opening the paragraphs of ``passage``'s section that name the item a which-question asks
    for ("哪些工程" → "实施就业优先工程。", "实施教育提升工程。"…), each cited; None unless at least two do."""
    asked = _asked_item(core)
    before = _ITEM_BEFORE.search(core.rstrip(_ASKING_TAIL)) if asked is None else None
    noun = asked[1] if asked is not None else before.group(1) if before is not None else ""
    if len(noun) < 2 or noun in _VAGUE_ITEMS or noun in _NO_ITEM or noun not in index.vocab:
        return None
    section = passage.citation.section_id
    leads: list[tuple[Passage, str]] = []
    start = index.positions.get(heading_id(section), index.positions.get(passage.id, 0))
    for row in range(start, len(index.passages)):
        p = index.passages[row]
        if p.citation.section_id != section:
            break  # a section's passages follow its heading
        if p.citation.paragraph_number == 0 or p.citation.start != 0:
            continue
        lead = _paragraph_lead(index, row)
        if noun in lead:
            leads.append((p, lead))
    if len(leads) < max(2, _asked_count(core)) or len(leads) > MAX_LIST_UNITS:
        return None  # "哪三个工程" needs three; more than a list's worth is no list
    return _quoted(leads)


def _items(parts: Sequence[AnswerPart]) -> int:
    """How many items the quoted parts list: the parts themselves, or the longest enumeration in one of them."""
    def enumerated(text: str) -> int:
        n = text.count("、")
        listed = n + 1 + (1 if n and re.search("(和(?!谐)|以及|(?<![普涉])及(?!时))[^、]*$", text) else 0) if n else 1
        # clauses built alike are items too: "聚力培育标志性产业链,聚力培育先进制造业集群。"
        heads = [c.strip()[:PARALLEL_HEAD] for c in re.split("[,，;；]", text) if c.strip()]
        alike = max((heads.count(h) for h in heads), default=1)
        return max(listed, alike)
    return max([len(parts), *(enumerated(p.text) for p in parts)])


def _colon_run(best: Scored, scored: list[Scored]) -> list[Scored]:
    """Items a clause announces with a colon and the report goes on with, clause by clause, to the end of the
    sentence ("主要预期目标是:地区生产总值增长6.5%左右,规模以上工业增加值增长5.5%左右,…")."""
    _, hit_no, unit = best
    if not re.search("[:：]", unit.text):
        return []
    run = [best]
    for c in sorted((c for c in scored if c[1] == hit_no and c[2].start >= unit.end), key=lambda c: c[2].start):
        if c[2].start != run[-1][2].end or run[-1][2].text.rstrip().endswith(("。", "；", ";")):
            break
        run.append(c)
    return run if len(run) >= 3 else []


def _lists_the_asked(text: str, query: Query, index: Index, doc: str) -> bool:
    """Whether the clause of ``text`` that names what the question asks about lists items: "实施快递业“两进一出”
    工程" names the programme without its items; "积极引进咨询管理、财务审计…等服务机构" lists them."""
    clauses = [c for c in re.split("[,，;；。]", text) if c]
    weights = index.weights(query.all_tokens, doc)
    if not clauses or not weights:
        return False
    key = max(clauses, key=lambda c: held(weights, c.lower()))
    return "、" in key or (len(clauses) >= 3 and key == clauses[0])


def _same_sentence(best: Scored, scored: list[Scored], *, purpose: bool) -> Scored | None:
    """A later clause of the best unit's sentence that a why- or which-question needs: the purpose clause
    (its opening word says what for, else the sentence's last clause), or the longest enumeration."""
    _, hit_no, unit = best
    same = [c for c in scored if c[1] == hit_no and c[2].start >= unit.end]
    sentence: list[Scored] = []
    for c in sorted(same, key=lambda c: c[2].start):  # the clauses up to the end of the sentence
        if sentence and sentence[-1][2].end != c[2].start:
            break
        if not sentence and c[2].start != unit.end:
            break
        sentence.append(c)
        if c[2].text.rstrip().endswith(_SENTENCE_ENDS):
            break
    if not sentence:
        return None
    if purpose:
        # a weak opening word (推动, 努力) says what for only as the end of the sentence: its last such clause
        return next((c for c in sentence if _PURPOSE.match(c[2].text)),
                    next((c for c in reversed(sentence) if _PURPOSE_WEAK.match(c[2].text)), sentence[-1]))
    listing = [c for c in sentence if c[2].text.count("、") >= 1]
    # the enumeration that matches the question best, a longer one when close
    return max(listing, key=lambda c: c[0] + LIST_ITEM_BONUS * c[2].text.count("、"), default=None)


def _with_headings(parts: list[AnswerPart], cited: list[Hit], chosen: list[Scored], hits: tuple[Hit, ...],
                   index: Index, outline: Outline) -> tuple[list[AnswerPart], list[Hit]]:
    """A unit announcing "N个方面" when its document has N numbered sections: quote the N headings, each cited
    with the first passage of its section."""
    unit = chosen[0][2]
    m = _ANNOUNCES.search(quote(unit.text))
    doc = hits[chosen[0][1]].passage.citation.doc_id
    headings = outline.headings.get(doc, ())
    if not m or _number(m.group(1)) != len(headings) or not headings:
        return parts, cited
    parts, cited = parts[:1], cited[:1]
    for section_id, heading in headings:
        first = next((p for p in index.passages if p.citation.section_id == section_id), None)
        if first is None:
            return parts, cited
        hit = _cited(first)
        cited.append(hit)
        parts.append(AnswerPart(text=heading, citation=len(cited)))
    return parts, cited


#: a question about the Nth part of the report ("第二个方面主要讲啥", "八个方面里头头一个是聚焦啥的")
_NTH_SECTION = re.compile(r"第([一二三四五六七八九十]{1,3}|\d{1,2})(个|大)?(方面|部分|板块|大块|块)|"
                          r"(方面|部分).{0,6}(头一个|第一个|最后一个)|(头一个|第一个|最后一个)(方面|部分)")


def _documents(index: Index, rows: frozenset[int] | None) -> list[str]:
    """The ids of the documents whose passages ``rows`` holds (None: all), the leading one first."""
    return list(dict.fromkeys(p.citation.doc_id for i, p in enumerate(index.passages) if rows is None or i in rows))


def nth_section(question: str, reading: Reading, index: Index, outline: Outline, *, max_units: int,
                rows: frozenset[int] | None = None) -> Answer | None:
    """The answer to a question about the Nth numbered section of a report: its heading and what the section
    opens with; None when the question names no such section (or the leading report has fewer)."""
    m = _NTH_SECTION.search(reading.text)
    # a figure, a detail or a list inside that part is a question for retrieval, not for the outline
    if m is None or reading.injection or reading.details or reading.asks in ("quantity", "list"):
        return None
    docs = [d for d in _documents(index, rows) if outline.headings.get(d)]
    if not docs:
        return None
    headings = outline.headings[docs[0]]
    word = m.group(1) or ""
    return _nth_heading(question, reading, headings, LAST if "最后" in m.group(0) else (_number(word) if word else 1),
                        index, max_units)


#: a place counted from the end: the last item
LAST = -1


def _at(n: int, length: int) -> int | None:
    """The 0-based index of item ``n`` (1-based, or :data:`LAST`) among ``length`` items; None outside them."""
    i = length - 1 if n == LAST else n - 1
    return i if 0 <= i < length and (n == LAST or n >= 1) else None


def _nth_heading(question: str, reading: Reading, headings: Sequence[tuple[str, str]], n: int, index: Index,
                 max_units: int) -> Answer | None:
    """Section ``n`` (1-based, or :data:`LAST`) of ``headings``: its heading and what it opens with."""
    i = _at(n, len(headings))
    if i is None:
        return None
    section_id, heading = headings[i]
    at = index.positions.get(heading_id(section_id))
    if at is None:
        return None
    hit = _cited(index.passages[at])
    parts, cited = _section_opening([AnswerPart(text=heading, citation=1)], [hit], hit, index, max_units)
    return Answer(question=question, text=_joined(parts), found=True, kind="answer", citations=tuple(cited),
                  parts=tuple(parts), relevance=1.0, query=reading.text)


#: a follow-up that only points at one item of the previous answer by its place ("第一个是啥", "最后一个呢")
ORDINAL = re.compile(r"(第([一二三四五六七八九十]{1,3}|\d{1,2})|头一|最后一|末一)个?(方面|部分|板块|条|项)?")
_COUNTED_PARTS = re.compile(r"([一二三四五六七八九十]{1,3}|\d{1,2})(个|大)?(方面|部分|板块)")


def nth_of(question: str, reading: Reading, previous: Answer, index: Index, outline: Outline,
           max_units: int) -> Answer | None:
    """The item a follow-up points at by its place ("第一个是啥", "最后一个呢") among what the previous answer
    listed: its section headings, the parts of the report it counted ("重点抓好八个方面"), or its quotes; None
    when the previous answer listed nothing that many."""
    m = ORDINAL.search(reading.text)
    if m is None or previous.kind != "answer" or not previous.citations:
        return None
    n = LAST if m.group(1) in ("最后一", "末一") else (_number(m.group(2)) if m.group(2) else 1)
    doc = previous.citations[0].passage.citation.doc_id
    headings = outline.headings.get(doc, ())
    listed = [p.text for p in previous.parts if previous.citations[p.citation - 1].passage.citation.paragraph_number == 0]
    listed_headings = [h for h in headings if h[1] in listed]
    if len(listed_headings) >= 2:
        return _nth_heading(question, reading, listed_headings, n, index, max_units)
    counted = _COUNTED_PARTS.search(previous.text)
    if counted and len(headings) >= 2 and _number(counted.group(1)) == len(headings):
        return _nth_heading(question, reading, headings, n, index, max_units)  # "重点抓好八个方面": the eight
    if m.group(3) in ("方面", "部分", "板块"):
        return None  # "第二个方面讲的啥" after a list of figures: the report's own second part (nth_section)
    if len(previous.parts) >= 2:
        at = _at(n, len(previous.parts))
        if at is not None:
            part = previous.parts[at]
            hit = previous.citations[part.citation - 1]
            return Answer(question=question, text=_joined([replace(part, citation=1)]), found=True, kind="answer",
                          citations=(hit,), parts=(replace(part, citation=1),), relevance=1.0, query=reading.text)
    return None


_WHEN = r"(哪天|哪一天|什么时候|啥时候|何时|几月几[号日]|几号)"
#: a question about the report itself: who delivered it ("谁作的报告", "报告是谁念的", a bare "谁作的"), when ("这个报告
#: 哪天做的", "人代会 召开日期", "哪天开的会"), at which meeting ("在哪个会上作的"); the report or the meeting is the
#: subject (not 为什么会下降, 高铁会在什么时候通车, 规划是谁做的, 报告里说的医院什么时候开)
_ABOUT_REPORT = re.compile(
    r"(谁|哪位|什么人|哪个领导)(来)?(作|做|念|讲|宣读)的?(这个|这份)?(政府工作)?报告|报告(是)?由?谁(来)?(作|做|念|讲|宣读)|"
    r"^(那|那么)?(是)?谁(作|念|宣读)的$|(作|做|念|讲|宣读)(这个|这份)?报告的(人|领导)?(是|为)谁|"
    rf"(报告|会议|大会|人代会|两会)(是|都是)?在?{_WHEN}|{_WHEN}(开|召开)的(会|大会|人代会)|召开的?(日期|时间)|"
    r"(哪个|哪次|哪一次|(?<!为)什么|(?<!为)啥|哪届|哪一届)(会议|大会|会上)|开的(什么|啥)会|"
    r"\bwho (delivered|gave|presented|made|read)\b.{0,30}\b(report|speech)|"
    r"\bwhen was (the|this|it)\b.{0,30}\b(delivered|given|presented|made|held)\b|\b(which|what) (session|meeting|congress)\b")
#: a question about how the report ends ("报告最后是怎么收尾的", "结束语说了啥", "最后号召什么"): the report is the subject
#: of 最后 (not "最后实际退了多少钱", "最后一个呢")
_ENDING = re.compile(
    r"结束语|结语|结尾|收尾|末尾|最后一段|(报告|讲话)(的)?最后(一部分|部分)?(是)?(说|讲|写|号召|呼吁|怎么|咋|提)|"
    r"最后(是)?(怎么|咋|如何)?(号召|呼吁)|\b(how does|how did)\b.{0,30}\bend\b|\b(conclu(des|sion)|closing words)\b")
#: words only a report's (or a speech's) edge has; others (收尾, 开头, 最后) need the report named before them
_OWN_EDGE = re.compile(r"结束语|结语|开场白|开篇")
_THE_REPORT = re.compile(r"报告|讲话|全文|\b(report|speech)\b")
#: a question about how the report opens ("开头第一句话说的什么", "报告开篇讲了啥")
_OPENING = re.compile(r"(报告|讲话)?(的)?(开头|开篇|开场白|第一句话?|一开始)(是)?(第一句话?)?")
_ASKING_CHARS = re.compile(r"[的了是啥什么呢吗嘛怎么样咋如何说讲写内容都些哪\s?？!！。.,，]|\b(the|report|speech|it)\b")
#: a detail asked this short after a question about the report ("哪天？", "在哪开的") is about the report too
FOLLOW_UP_DETAIL_CHARS = 8
#: the details the sentence naming the delivery gives: its date, its speaker, its meeting
DELIVERY_DETAILS = frozenset({"date", "person", "address"})
#: how a report's text names the meeting it was delivered at, when its sidecar does not say
_OCCASION = re.compile(r"代表大会.{0,12}会议")


def about_report(question: str, reading: Reading, index: Index, outline: Outline, *,
                 rows: frozenset[int] | None = None, topic: str = "") -> Answer | None:
    """The answer to a question about the report itself (who delivered it, when, at which meeting): the sentence
    of the leading report that names its delivery (its sidecar's speaker, occasion or date, or a people's
    congress session); None when the question is not such a question or no sentence names it. ``topic``: the
    conversation's, when a detail asked after a question about the report ("哪天？") is about it too."""
    follows = bool(topic) and bool(reading.details) and set(reading.details) <= DELIVERY_DETAILS \
        and len(reading.text) <= FOLLOW_UP_DETAIL_CHARS and _ABOUT_REPORT.search(topic) is not None
    # how the report ends or opens, not a topic of its last part ("报告最后讲外交时提了哪些倡议": retrieval answers that)
    end = next((edge for edge, pattern in ((-1, _ENDING), (0, _OPENING)) if (m := pattern.search(reading.text))
                and len(_ASKING_CHARS.sub("", reading.text[m.end():])) <= 2
                # 收尾, 开头 of a project ("这个项目啥时候收尾") unless the report is named or the word is its own
                and (_OWN_EDGE.search(m.group(0)) or _THE_REPORT.search(reading.text[:m.end()]))), None)
    if not (_ABOUT_REPORT.search(reading.text) or follows or end is not None) or reading.injection:
        return None
    doc = next(iter(_documents(index, rows)), None)
    if doc is None:
        return None
    if end is not None:
        return _edge(question, reading, index, doc, rows, end)
    marks = outline.delivery.get(doc, ())
    best: tuple[int, int] = (0, -1)
    for row in _doc_rows(index, doc, rows):
        first, last = index.passage_units[row]
        for u in range(first, last):
            unit = index.units[u].text
            score = sum(m in unit for m in marks) + bool(_OCCASION.search(unit))
            if score > best[0]:
                best = (score, u)
    if best[1] < 0:
        return None
    unit = index.units[best[1]]
    return _quote_answer(question, reading, [(index.passages[unit.passage], unit.text)])


def _edge(question: str, reading: Reading, index: Index, doc: str, rows: frozenset[int] | None,
          at: int) -> Answer | None:
    """The report's closing (``at`` -1) or opening (0) paragraph within ``rows``, quoted whole up to
    ``ENDING_CHARS``."""
    own = [r for r in _doc_rows(index, doc, rows) if index.passages[r].citation.paragraph_number > 0]
    if not own:
        return None
    paragraph = index.passages[own[at]].citation.paragraph_id
    quotes = [(index.passages[r], index.units[u].text) for r in own
              if index.passages[r].citation.paragraph_id == paragraph for u in range(*index.passage_units[r])]
    # a salutation on its own ("各位代表！") says nothing of the ending
    quotes = [q for q in quotes if not _SALUTATION.fullmatch(q[1].strip())]
    quotes = [q for i, q in enumerate(quotes) if i == 0 or sum(len(t) for _, t in quotes[:i + 1]) <= ENDING_CHARS]
    return _quote_answer(question, reading, quotes) if quotes else None


#: how much of the closing paragraph an answer about the ending quotes (a national report's closes in ~200)
ENDING_CHARS = 320
_SALUTATION = re.compile(r"各位代表[！!，,：:]?")


def detail_of(question: str, reading: Reading, topic: Answer, hotline: str) -> Answer | None:
    """A detail asked after an answer ("在哪报名？", "这个中心在哪办公？") that no passage carries: the partial reply
    quoting the answer it follows, so the asker sees what the report does say about the topic; None when the
    question asks no detail or the topic answer quotes nothing."""
    if not reading.details or topic.kind not in ("answer", "partial") or not topic.parts:
        return None
    what = DETAIL_WORDS[reading.details[0]]
    preface, closing = PARTIAL_DETAIL.format(what=what), PARTIAL_CLOSING.format(what=what, hotline=hotline)
    return Answer(question=question, text=preface + _joined(topic.parts) + closing, found=False, kind="partial",
                  citations=topic.citations, parts=topic.parts, relevance=topic.relevance, query=reading.text,
                  preface=preface, closing=closing)


def more_of(question: str, reading: Reading, previous: Answer, index: Index, max_units: int) -> Answer | None:
    """"还有呢？" after an answer: what the report says next, at most ``max_units`` units it did not quote after the
    first one the answer quoted from its first passage, in the report's order and within the same section (the rest
    of the paragraph, else the next paragraph's first units). None when the previous answer quoted nothing or nothing
    follows."""
    if previous.kind not in ("answer", "partial") or not previous.citations:
        return None
    row = index.positions.get(previous.citations[0].passage.id)
    if row is None:
        return None
    first, last = index.passage_units[row]
    said = {p.text for p in previous.parts}
    quoted = [j for j in range(first, last) if quote(index.units[j].text) in said]
    if not quoted:
        return None
    section = index.passages[row].citation.section_id
    picked: list[tuple[int, int]] = []  # (row, unit)
    r, j = row, quoted[0] + 1  # what lies between quotes comes first: the answer quotes by score, not in order
    while len(picked) < max_units and r < len(index.passages):
        if j >= index.passage_units[r][1]:
            r += 1
            if r >= len(index.passages) or index.passages[r].citation.section_id != section:
                break
            if picked and index.passages[r].citation.paragraph_id != index.passages[picked[-1][0]].citation.paragraph_id:
                break  # the rest of this paragraph is enough; the next paragraph is for the next "还有呢"
            j = index.passage_units[r][0]
            continue
        if quote(index.units[j].text) not in said and quote(index.units[j].text):
            picked.append((r, j))
        j += 1
    if not picked:
        return None
    parts, cited = _quoted([(index.passages[r], index.units[j].text) for r, j in picked])
    # a year or place the reports do not cover stays said ("报告中没有2022年的内容…" before more of what they
    # do say); a detail the last question asked for is not asked again
    carried = previous.kind == "partial" and not previous.preface.startswith(PARTIAL_DETAIL.split("{")[0])
    preface, closing = (previous.preface, previous.closing) if carried else ("", "")
    return Answer(question=question, text=preface + _joined(parts) + closing, found=not preface,
                  kind="partial" if preface else "answer", citations=tuple(cited), parts=tuple(parts),
                  relevance=1.0, query=reading.text, preface=preface, closing=closing)


def section_of(question: str, reading: Reading, previous: Answer, index: Index) -> Answer | None:
    """"这个属于哪块工作？" after an answer: the heading of the section its first quote is from, and the sentence
    that opens its paragraph when that sentence names the paragraph's topic ("全面深化农村各项改革。"), each cited.
    None when the previous answer quoted nothing."""
    if previous.kind not in ("answer", "partial") or not previous.citations:
        return None
    cited = previous.citations[0].passage
    quotes: list[tuple[Passage, str]] = []
    at = index.positions.get(heading_id(cited.citation.section_id))
    if at is not None:
        quotes.append((index.passages[at], index.passages[at].text))
    row = index.positions.get(cited.id)
    while row is not None and row > 0 and cited.citation.paragraph_number > 0 \
            and index.passages[row - 1].citation.paragraph_id == cited.citation.paragraph_id:
        row -= 1  # the paragraph's first passage
    if row is not None and cited.citation.paragraph_number > 0 and (lead := _paragraph_lead(index, row)):
        quotes.append((index.passages[row], lead))
    if not quotes:
        return None
    parts, hits = _quoted(quotes)
    return Answer(question=question, text=_joined(parts), found=True, kind="answer", citations=tuple(hits),
                  parts=tuple(parts), relevance=1.0, query=reading.text)


def _section_first(section: str, index: Index) -> Passage | None:
    """The first passage of a section's first paragraph (it follows the heading's passage in the index)."""
    row = index.positions.get(heading_id(section))
    nxt = index.passages[row + 1] if row is not None and row + 1 < len(index.passages) else None
    if nxt is not None and nxt.citation.section_id == section and nxt.citation.paragraph_number > 0:
        return nxt
    return next((p for p in index.passages if p.citation.section_id == section
                 and p.citation.paragraph_number > 0), None)


def _with_section_body(hits: tuple[Hit, ...], index: Index) -> tuple[Hit, ...]:
    """A which-question whose best match is a section heading ("建设平安德州要抓哪些方面"): the section's first
    paragraph is scored too, where it may list the items, even when retrieval ranked it lower."""
    top = hits[0].passage.citation if hits else None
    if top is None or top.paragraph_number != 0 or any(
            h.passage.citation.section_id == top.section_id and h.passage.citation.paragraph_number > 0 for h in hits):
        return hits
    first = _section_first(top.section_id, index)
    return hits if first is None else hits + (_cited(first),)


def _section_opening(parts: list[AnswerPart], cited: list[Hit], heading: Hit, index: Index,
                     max_units: int) -> tuple[list[AnswerPart], list[Hit]]:
    """After an answer of headings alone, the opening sentences of the heading's section (its first paragraph),
    cited with that paragraph."""
    first = _section_first(heading.passage.citation.section_id, index)
    if first is None:
        return parts, cited
    start, end = index.passage_units[index.positions[first.id]]
    units = [index.units[j] for j in range(start, end)][:max(1, max_units - len(parts))]
    if not units:
        return parts, cited
    hit = _cited(first)
    cited = cited + [hit]
    return parts + [AnswerPart(text=quote(u.text), citation=len(cited)) for u in units], cited


def _is_topic_sentence(text: str) -> bool:
    """Whether a unit opening a paragraph names its topic: one short full sentence ("实施教育提升工程。")."""
    return len(text) <= LEAD_MAX and text.endswith("。")


def _paragraph_lead(index: Index, row: int) -> str:
    """The topic sentence opening the passage at ``row`` (the first of its paragraph), or ""."""
    first, last = index.passage_units[row]
    lead = index.units[first].text if first < last else ""
    return lead if _is_topic_sentence(lead) else ""


def _quoted(quotes: Sequence[tuple[Passage, str]]) -> tuple[list[AnswerPart], list[Hit]]:
    """Answer parts quoting each (passage, unit text) in order, each passage cited once."""
    cited: list[Hit] = []
    parts = [AnswerPart(text=quote(text), citation=_cite(cited, passage)) for passage, text in quotes]
    return parts, cited


def _cite(cited: list[Hit], passage: Passage, hit: Hit | None = None) -> int:
    """The citation number of ``passage`` in ``cited``, appending it (``hit``, else a bare hit) when new."""
    number = next((i for i, h in enumerate(cited, 1) if h.passage.id == passage.id), 0)
    if not number:
        cited.append(hit if hit is not None else _cited(passage))
        number = len(cited)
    return number


def _quote_answer(question: str, reading: Reading, quotes: Sequence[tuple[Passage, str]]) -> Answer:
    """The plain answer quoting each (passage, unit text) in order: a question the report's own outline or
    delivery answers, not retrieval."""
    parts, cited = _quoted(quotes)
    return Answer(question=question, text=_joined(parts), found=True, kind="answer", citations=tuple(cited),
                  parts=tuple(parts), relevance=1.0, query=reading.text)


def _doc_rows(index: Index, doc: str, rows: frozenset[int] | None) -> list[int]:
    """The passage rows of document ``doc`` within ``rows`` (None: all), in the report's order."""
    return [r for r, p in enumerate(index.passages) if p.citation.doc_id == doc and (rows is None or r in rows)]


def _cited(passage: Passage) -> Hit:
    """A passage cited for what the report's structure says of it (its outline, its order), not for a search
    score."""
    return Hit(passage=passage, score=0.0, dense=0.0, keyword=0.0)


def _joined(parts: Sequence[AnswerPart]) -> str:
    """The quoted parts as the answer text, each with its citation marker (and its report when labelled)."""
    return "".join(f"{p.doc_label}{p.text}[{p.citation}]" for p in parts)


def _label_documents(parts: list[AnswerPart], cited: list[Hit], outline: Outline, *,
                     every: bool = False) -> list[AnswerPart]:
    """Parts from another document than the first part's say which report they quote (``every``: each part
    opening a document's quotes says it, the first too: a comparison of years). The first part says it too when
    it is not the home city's (a national report's answer to a question that named no place)."""
    if not parts:
        return parts
    lead = cited[parts[0].citation - 1].passage.citation
    away = bool(outline.home and lead.place and outline.home not in lead.place and lead.place not in outline.home)
    first = None if every or away else lead.doc_id
    out = []
    previous = None
    for p in parts:
        doc = cited[p.citation - 1].passage.citation.doc_id
        once = every or away  # each report named where its quotes begin
        label = f"《{outline.titles.get(doc, doc)}》：" if doc != first and (not once or doc != previous) else ""
        out.append(AnswerPart(p.text, p.citation, label))
        previous = doc
    return out


def combine(question: str, answers: Sequence[Answer], outline: Outline, max_units: int) -> Answer:
    """One answer from answers that different reports gave to the same question (a comparison of years): each
    report's quotes in turn, at most ``max_units`` in all (each report's best first), every report named."""
    share = max(1, max_units // len(answers))
    cited: list[Hit] = []
    parts: list[AnswerPart] = []
    for a in answers:
        for p in a.parts[:share]:
            hit = a.citations[p.citation - 1]
            parts.append(AnswerPart(p.text, _cite(cited, hit.passage, hit)))
    parts = _label_documents(parts, cited, outline, every=True)
    return Answer(question=question, text=_joined(parts), found=True, kind="answer", citations=tuple(cited),
                  parts=tuple(parts), relevance=min(a.relevance for a in answers), query=answers[0].query,
                  signals=answers[0].signals)


_RELATIVE_YEAR = {"前年": -2, "去年": -1, "上一年": -1, "明年": 1, "后年": 2, "last year": -1, "next year": 1}

#: the question is about the current year: other relative years in it tell a story or compare
_THIS_YEAR = re.compile(r"今年|本年度|this year")


def years_asked(reading: Reading, report_years: frozenset[str]) -> set[str]:
    """The years a question asks about. When its asking part says 今年, other years in it tell the asker's
    story ("去年老母亲在县医院看病……今年政府有什么打算", "孩子明年上幼儿园，今年新建多少所"): only a year the asking
    part names itself counts. Otherwise every year the question writes out ("2022年的报告里，GDP目标是多少")
    and the relative years (去年, 明年) of its asking part: before it, they are the asker's story."""
    if _THIS_YEAR.search(reading.core):
        return years(reading.core) | plan_years(reading.core, report_years)
    return years(reading.text) | relative_years(reading.core, report_years) | plan_years(reading.core, report_years)


#: a five-year plan's period or its end, by the plan's number ("十三五期间", "“十四五”末")
_PLAN_PERIOD = re.compile(r"“?(十[一二三四五六七八九]?|[一二三四五六七八九])五”?(规划)?(期间|时期|以来|那几年|这几年|末|最后一年)")


def plan_years(text: str, report_years: frozenset[str]) -> set[str]:
    """The years of a five-year plan period asked about ("十三五期间" → 2016–2020) when the reports cover none of
    them (a 2021 report speaks of the 十四五 plan as a whole, not of 十三五's years); the end of a period ("十四五末")
    is its last year, asked on its own."""
    out: set[str] = set()
    for m in _PLAN_PERIOD.finditer(text):
        n = _number(m.group(1))
        if n < 3:
            continue
        first = 1966 + 5 * (n - 3)  # the third plan began in 1966 (the 1st ran 1953–57, the 2nd 1958–62)
        period = {str(y) for y in range(first, first + 5)}
        if m.group(3) in ("末", "最后一年"):
            period = {str(first + 4)}
        if not period & report_years:
            out |= period
    return out


def year_span(years_: Iterable[str]) -> str:
    """Years as the reply names them: runs of three or more as a span ("2016—2020"), else listed."""
    ys = sorted(int(y) for y in years_)
    runs: list[list[int]] = []
    for y in ys:
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    return "、".join(f"{r[0]}—{r[-1]}" if len(r) >= 3 else "、".join(map(str, r)) for r in runs)


def relative_years(text: str, report_years: frozenset[str]) -> set[str]:
    """前年/去年/明年 as years, counted from the newest report (今年 is that report's year)."""
    if not report_years:
        return set()
    newest = max(int(y) for y in report_years)
    return {str(newest + d) for w, d in _RELATIVE_YEAR.items() if w in text}


def _number(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN.get(tens, 1) if tens else 1) * 10 + _CN.get(ones, 0)
    return _CN.get(text, 0)


def _lead_of(best: Scored, scored: list[Scored], hits: tuple[Hit, ...]) -> Scored | None:
    """The topic sentence opening the best unit's paragraph, when the best unit is not it."""
    _, hit_no, unit = best
    if unit.start == 0 or hits[hit_no].passage.citation.start != 0:
        return None
    lead = next((c for c in scored if c[1] == hit_no and c[2].start == 0), None)
    return lead if lead is not None and _is_topic_sentence(lead[2].text) else None


def _follower_of_lead(best: Scored, scored: list[Scored], hits: tuple[Hit, ...]) -> Scored | None:
    """When the best unit is the topic sentence opening a paragraph, the unit right after it."""
    _, hit_no, unit = best
    if unit.start != 0 or hits[hit_no].passage.citation.start != 0 or not _is_topic_sentence(unit.text):
        return None
    return next((c for c in scored if c[1] == hit_no and c[2].start == unit.end), None)


#: a measure asked for after 多少/几 (多少公里, 几亿元), and how much of its keyword weight it keeps
_ASKED_MEASURE = re.compile(r"(?:多少|几)(公里|千米|米|亿元|万元|亿|万|元|亩|万亩|吨|万吨|万人|人|户|斤|亿斤)")
MEASURE_WEIGHT = 0.3


def _score_units(query: Query, reading: Reading, hits: Sequence[Hit], index: Index) -> list[Scored]:
    """(score, hit number, unit) for every unit of the given hits, best first."""
    wants_number = reading.asks == "quantity"
    # the measure asked for ("多少公里") says what kind of figure, not about what: a unit of 公里 on another topic
    # must not outscore the asked topic's sentence
    measures = {m.group(1) for m in _ASKED_MEASURE.finditer(reading.core)} if wants_number else set()
    out = []
    for rank, hit in enumerate(hits):
        # words weigh as in the hit's own report
        weights = {t: w * (MEASURE_WEIGHT if t in measures else 1.0)
                   for t, w in index.weights(query.all_tokens, hit.passage.citation.doc_id).items()}
        total = sum(weights.values())
        first, last = index.passage_units[index.positions[hit.passage.id]]
        if first >= last:
            continue
        dense = index.unit_vectors[first:last] @ query.vector
        for j in range(first, last):
            unit = index.units[j]
            text = unit.text.lower()
            lexical = held(weights, text) / total if total else 0.0
            score = W_DENSE * float(dense[j - first]) + W_LEXICAL * lexical - W_RANK * rank
            if wants_number and _NUMBER.search(unit.text):
                score += W_NUMBER
            if reading.tense:  # one year's target or result: not a figure of several years (年均, 五年)
                target = bool(_TARGET_UNIT.search(unit.text))
                score += W_TENSE * ((target if reading.tense == "target" else -target)
                                    - bool(_SPAN_UNIT.search(unit.text)))
            own = index.unit_tokens[j]
            if own and sum(t not in query.text for t in own) / len(own) < RESTATE_NOVELTY:
                score -= W_RESTATE
            out.append((score, rank, unit))
    out.sort(key=lambda x: -x[0])
    return out
