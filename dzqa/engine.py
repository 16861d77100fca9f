"""The front door: one :class:`Engine` used by the CLI, the web app and the tests alike.

    engine = Engine.open()                 # load corpus, model and index (building them if needed)
    engine.search("公办幼儿园", k=5)        # → SearchResult
    engine.ask("今年要新建多少所公办幼儿园？")  # → Answer with citations
"""

from __future__ import annotations

import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

from . import answer as answer_mod
from .corpus import Corpus, CorpusError, load_corpus
from .embed import QueryEncoder, query_encoder
from .index import Index, IndexNotReady, build_index, build_lock, check_index, fingerprint, index_path, load_index
from .model import ModelError, ModelSpec, resolve_model
from .retrieve import Query, Retrieval, covers, retrieve
from .settings import Settings, get_settings
from .text import Tokenizer, has_content, is_valid_unicode, normalize
from .types import Answer, Paragraph, Passage, SearchResult, Section

log = logging.getLogger("dzqa")

#: follow-up questions lean on the previous one: "那农村呢？", "还有呢", "what about schools"
_FOLLOW_UP_START = re.compile(r"^(那|那么|那要是|还有|另外|其他|其它|再|以及|and |what about |how about )")
_FOLLOW_UP_END = re.compile(r"(呢|吗|怎么样|如何|又如何|怎样)$")
FOLLOW_UP_MAX_CHARS = 12
#: a follow-up read with the previous question must still find its own words (idf-weighted share)
FOLLOW_UP_MIN_COVERAGE = 0.5


class QuestionError(ValueError):
    """The question cannot be asked as given (empty, too long, no words); the message says why."""


#: errors a user can cause and fix; the CLI and the API show their message instead of a traceback
UserError = (QuestionError, CorpusError, IndexNotReady, ModelError)


@dataclass(frozen=True)
class ReadyInfo:
    built: bool  # the index was (re)built while opening
    reason: str  # why it was rebuilt ("" when it was loaded as is)
    seconds: float


def check_question(question: Any, max_chars: int) -> str:
    """The question as a string, or :class:`QuestionError` saying what is wrong with it."""
    if not isinstance(question, str):
        raise QuestionError("问题必须是文字 (question must be a string)")
    if not question.strip():
        raise QuestionError("问题不能为空 (question is empty)")
    if len(question) > max_chars:
        raise QuestionError(f"问题太长：最多 {max_chars} 个字，当前 {len(question)} 个字 "
                            f"(question is longer than {max_chars} characters)")
    if not is_valid_unicode(question):
        raise QuestionError("问题含有无效字符 (question contains invalid Unicode: lone surrogates)")
    return question


def follow_up_query(question: str, history: Sequence[str]) -> str:
    """The normalised text to search: a short follow-up question is read with the previous question."""
    q = normalize(question)
    if not history:
        return q
    prev = normalize(history[-1])
    if prev and len(q) <= FOLLOW_UP_MAX_CHARS and (_FOLLOW_UP_START.search(q) or _FOLLOW_UP_END.search(q)
                                                     or len(q) <= 4):
        return f"{prev} {q}"
    return q


class Engine:
    """Corpus, index, query encoder and tokenizer, loaded once; search and ask are then fast and thread-safe."""

    def __init__(self, settings: Settings, corpus: Corpus, spec: ModelSpec, index: Index,
                 encoder: QueryEncoder, tokenizer: Tokenizer, ready: ReadyInfo) -> None:
        self.settings = settings
        self.corpus = corpus
        self.spec = spec
        self.index = index
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.ready = ready
        self.title = corpus.reports[0].document.title
        self._paragraphs = {p.id: p for p in corpus.paragraphs}

    # ---------------------------------------------------------------------------------------- opening
    @classmethod
    def open(cls, settings: Settings | None = None, *, rebuild: bool = False,
             progress: Callable[[str, int, int], None] | None = None) -> "Engine":
        """Load everything; a missing, stale or damaged index is rebuilt (unless ``DZQA_BUILD=never``)."""
        settings = settings or get_settings()
        started = time.perf_counter()
        corpus = load_corpus(settings.corpus_dir)
        for problem in corpus.problems:
            log.warning("corpus file skipped: %s", problem)
        spec = resolve_model(settings)
        fp = fingerprint(corpus, spec, settings)
        path = index_path(settings, fp)
        problem = "rebuild requested" if rebuild else check_index(path, fp)
        index = None
        if not problem:
            try:
                index = load_index(path)
            except (IndexNotReady, OSError, ValueError, RuntimeError) as e:  # passes checksums, fails to load
                problem = f"damaged ({e})"
        st_model = None
        if index is None:
            if settings.build == "never":
                raise IndexNotReady(f"the index in {settings.index_dir} is {problem}; run `dzqa build`")
            with build_lock(settings):
                again = "rebuild requested" if rebuild else check_index(path, fp)
                if again or problem.startswith("damaged"):  # another process may have built it meanwhile
                    log.log(logging.INFO if rebuild else logging.WARNING, "building the index (%s)", problem)
                    from .embed import load_sentence_transformer

                    st_model = load_sentence_transformer(spec, settings)
                    build_index(corpus, spec, settings, st_model=st_model, progress=progress)
            index = load_index(path)
        samples = [p.text for p in index.passages[:8]]
        # the encoder's onnxruntime session loads without the GIL while jieba loads its dictionary here
        with ThreadPoolExecutor(1, thread_name_prefix="dzqa-open") as pool:
            pending = pool.submit(query_encoder, spec, settings, st_model=st_model, samples=samples)
            tokenizer = Tokenizer(index.terms, settings.cache_dir / "jieba")
            encoder = pending.result()
        if encoder.dim != index.dim:
            raise IndexNotReady(f"query encoder gives {encoder.dim}-d vectors but the index has {index.dim}-d; "
                                f"run `dzqa build`")
        ready = ReadyInfo(built=bool(problem), reason=problem or "", seconds=time.perf_counter() - started)
        return cls(settings, corpus, spec, index, encoder, tokenizer, ready)

    # ----------------------------------------------------------------------------------------- asking
    def prepare(self, text: str) -> tuple[Query, float]:
        """Tokens and vector of a normalised question; returns the encode time too."""
        all_tokens = tuple(self.tokenizer(text))
        known = tuple(t for t in all_tokens if t in self.index.vocab)
        t0 = time.perf_counter()
        vector = self.encoder.encode(text)
        return Query(text=text, tokens=known, all_tokens=all_tokens, vector=vector), time.perf_counter() - t0

    def search(self, question: str, k: int | None = None, *, section: str | None = None) -> SearchResult:
        """The top ``k`` passages for a question, best first (``section``: only from e.g. ``2021/s6``)."""
        check_question(question, self.settings.max_question_chars)
        k = self.settings.top_k if k is None else k
        text = normalize(question)
        if not has_content(text):
            raise QuestionError("问题里没有可检索的文字 (question has no words to search)")
        query, encode = self.prepare(text)
        r = retrieve(self.index, query, k, self.settings.rrf_k, section=section)
        return SearchResult(question=question, query=text, hits=r.hits, timings={"encode": encode, **r.timings})

    def ask(self, question: str, history: Sequence[str] = ()) -> Answer:
        """An extractive, cited answer; ``history`` holds earlier questions of the same conversation."""
        s = self.settings
        check_question(question, s.max_question_chars)
        t0 = time.perf_counter()
        reply = answer_mod.small_talk(normalize(question), self.title, s.hotline)
        if reply is not None:
            return Answer(question=question, text=reply, found=False, kind="greeting")
        text = follow_up_query(question, [h for h in history if isinstance(h, str)])
        if not has_content(text):
            return answer_mod.refusal(question, s.hotline, query=text)
        query, encode = self.prepare(text)
        r = retrieve(self.index, query, s.top_k, s.rrf_k)
        own = normalize(question)
        if text != own and not self._follow_up_holds(own, r):
            # the earlier question steered the search away from what is asked now ("医保" after a question
            # on kindergartens): ask this one on its own
            text = own
            query, again = self.prepare(text)
            encode += again
            r = retrieve(self.index, query, s.top_k, s.rrf_k)
        t1 = time.perf_counter()
        result = answer_mod.compose(question, query, r, self.index, hotline=s.hotline, weights=s.relevance,
                                    min_relevance=s.min_relevance, max_units=s.max_answer_units)
        timings = {"encode": encode, **r.timings, "answer": time.perf_counter() - t1,
                   "total": time.perf_counter() - t0}
        return replace(result, timings=timings)

    def _follow_up_holds(self, own: str, r: Retrieval) -> bool:
        """Whether the passage found for question + previous question has this question's own content words
        (a bare "还有呢" has none: then the previous question alone decides)."""
        words = self.tokenizer(_FOLLOW_UP_END.sub("", _FOLLOW_UP_START.sub("", own)))
        return not words or (bool(r.hits) and covers(self.index, words, r.hits[0]) >= FOLLOW_UP_MIN_COVERAGE)

    # -------------------------------------------------------------------------------------- reference
    def passage(self, passage_id: str) -> Passage | None:
        row = self.index.positions.get(passage_id)
        return None if row is None else self.index.passages[row]

    def paragraph(self, paragraph_id: str) -> Paragraph | None:
        return self._paragraphs.get(paragraph_id)

    def sections(self) -> tuple[Section, ...]:
        return self.corpus.sections

    def info(self) -> dict[str, Any]:
        m = self.index.manifest
        return {
            "model": self.spec.name, "model_path": self.spec.path, "model_identity": self.spec.identity,
            "query_encoder": self.encoder.name, "dim": self.index.dim,
            "documents": [{"id": d["id"], "title": d["title"], "file": d["file"], "paragraphs": d["paragraphs"]}
                          for d in m["corpus"]["documents"]],
            "passages": m["passages"], "answer_units": m["units"], "dense_index": m["dense"],
            "fingerprint": m["fingerprint"], "built_at": m["built_at"], "build_seconds": m["build_seconds"],
            "index_path": str(self.index.path), "corpus_problems": list(self.corpus.problems),
        }
