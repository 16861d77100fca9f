"""The typed, immutable values that flow between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SECTION_NUMERALS = "零一二三四五六七八九十"


@dataclass(frozen=True)
class Document:
    """One report in ``corpus/``, with its metadata sidecar."""

    id: str
    title: str
    path: str
    sha256: str
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Section:
    """A numbered section (``s1``…), a subsection of one (``s3.2`` for 三、…（二）…), the opening (``s0``) or
    the headline block outside them (``h``)."""

    doc_id: str
    key: str  # "s0", "s1"…, "h"
    number: int | None  # 1.. for numbered sections
    heading: str  # the report's own heading text ("" for the opening)
    label: str  # what a citation shows: "第六部分 聚焦基本公共服务需求 坚定不移增进民生福祉"
    #: a （一） subsection: the key of its numbered section ("s3" for "s3.2"); "" otherwise
    parent: str = ""

    @property
    def id(self) -> str:
        return f"{self.doc_id}/{self.key}"


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of a report, page-break splits already repaired. Its id is stable across rebuilds."""

    id: str  # "2021/s6/p2"
    doc_id: str
    section_key: str
    number: int  # paragraph number within its section, from 1
    text: str
    #: line numbers (1-based) in the source file; several when a page break was repaired
    source_lines: tuple[int, ...] = ()

    @property
    def anchor(self) -> str:
        """HTML anchor id of this paragraph in the report reader."""
        return "p-" + self.id.replace("/", "-")


@dataclass(frozen=True)
class Citation:
    """Where a passage comes from: document, section, paragraph and character span in that paragraph."""

    doc_id: str
    doc_title: str
    section_id: str
    section: str
    paragraph_id: str
    paragraph_number: int
    start: int
    end: int
    year: int | None = None  # the report's year (sidecar metadata)
    place: str = ""  # the report's place: a city ("德州市") or "全国"

    @property
    def anchor(self) -> str:
        return "p-" + self.paragraph_id.replace("/", "-")

    def label(self) -> str:
        """Human readable: 《2021年德州市政府工作报告》第六部分 … 第2段 (a section's heading: … 标题)"""
        where = "标题" if self.paragraph_number == 0 else f"第{self.paragraph_number}段"
        return f"《{self.doc_title}》{self.section} {where}"


@dataclass(frozen=True)
class Passage:
    """The retrieval unit: at most one paragraph, carrying its citation and its heading context."""

    id: str  # paragraph id, plus "/cN" when the paragraph was split (2021/h/p1/c3)
    text: str
    context: str  # section heading (and lead sentence of a split paragraph) used for retrieval
    citation: Citation


@dataclass(frozen=True)
class Hit:
    """A passage found for a question, with the scores that ranked it."""

    passage: Passage
    score: float  # fused score the list is sorted by
    dense: float  # cosine similarity of question and passage
    keyword: float  # BM25 score (0 when no query term matched)
    terms: tuple[str, ...] = ()  # query terms found in the passage (for highlighting)

    def to_json(self) -> dict[str, Any]:
        """The public JSON shape shared by the CLI and the API (the first five keys are the original contract;
        ``doc_id``, ``year`` and ``place`` say which report the passage comes from)."""
        c = self.passage.citation
        return {"id": self.passage.id, "doc": c.doc_title, "section": c.section,
                "text": self.passage.text, "score": round(float(self.score), 4),
                "doc_id": c.doc_id, "year": c.year, "place": c.place}


@dataclass(frozen=True)
class SearchResult:
    question: str
    query: str  # the normalised text that was searched
    hits: tuple[Hit, ...]
    timings: dict[str, float] = field(default_factory=dict, compare=False, hash=False)
    #: whether the relevance model thinks the report covers the question (the desk says so when not)
    confident: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"question": self.question, "hits": [h.to_json() for h in self.hits]}


@dataclass(frozen=True)
class AnswerPart:
    """One verbatim sentence or clause of the answer and the citation number (1-based) it comes from."""

    text: str
    citation: int
    #: "《2022年国务院政府工作报告》：" when this part comes from another document than the first part
    #: (so a mixed answer says which figure belongs to which report); "" otherwise
    doc_label: str = ""


@dataclass(frozen=True)
class Topic:
    """A follow-up suggestion: a neighbouring paragraph's own topic sentence (or a section heading), verbatim;
    asking ``text`` asks about that paragraph."""

    text: str
    paragraph_id: str  # the paragraph (or, for a heading, the section id) the topic names

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "id": self.paragraph_id}


#: answer: the report says it; partial: the report covers the topic but not the asked detail (a fixed
#: sentence says what is missing, then the related quotes); refusal: nothing relevant; greeting: small talk
AnswerKind = Literal["answer", "partial", "refusal", "greeting"]
#: where an answer came from: retrieval (the pipeline) or a staff-curated link (the quotes are still verbatim)
AnswerSource = Literal["retrieval", "curated"]


@dataclass(frozen=True)
class Answer:
    question: str
    text: str  # parts joined, each followed by its marker "[n]"; or the refusal / greeting
    found: bool  # true only for kind "answer"
    kind: AnswerKind
    citations: tuple[Hit, ...] = ()
    parts: tuple[AnswerPart, ...] = ()
    #: fixed-template sentences around the quotes of a partial answer ("报告没有提到具体票价。报告中相关的内容是：" /
    #: "具体票价请拨打 12345 咨询。"); never words of the question
    preface: str = ""
    closing: str = ""
    source: AnswerSource = "retrieval"
    relevance: float = 0.0
    query: str = ""  # what was searched (after normalising and follow-up context)
    signals: dict[str, float] = field(default_factory=dict, compare=False, hash=False)  # relevance inputs
    timings: dict[str, float] = field(default_factory=dict, compare=False, hash=False)
    #: follow-up suggestions from the cited section (the chat's chips); empty for refusals and greetings
    related: tuple[Topic, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"question": self.question, "answer": self.text, "found": self.found, "kind": self.kind,
                "source": self.source, "citations": [h.to_json() for h in self.citations],
                "related": [t.to_json() for t in self.related]}


def section_label(number: int) -> str:
    """1 → 第一部分 … 19 → 第十九部分 (sections are numbered in Chinese in citations)."""
    if number <= 10:
        cn = SECTION_NUMERALS[number]
    elif number < 20:
        cn = "十" + SECTION_NUMERALS[number - 10]
    else:
        tens, ones = divmod(number, 10)
        cn = SECTION_NUMERALS[tens] + "十" + (SECTION_NUMERALS[ones] if ones else "")
    return f"第{cn}部分"
