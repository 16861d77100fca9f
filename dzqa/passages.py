"""Stage 2: split paragraphs into passages (the retrieval unit) and passages into answer units.

Entry point: :func:`make_passages`. A passage is at most one paragraph; a long paragraph (such as the list
of the year's targets) is split at sentence, then clause boundaries with langchain's recursive splitter,
so one target can be found and cited on its own. Every passage keeps its citation (document, section,
paragraph id, character span) and its heading context for retrieval.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from .corpus import Corpus
from .types import Citation, Passage

#: strongest boundary first; kept at the end of each piece, so pieces concatenate back to the paragraph
#: (a colon introduces what follows, e.g. the list of targets, so it is no boundary)
SEPARATORS = ["\n\n", "\n", "。", "！", "？", "!", "?", "；", ";", "，", ",", "、", " ", ""]
_SENTENCE_END = re.compile(r"[^。！？!?；;]+[。！？!?；;]*")
_CLAUSE_END = re.compile(r"[^，,]+[，,]*")
#: sentences longer than this are offered to the answer clause by clause
UNIT_SENTENCE_MAX = 60
UNIT_CLAUSE_MIN = 10
#: a paragraph's first sentence up to this long is a topic sentence (更大力度打造优质特色产业集群。)
LEAD_MAX = 30


@dataclass(frozen=True)
class Unit:
    """A sentence or clause of a passage: the smallest piece an answer quotes."""

    passage: int  # index of the passage in the index's passage list
    start: int  # span within the passage text
    end: int
    text: str


def make_passages(corpus: Corpus, chunk_size: int, max_chars: int) -> list[Passage]:
    """All passages of the corpus in reading order."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        separators=SEPARATORS, keep_separator="end", chunk_size=chunk_size, chunk_overlap=0,
        length_function=len, strip_whitespace=False)
    out: list[Passage] = []
    for report in corpus.reports:
        doc = report.document
        sections = {s.key: s for s in report.sections}
        year, place = document_year(doc.meta), document_place(doc.meta)
        marks = delivery_marks(doc.meta)
        headed: set[str] = set()
        for para in report.paragraphs:
            section = sections[para.section_key]
            heading = section.heading if section.number is not None else delivery_lines(section.heading, marks)
            if para.section_key not in headed and heading:
                # a numbered section's heading is a passage of its own (paragraph 0): questions ask about it
                # ("第七部分讲什么", "哪八个方面"), and it is quoted verbatim like any other sentence; so are the
                # lines of an unnumbered one naming the report's delivery (the national reports' "——2022年3月5日在
                # 第十三届全国人民代表大会第五次会议上" and "国务院总理　李克强": who delivered it, when, where)
                headed.add(para.section_key)
                cit = Citation(doc_id=doc.id, doc_title=doc.title, section_id=section.id, section=section.label,
                               paragraph_id=heading_id(section.id), paragraph_number=0, start=0,
                               end=len(heading), year=year, place=place)
                out.append(Passage(id=heading_id(section.id), text=heading, context=section.label, citation=cit))
            text = para.text
            pieces = [text] if len(text) <= chunk_size else splitter.split_text(text)
            spans = _spans(text, pieces)
            lead = _lead_sentence(text)
            for i, (start, end) in enumerate(spans, start=1):
                piece = text[start:end]
                if len(piece) > max_chars:  # only a run of text without any separator gets here
                    raise ValueError(f"{para.id}: a piece of {len(piece)} characters has no boundary")
                context = section.heading
                if i > 1 and lead:
                    context = f"{context} {lead}".strip()
                pid = para.id if len(spans) == 1 else f"{para.id}/c{i}"
                cit = Citation(doc_id=doc.id, doc_title=doc.title, section_id=section.id,
                               section=section.label, paragraph_id=para.id,
                               paragraph_number=para.number, start=start, end=end, year=year, place=place)
                out.append(Passage(id=pid, text=piece, context=context, citation=cit))
    return out


def heading_id(section_id: str) -> str:
    """The id of a section's heading passage: ``2021/s6/h``."""
    return f"{section_id}/h"


def document_year(meta: dict) -> int | None:
    """The report's year from its sidecar ("year": 2021), else None."""
    try:
        return int(meta["year"]) if meta.get("year") not in (None, "") else None
    except (TypeError, ValueError):
        return None


def document_place(meta: dict) -> str:
    """The report's place from its sidecar: "place", else "city" (e.g. 德州市, 全国), else ""."""
    return str(meta.get("place") or meta.get("city") or "")


def _spans(text: str, pieces: Iterable[str]) -> list[tuple[int, int]]:
    """Character spans of consecutive pieces; the splitter keeps every character, so they tile the text."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for piece in pieces:
        start = text.find(piece, pos)
        if start < 0:
            raise ValueError(f"splitter changed the text near {piece[:20]!r}")
        spans.append((start, start + len(piece)))
        pos = start + len(piece)
    if not spans or spans[0][0] != 0 or spans[-1][1] != len(text):
        raise ValueError("splitter dropped text")
    return spans


def _lead_sentence(text: str) -> str:
    """The topic sentence opening a paragraph ("实施教育提升工程。"), when it is short."""
    m = _SENTENCE_END.match(text)
    return m.group(0) if m and len(m.group(0)) <= LEAD_MAX else ""


def split_units(passage_index: int, text: str) -> list[Unit]:
    """Sentences of a passage; long sentences are split into clauses. Spans tile the passage."""
    units: list[Unit] = []
    for m in _SENTENCE_END.finditer(text):
        sentence = m.group(0)
        if len(sentence) <= UNIT_SENTENCE_MAX:
            units.append(Unit(passage_index, m.start(), m.end(), sentence))
            continue
        pending = m.start()
        for c in _CLAUSE_END.finditer(sentence):
            end = m.start() + c.end()
            if end - pending < UNIT_CLAUSE_MIN and end < m.end():
                continue  # too short to stand alone ("根据市委的总体部署,"): keep it with the next clause
            units.append(Unit(passage_index, pending, end, text[pending:end]))
            pending = end
        if pending < m.end():
            units.append(Unit(passage_index, pending, m.end(), text[pending:m.end()]))
    return [u for u in units if u.text.strip()]


def quote(unit_text: str) -> str:
    """The unit as quoted in an answer: verbatim, without a dangling comma or colon."""
    return unit_text.strip().rstrip(",，、:：")


def delivery_lines(heading: str, marks: Iterable[str]) -> str:
    """The lines of a title page (a heading joined with " · ") from the first naming the delivery to its end,
    as the source writes them one after the other; "" when none names it."""
    lines = heading.split(" · ")
    first = next((i for i, line in enumerate(lines) if any(m in line for m in marks)), None)
    return "" if first is None else "".join(lines[first:])


def delivery_marks(meta: dict[str, Any]) -> tuple[str, ...]:
    """The strings a report's own text uses for its delivery, from its sidecar: the speaker, the occasion and
    the date as Chinese writes it ("2021-01-23" → 2021年1月23日, 1月23日)."""
    marks = [str(meta[k]) for k in ("speaker", "occasion") if isinstance(meta.get(k), str) and meta[k].strip()]
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", str(meta.get("date", "")))
    if m:
        day = f"{int(m.group(2))}月{int(m.group(3))}日"
        marks += [f"{m.group(1)}年{day}", day]
    return tuple(marks)
