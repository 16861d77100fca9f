"""Stage 5: find the passages for a question: dense (FAISS) and keyword (BM25) lists, fused.

Entry point: :func:`retrieve`. The two lists are fused with reciprocal rank fusion; a passage found by
only one side still ranks. The signals it returns (best unit cosine, coverage of the
question's words) feed :func:`dzqa.answer.relevance`, which decides when to refuse.
"""

from __future__ import annotations

import time
from typing import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from .index import Index
from .text import match
from .types import Hit

#: each side contributes at most this many candidates to the fusion
CANDIDATES = 30


@dataclass(frozen=True)
class Query:
    """A question prepared for retrieval."""

    text: str  # normalised text
    tokens: tuple[str, ...]  # BM25 tokens known to the index
    all_tokens: tuple[str, ...]  # every content token, known or not
    vector: np.ndarray = field(compare=False, repr=False)
    #: the report's quoted programme names the question itself names (not one a bridge added)
    named: tuple[str, ...] = ()


@dataclass(frozen=True)
class Retrieval:
    hits: tuple[Hit, ...]
    dense_best: float  # highest cosine over all passages
    coverage: float  # share (idf-weighted) of the question's content words found in the top hit
    timings: dict[str, float]
    keyword_best: float = 0.0  # highest BM25 score
    agree: bool = False  # the dense and the keyword list have the same first passage
    dense_gap: float = 0.0  # best cosine minus the tenth best passage's: how clearly one part of the report stands out


def retrieve(index: Index, query: Query, k: int, rrf_k: int, *, section: str | None = None,
             rows: Collection[int] | None = None, exclude: Collection[int] = ()) -> Retrieval:
    """Top ``k`` passages for ``query``; ``rows``: only these passage rows (a document, year or section filter,
    see :meth:`dzqa.engine.Engine.filter_rows`); ``section``: only one section id such as ``2021/s6`` and its
    subsections; ``exclude``: rows never returned (passages only a question about the report itself reads)."""
    if section:
        inside = frozenset(i for i, p in enumerate(index.passages) if in_section(p.citation.section_id, section))
        rows = inside if rows is None else inside & frozenset(rows)
    n = len(index.passages)
    cand = min(n, max(CANDIDATES, k * 3))
    t0 = time.perf_counter()
    dense_scores = _dense(index, query, cand, rows)
    dense_ids = sorted(dense_scores, key=lambda i: -dense_scores[i])[:cand]
    t1 = time.perf_counter()
    keyword_scores: dict[int, float] = {}
    keyword_ids: list[int] = []
    if query.tokens:
        bm = index.keywords.scores(query.tokens)
        top = np.argpartition(-bm, cand - 1)[:cand] if n > cand else np.arange(n)
        top = top[np.argsort(-bm[top], kind="stable")]
        if rows is not None:  # a filter: rank within its passages, not just the global top
            allowed = np.fromiter(rows, dtype=np.int64, count=len(rows))
            top = allowed[np.argsort(-bm[allowed], kind="stable")][:cand] if len(allowed) else allowed
        keyword_ids = [int(i) for i in top if bm[i] > 0]
        keyword_scores = {i: float(bm[i]) for i in keyword_ids}
    # a programme name the report puts in quotation marks ("两基地一中心"), asked verbatim, identifies its passages
    # better than any ranking: they form a third list
    named_ids: list[int] = []
    if query.named and keyword_ids:
        having = index.keywords.scores(query.named) > 0
        named_ids = [i for i in keyword_ids if having[i]]
    t2 = time.perf_counter()

    if exclude:
        dense_scores = {i: v for i, v in dense_scores.items() if i not in exclude}
        dense_ids = [i for i in dense_ids if i not in exclude]
        keyword_ids = [i for i in keyword_ids if i not in exclude]
        keyword_scores = {i: keyword_scores[i] for i in keyword_ids}
        named_ids = [i for i in named_ids if i not in exclude]
    fused: dict[int, float] = {}
    for ranked in (dense_ids, keyword_ids, named_ids):
        for rank, i in enumerate(ranked, start=1):
            fused[i] = fused.get(i, 0.0) + 1.0 / (rrf_k + rank)
    order = sorted(fused, key=lambda i: (-fused[i], -dense_scores.get(i, -1.0)))[:k]
    hits = []
    for i in order:
        p = index.passages[i]
        dense = dense_scores[i] if i in dense_scores else _passage_dense(index, query, i)
        text = p.text.lower()
        terms = tuple(t for t in query.all_tokens if t in text)
        hits.append(Hit(passage=p, score=fused[i], dense=dense, keyword=keyword_scores.get(i, 0.0), terms=terms))
    t3 = time.perf_counter()
    best = max(dense_scores.values(), default=0.0)
    cover = max((coverage(index, query, h) for h in hits[:3]), default=0.0)
    timings = {"faiss": t1 - t0, "bm25": t2 - t1, "fusion": t3 - t2}
    ranked = sorted(dense_scores.values(), reverse=True)
    gap = best - ranked[min(9, len(ranked) - 1)] if ranked else 0.0
    agree = bool(dense_ids and keyword_ids and dense_ids[0] == keyword_ids[0])
    return Retrieval(tuple(hits), best, cover, timings, keyword_best=max(keyword_scores.values(), default=0.0),
                     agree=agree, dense_gap=gap)


def in_section(section_id: str, wanted: str) -> bool:
    """Whether a passage of ``section_id`` is in section ``wanted``: the section itself or one of its
    subsections (``cn2021/s3.2`` is in ``cn2021/s3``)."""
    return section_id == wanted or section_id.startswith(wanted + ".")


def nearest(index: Index, query: Query, n: int, rows: Collection[int] | None = None) -> dict[int, float]:
    """The ``n`` passages nearest to the query by meaning alone: passage row → its best unit's cosine."""
    scores = _dense(index, query, max(n, 1), rows)
    return dict(sorted(scores.items(), key=lambda kv: -kv[1])[:n])


def _dense(index: Index, query: Query, cand: int, rows: Collection[int] | None) -> dict[int, float]:
    """Passage row → its best unit's cosine, for the passages of the best units."""
    best: dict[int, float] = {}
    if rows is not None:  # a filter needs every unit of its passages, not just the global top
        for i in sorted(rows):
            best[i] = _passage_dense(index, query, i)
        return best
    # several units of one passage may be among the best: ask for more units than passages wanted
    units = min(index.dense.ntotal, cand * 4)
    scores, ids = index.dense.search(query.vector.reshape(1, -1), units)
    for s, u in zip(scores[0], ids[0]):
        if u < 0:
            continue
        p = int(index.unit_passage[u])
        if p not in best:  # results come best first
            best[p] = float(s)
    return best


def _passage_dense(index: Index, query: Query, row: int) -> float:
    first, last = index.passage_units[row]
    if first >= last:
        return 0.0
    return float(np.max(index.unit_vectors[first:last] @ query.vector))


def coverage(index: Index, query: Query, hit: Hit) -> float:
    """idf-weighted share of the question's content words that occur in the hit (unknown words count)."""
    return covers(index, query.all_tokens, hit)


def covers(index: Index, tokens: Sequence[str], hit: Hit) -> float:
    """idf-weighted share of ``tokens`` found in the hit's passage and heading (unknown words weigh most)."""
    if not tokens:
        return 0.0
    weights = index.weights(tokens, hit.passage.citation.doc_id)
    total = sum(weights.values())
    return held(weights, (hit.passage.context + hit.passage.text).lower()) / total if total else 0.0


def held(weights: dict[str, float], text: str) -> float:
    """The summed weight of the words of ``weights`` that the (lowercased) ``text`` holds."""
    return sum(w * match(t, text) for t, w in weights.items())
