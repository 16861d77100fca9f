"""Stage 6: compose an extractive answer from the retrieved passages.

Entry point: :func:`compose`. The answer is made only of verbatim sentences or clauses of the cited
passages (never a word the report does not say): the unit that best carries the asked fact first, then
closely related units, each followed by its citation marker ``[n]``. Below the relevance threshold the
answer is the fixed refusal; greetings and thanks get a short reply without citations.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

from .index import Index
from .passages import LEAD_MAX, Unit, quote
from .retrieve import Query, Retrieval
from .text import match, years
from .types import Answer, AnswerPart, Hit

REFUSAL = "抱歉，政府工作报告中没有找到与您的问题相关的内容。如需进一步咨询，请拨打 {hotline} 政务服务便民热线。"
GREETING_REPLY = ("您好！我可以回答关于《{title}》的问题，例如今年的发展目标、教育、医疗、交通、乡村振兴等方面的"
                  "安排。请直接输入您的问题。")
THANKS_REPLY = "不客气！还有其他关于政府工作报告的问题，欢迎继续提问。"
BYE_REPLY = "再见！如需进一步咨询，也可以拨打 {hotline} 政务服务便民热线。"

_GREETING = re.compile(r"^(你好|您好|嗨|哈喽|hello|hi|hey|早上好|上午好|下午好|晚上好|在吗|在不在|有人吗)+[啊呀呢吗!~ ]*$")
_THANKS = re.compile(r"^(谢谢|多谢|感谢|谢了|thanks|thank you|thx|好的|好|明白了|知道了|ok|okay)+[啊呀你您了!~ ]*$")
_BYE = re.compile(r"^(再见|拜拜|bye|goodbye|bye bye)+[啊呀了!~ ]*$")
_QUANTITY = re.compile(r"多少|几|多大|多高|多长|目标|how many|how much|增长|比例|%|百分")
_DIGIT = re.compile(r"\d")
_CJK = re.compile(r"[\u3400-\u9fff]")

# evidence a unit carries the answer: dense similarity, share of the question's words, a number when a
# quantity is asked, the rank of its passage; minus a penalty when it only restates the question
W_DENSE, W_LEXICAL, W_NUMBER, W_RANK, W_RESTATE = 1.0, 0.35, 0.05, 0.03, 0.06
#: a further unit is added when it scores within this margin of the best one
EXTRA_MARGIN = 0.04
#: share of a unit's own words the question lacks, below which the unit just restates the question
RESTATE_NOVELTY = 0.34

RelevanceWeights = tuple[float, float, float, float]


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


def signals(retrieval: Retrieval, query: Query) -> dict[str, float]:
    """What the relevance model looks at (also what ``dzqa eval --calibrate`` fits it on)."""
    return {"dense": retrieval.dense_best, "coverage": retrieval.coverage,
            "cjk": 1.0 if _CJK.search(query.text) else 0.0}


def relevance(sig: dict[str, float], weights: Sequence[float]) -> float:
    """0..1 confidence that the report answers the question: a logistic model of the best answer unit's
    cosine, the idf-weighted share of the question's words found in the top passages (it only means
    something for a Chinese question, hence the ``cjk`` terms) and a bias. 0.5 is the decision boundary.
    The weights (DZQA_RELEVANCE_WEIGHTS) were fitted on tests/data/calibration.jsonl for the default model."""
    w_dense, w_cover, w_cjk, bias = weights
    x = w_dense * sig["dense"] + w_cover * sig["coverage"] * sig["cjk"] + w_cjk * sig["cjk"] + bias
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


def compose(question: str, query: Query, retrieval: Retrieval, index: Index, *, hotline: str,
            weights: Sequence[float], min_relevance: float, max_units: int, max_passages: int = 3) -> Answer:
    """The answer for ``question`` from ``retrieval``: verbatim units with citation markers, or the refusal."""
    sig = signals(retrieval, query)
    rel = relevance(sig, weights)
    if years(query.text) - index.years:  # asks about a year the report never mentions
        rel = 0.0
    hits = retrieval.hits[:max_passages]
    scored = _score_units(query, hits, index) if hits and rel >= min_relevance else []
    if not scored:
        return refusal(question, hotline, query=query.text, relevance=rel, signals=sig)
    best_score = scored[0][0]
    chosen = [scored[0]]
    follower = _follower_of_lead(scored, hits)
    if follower is not None:  # the topic sentence names the subject; the sentence after it says what happens
        chosen = [follower, scored[0]]
    for cand in scored[1:]:
        if len(chosen) >= max_units:
            break
        if cand[0] >= best_score - EXTRA_MARGIN and all(cand[2] is not c[2] for c in chosen):
            chosen.append(cand)

    cited: list[Hit] = []
    parts: list[AnswerPart] = []
    for _, hit_no, unit in chosen:
        hit = hits[hit_no]
        if hit not in cited:
            cited.append(hit)
        parts.append(AnswerPart(text=quote(unit.text), citation=cited.index(hit) + 1))
    text = "".join(f"{p.text}[{p.citation}]" for p in parts)
    return Answer(question=question, text=text, found=True, kind="answer", citations=tuple(cited),
                  parts=tuple(parts), relevance=rel, query=query.text, signals=sig)


def _follower_of_lead(scored: list[tuple[float, int, Unit]], hits: tuple[Hit, ...]) -> tuple[float, int, Unit] | None:
    """When the best unit is the topic sentence opening a paragraph, the unit right after it."""
    _, hit_no, unit = scored[0]
    if unit.start != 0 or hits[hit_no].passage.citation.start != 0 or len(unit.text) > LEAD_MAX \
            or not unit.text.endswith("。"):
        return None
    return next((c for c in scored if c[1] == hit_no and c[2].start == unit.end), None)


def _score_units(query: Query, hits: tuple[Hit, ...], index: Index) -> list[tuple[float, int, Unit]]:
    """(score, hit number, unit) for every unit of the given hits, best first."""
    weights = {t: index.idf.get(t, index.top_idf) for t in set(query.all_tokens)}
    total = sum(weights.values())
    wants_number = bool(_QUANTITY.search(query.text))
    out = []
    for rank, hit in enumerate(hits):
        first, last = index.passage_units[index.positions[hit.passage.id]]
        if first >= last:
            continue
        dense = index.unit_vectors[first:last] @ query.vector
        for j in range(first, last):
            unit = index.units[j]
            text = unit.text.lower()
            lexical = sum(w * match(t, text) for t, w in weights.items()) / total if total else 0.0
            score = W_DENSE * float(dense[j - first]) + W_LEXICAL * lexical - W_RANK * rank
            if wants_number and _DIGIT.search(unit.text):
                score += W_NUMBER
            own = index.unit_tokens[j]
            if own and sum(t not in query.text for t in own) / len(own) < RESTATE_NOVELTY:
                score -= W_RESTATE
            out.append((score, rank, unit))
    out.sort(key=lambda x: -x[0])
    return out
