"""Follow-up suggestions: the topics next to what an answer cited, in the report's own words.

After an answer the chat offers two or three chips. They are never invented wording: each is the topic
sentence a neighbouring paragraph of the cited section opens with (``更大力度提升科技创新能力。…``), or,
when the section has too few, the one the next or previous section opens with. Asking a chip's text asks
about that paragraph. :func:`related_topics` is the one entry point; it reads only the corpus.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

from .corpus import Corpus
from .types import Paragraph, Section, Topic

#: a paragraph's topic sentence: its opening clause, up to the first full stop, semicolon or colon, when
#: short enough to be a heading (the Dezhou report and the national ones open most paragraphs so)
_LEAD = re.compile(r"([^。！？；;：:，,]{4,24})[。；;：:]")
#: how many chips follow an answer (the issue asks for 2–3)
TOPICS = 3


def topic_sentence(paragraph: Paragraph) -> str:
    """The opening clause of a paragraph when it reads as a heading, "" otherwise. A paragraph that is
    nothing but its heading (``实施文体惠民工程。``) gives "": asking it would quote only the heading."""
    m = _LEAD.match(paragraph.text.strip())
    if not m:
        return ""
    rest = paragraph.text.strip()[m.end():].strip()
    return m.group(1).strip() if len(rest) >= 8 else ""


class Outline:
    """The corpus as sections in reading order, each with its paragraphs: built once per engine."""

    def __init__(self, corpus: Corpus) -> None:
        self.sections: dict[tuple[str, str], Section] = {}
        self.order: dict[str, list[str]] = {}  # doc id → section keys in reading order
        self.paragraphs: dict[tuple[str, str], list[Paragraph]] = {}
        self.where: dict[str, tuple[str, str]] = {}  # paragraph id → (doc id, section key)
        for report in corpus.reports:
            doc = report.document.id
            self.order[doc] = [s.key for s in report.sections]
            for s in report.sections:
                self.sections[(doc, s.key)] = s
                self.paragraphs[(doc, s.key)] = []
            for p in report.paragraphs:
                self.paragraphs.setdefault((doc, p.section_key), []).append(p)
                self.where[p.id] = (doc, p.section_key)

    def related_topics(self, cited: Sequence[str], k: int = TOPICS) -> tuple[Topic, ...]:
        """Up to ``k`` topics near the first cited paragraph (ids of paragraphs or of their chunks), nearest
        first, leaving out what was cited; then the first topics of the neighbouring sections."""
        cited_paras = [c.split("/c")[0] if "/c" in c else c for c in cited]
        first = next((self.where[c] for c in cited_paras if c in self.where), None)
        if first is None:
            return ()
        doc, key = first
        skip = set(cited_paras)
        own = self.paragraphs.get(first, [])
        anchor = next((i for i, p in enumerate(own) if p.id in skip), 0)
        seen: set[str] = {topic_sentence(p) for p in own if p.id in skip} - {""}
        out: list[Topic] = []

        def add(text: str, ident: str) -> None:
            if text and text not in seen and len(out) < k:
                seen.add(text)
                out.append(Topic(text=text, paragraph_id=ident))

        for p in _by_distance(own, anchor):
            if p.id not in skip:
                add(topic_sentence(p), p.id)
        keys = self.order.get(doc, [])
        at = keys.index(key) if key in keys else 0
        for other in _by_distance(keys, at):  # a short section: the topics the next sections open with
            section = self.sections.get((doc, other))
            if section is not None and section.number is not None:
                for p in self.paragraphs.get((doc, other), [])[:1]:
                    add(topic_sentence(p), p.id)
        return tuple(out)


def _by_distance(items: Sequence, at: int) -> Iterable:
    """items[at+1], items[at-1], items[at+2], … : the nearest first, the following before the preceding."""
    for d in range(1, len(items)):
        for i in (at + d, at - d):
            if 0 <= i < len(items):
                yield items[i]
