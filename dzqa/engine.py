"""The front door: one :class:`Engine` used by the CLI, the web app and the tests alike.

    engine = Engine.open()                 # load corpus, model and index (building them if needed)
    engine.search("公办幼儿园", k=5)        # → SearchResult
    engine.ask("今年要新建多少所公办幼儿园？")  # → Answer with citations
"""

from __future__ import annotations

import copy
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from . import answer as answer_mod
from .curated import CuratedError, CuratedSource, CuratedStore
from .corpus import Corpus, CorpusError, corpus_title, load_corpus
from .embed import QueryEncoder, query_encoder
from .index import Index, IndexNotReady, build_index, build_lock, check_index, fingerprint, index_path, load_index
from .answer import relative_years, years_asked
from .model import ModelError, ModelSpec, resolve_model
from .passages import document_place, document_year
from .question import (DETAIL_TYPES, GLUE_CHARS, VAGUE_THINGS, Reader, Reading, answer_type, detail_spans,
                       split_unknown, without)
from .related import Outline as TopicOutline
from .retrieve import Query, covers, in_section, nearest, retrieve
from .settings import Settings, get_settings
from .text import Tokenizer, has_content, is_valid_unicode, match, normalize, years
from .types import Answer, AnswerPart, Document, Hit, Paragraph, Passage, SearchResult, Section, Topic

log = logging.getLogger("dzqa")

#: follow-up questions lean on the previous one: "那农村呢？", "还有呢", "what about schools"
_FOLLOW_UP_START = re.compile(r"^(那|那么|那要是|还有|另外|其他|其它|再|以及|and |what about |how about )")
_FOLLOW_UP_END = re.compile(r"(呢|吗|怎么样|如何|又如何|怎样)$")
#: a follow-up about the previous answer itself: "为什么要这样做？", "具体提到了哪些工程？", "要达到多少？"
_ABOUT_PREVIOUS = re.compile(r"这|那样|那个|那些|它|其中|其|此|具体|为什么|为啥|为何|为了|为的|目的|原因|意义|作用|用处|效果|"
                             r"包括|包含|都有|还有|别的|其他|其它|另外|有关|关系|咋|怎么|如何|多少|几|哪|什么|啥|钱|价|时候|时间|"
                             r"例子|举例|^举$|比如|比方|^(项目|措施|举措|内容|方面|安排|打算|代表性|目标)$|"
                             r"why|what|how|which")
#: a follow-up asking only for more of the same ("还有呢？", "其他的呢", "还有别的吗")
_MORE = re.compile(r"^(那|那么)?(还有|另外|其他|其它|别的|此外|除此之外|除了这些|除了这个|除此以外)(的|别的|其他的)?"
                   r"(呢|吗|啥|什么|没有|没|哪些|吧|嘛|啊|呀)*[？?。!！]*$")
#: a follow-up asking where the previous answer stands in the report ("这个属于哪块工作？", "这部分标题是啥")
_SECTION_ASKED = re.compile(r"(属于|归到|归于|归|算|放在)(报告|政府工作)?的?(哪一?块|哪一?部分|哪个部分|哪个?方面|哪一章|哪个板块|"
                            r"哪个领域|什么部分|什么方面)(的?工作|的?内容)?|(这|那)(一?部分|一?块|个部分)的?(标题|题目)|标题(是|叫)(啥|什么)")
#: a question typed with its question mark (normalising strips it; a story's last clause then asks)
_ASKED_AT_END = re.compile(r"[？?]\s*$")
#: a conversation about what the home city does with other places ("德州怎么对接京津冀", "跟北京咋合作")
_WITH_OTHERS = re.compile(r"对接|合作|融入|同城|协同|一体化|联通|互联互通|接轨")
#: words that point back at the previous answer ("这样做", "那些", "具体")
_ANAPHORA = re.compile(r"这|那样|那个|那些|它|其中|其|此|具体|还有")
#: single-character stopwords (要, 能, 的…): stripped from the edges of a follow-up's unknown words
_FUNCTION_CHARS = "".join(sorted(GLUE_CHARS))
FOLLOW_UP_MAX_CHARS = 16
#: a question this short leans on the previous one even without a marker ("门票多少钱？")
FOLLOW_UP_BARE_CHARS = 6
#: a detail asked in a conversation without pointing back ("啥时候考试？") is of the topic's answer when that
#: answer's passage is among the question's this many nearest passages by meaning
NEAR_TOPIC_RANK = 2
#: … and its cosine this close to the nearest passage's
NEAR_TOPIC_MARGIN = 0.01
#: how far back a conversation's topic is looked for
MAX_TOPIC_TURNS = 6
_CJK = re.compile(r"[\u3400-\u9fff]")
#: a follow-up read with the previous question must still find its own words (idf-weighted share)
FOLLOW_UP_MIN_COVERAGE = 0.5
#: a question refused on its own but read with the conversation's topic must find this much of its own words
IN_CONTEXT_MIN_COVERAGE = 0.3


def _checkable(words: Sequence[str]) -> list[str]:
    """The words a Chinese passage can be checked for (English words never occur in the report); a word inside
    a longer one of the question is checked as that one ("疾控中心", not its "中心")."""
    cjk = [w for w in words if _CJK.search(w)]
    return [w for w in cjk if not any(w != o and w in o for o in cjk)]


def _with_earlier(reading: Reading, earlier: Reading, text: str) -> tuple[Reading, str]:
    """A follow-up read with the earlier question: the reading and the text to search (``text``: the
    follow-up as its caller searches it). The earlier question's bridged words come along ("今年GDP目标是多少？"
    → "那济南呢？") unless the follow-up bridges words of its own ("And retail sales?"): then they would outweigh
    what is new."""
    if reading.bridged or not earlier.bridged:
        return reading, f"{earlier.core} {text}"
    return replace(reading, bridged=earlier.bridged), f"{earlier.search_text} {text}"


def _quotes(answer: Answer, words: Sequence[str], share: float = 0.5) -> bool:
    """Whether the answer's quoted parts hold at least ``share`` (half) of ``words``."""
    quoted = "".join(p.text for p in answer.parts).lower()
    return bool(words) and sum(match(w, quoted) for w in words) >= len(words) * share


@dataclass(frozen=True)
class Scoped:
    """A document as the scope logic sees it: its place, year, passage rows and the earlier years whose
    results it reviews (the years before its own that its text names: 2022's national report reviews 2021)."""

    id: str
    place: str
    year: int | None
    rows: frozenset[int]
    reviews: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Scope:
    """The passage rows to try in order (None: all), and the asked years the place has no report of."""

    rows: tuple[frozenset[int] | None, ...]
    missing: frozenset[str] | None
    have: frozenset[str] | None
    #: no place named: the home city's reports lead, and the widest scope may still cover the question better
    unplaced: bool = False
    #: the rows of each asked year's report when two or more reports answer the years asked (a comparison)
    split: tuple[frozenset[int], ...] = ()
    #: the asked year each part of ``split`` answers (none when places are compared)
    split_years: tuple[str, ...] = ()
    #: the newest report of each place, tried before every report when the leading ones answer weakly (no year
    #: or place asked)
    newest: frozenset[int] | None = None
    #: what an asked year achieved is read in the next year's report, which reviews it
    reviewed: bool = False
    #: the question asks of a year (named or relative)
    dated: bool = False
    #: the home city's rows, missing and covered years, when the years asked sent the question to another place
    home: tuple[frozenset[int], frozenset[str], frozenset[str]] | None = None


#: the words that compare (哪年高, 各定的, 分别): each report of a comparison is searched for its own figure without them
_COMPARING = re.compile(r"(哪一?年|哪个|哪份|谁)(更|比较)?(高|低|多|少|大|小|快|慢|好)(?![\u4e00-\u9fff])|"
                        r"(?<=[\u4e00-\u9fff])各(?=[是定为](?!关))|分别|比较一下|比一比|相比|差(了)?多少")


def _without_years(text: str, years: Iterable[str]) -> str:
    """``text`` without the given years ("2021年", "2021") and without the words that compare."""
    for y in sorted(years, key=len, reverse=True):
        text = re.sub(rf"{y}年?", " ", text)
    return _COMPARING.sub(" ", text)


def _rows(docs: Iterable[Scoped]) -> frozenset[int]:
    """The passage rows of the given documents."""
    return frozenset().union(*(d.rows for d in docs))


#: how a question names the national reports ("国家" only as the subject: 国家创新型城市 is Dezhou's plan)
NATIONAL = r"全国|国务院|我国|中央|^国家|国家(?=今年|去年|前年|明年|\d|的|说|定|要|把|给|对|层面)|national|nationwide|china\b"
#: words asking what a year achieved rather than planned
_RESULTS = re.compile(r"实际|到底|结果|成绩|回顾|actual|achieved")
#: … and of a single year (with two, "2021年和2024年比涨了多少" compares what each planned)
_RESULTS_ONE = re.compile(r"完成了|实现了|达到了|增长了|涨了|了多少|did\b|grew")
#: a count and its measure word ("坐一趟多少钱", "一次多少钱", "每月给多少"): how much, not of what
_MEASURE = re.compile(r"[一二两三几每单]?[趟次回张个位份月年天人户亩]")
#: how many characters after 国家 are looked up in the home city's reports (国家 + 产融合: a programme's name)
NATIONAL_PHRASE_CHARS = 3
#: a yes/no asked by a one-character verb and its negation (管不管, 给没给)
_A_NOT_A = re.compile(r"([\u4e00-\u9fff])[不没]\1")
#: a year naming the report itself ("2023年的政府工作报告", "2024年国务院报告")
_NAMES_REPORT = re.compile(r"(\d{4}|[去前今]年)年?的?(国务院|全国|国家)?(政府)?(工作)?报告")
#: words asking what a year planned
_TARGET = re.compile(r"目标|计划|预期|打算|安排|定的|定了|(?<!模)拟|target|plan")


#: an answer from the leading reports holding less than this share of the question's words is weak …
WEAK_COVERAGE = 0.5
#: … and the widest scope's answer replaces it when it holds this much more
WIDER_COVERAGE_GAIN = 0.25


def _coverage(answer: Answer) -> float:
    """How much of the question the answer's best passage holds (the keyword score for an English question)."""
    sig = answer.signals or {}
    return sig.get("coverage_cjk", 0.0) if sig.get("cjk", 1.0) else sig.get("keyword", 0.0)


def _scoped(document: Document, index: Index) -> Scoped:
    rows = frozenset(i for i, p in enumerate(index.passages) if p.citation.doc_id == document.id)
    year = document_year(document.meta)
    named = set().union(*(years(index.passages[i].text) for i in rows)) if rows else set()
    earlier = frozenset(y for y in named if year is not None and int(y) < year)
    return Scoped(document.id, document_place(document.meta), year, rows, earlier)


def place_names(places: Sequence[str], home: str) -> dict[str, re.Pattern[str]]:
    """How a question names each place of the corpus (德州市: 德州, its districts; 全国: 国务院, 我国…)."""
    from .question import places as divisions

    out: dict[str, re.Pattern[str]] = {}
    for place in {p for p in places if p}:
        if place == "全国":
            out[place] = re.compile(NATIONAL, re.I)
            continue
        if place == home:
            names = sorted(divisions(home).home, key=len, reverse=True)
        else:
            names = [place, place[:-1] if place.endswith(("市", "省", "县", "区")) and len(place) > 2 else place]
        out[place] = re.compile("|".join(re.escape(n) for n in names))
    return out


class QuestionError(ValueError):
    """The question cannot be asked as given (empty, too long, no words); the message says why."""


class FilterError(ValueError):
    """A document, year or section filter the corpus has nothing for; the message names what exists."""


#: errors a user can cause and fix; the CLI and the API show their message instead of a traceback
UserError = (QuestionError, FilterError, CorpusError, IndexNotReady, ModelError)


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


class Engine:
    """Corpus, index, query encoder and tokenizer, loaded once; search and ask are then fast and thread-safe."""

    def __init__(self, settings: Settings, corpus: Corpus, spec: ModelSpec, index: Index,
                 encoder: QueryEncoder, tokenizer: Tokenizer, ready: ReadyInfo, reader: Reader | None = None) -> None:
        self.settings = settings
        self.corpus = corpus
        self.spec = spec
        self.index = index
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.ready = ready
        #: the pages' title: the report's when there is one, else a neutral one from the corpus metadata
        self.title = corpus_title(corpus, settings.home_city)
        self._paragraphs = {p.id: p for p in corpus.paragraphs}
        self.topics = TopicOutline(corpus)  # the chat's follow-up chips (dzqa/related.py)
        docs = [r.document for r in corpus.reports]
        home = settings.home_city or next((str(d.meta.get("city")) for d in docs if d.meta.get("city")), "")
        self.outline = answer_mod.Outline(
            headings={r.document.id: tuple((sec.id, sec.heading) for sec in r.sections
                                      if sec.number is not None and not sec.parent)
                      for r in corpus.reports},
            titles={d.id: d.title for d in docs}, home=home,
            report_years=frozenset(str(d.meta["year"]) for d in docs if d.meta.get("year")) or index.years,
            delivery={d.id: answer_mod.delivery_marks(d.meta) for d in docs})
        self._documents = tuple(_scoped(d, index) for d in docs)
        self._texts: dict[frozenset[str], str] = {}  # the text of each set of reports a scope reads (_within)
        # the heading of an unnumbered section (a national report's lines naming its delivery) answers questions
        # about the report itself only: its date would otherwise match every question naming that year
        numbered = {sec.id for sec in corpus.sections if sec.number is not None}
        self._unsearched = frozenset(i for i, p in enumerate(index.passages)
                                     if p.citation.paragraph_number == 0 and p.citation.section_id not in numbered)
        self._place_names = place_names([d.place for d in self._documents], home)
        home_docs = {d.id for d in self._documents if home and d.place == home}
        self._home_text = "".join(p.text for p in index.passages if p.citation.doc_id in home_docs).lower()
        corpus_text = " ".join(p.text for p in index.passages).lower()
        self.reader = reader or Reader(list(index.vocab) + list(index.terms), corpus_text, home, tokenizer.cut,
                                       index.terms, tokenizer.frequency, tokenizer.names_an_action)
        idf = sorted(index.idf.values())
        self._rare_idf = idf[len(idf) // 2] if idf else 0.0  # single-character words rarer than the median word
        self.relevance = answer_mod.relevance_model(spec.identity, settings.relevance)
        self.curated = self._curated_source(settings.database)
        if self.relevance is None:
            log.warning("no relevance model fitted for %s: refusals fall back to a plain similarity threshold; "
                        "fit one with `dzqa eval FILE --fit`", spec.identity)

    def _curated_source(self, db: Any) -> CuratedSource:
        return CuratedSource(CuratedStore(db), self.encoder.encode, self.resolve_passages,
                             self.settings.curated_min_similarity, overlap=self.word_overlap,
                             min_overlap=self.settings.curated_min_overlap)

    def word_overlap(self, a: str, b: str) -> float:
        """How much of their words two questions share: Dice over their tokens, each weighted by its idf
        (words the report lacks weigh most)."""
        ta, tb = set(self.tokenizer(normalize(a))), set(self.tokenizer(normalize(b)))
        weight = lambda t: self.index.idf.get(t, self.index.top_idf)  # noqa: E731
        total = sum(map(weight, ta)) + sum(map(weight, tb))
        return 2 * sum(map(weight, ta & tb)) / total if total else 0.0

    def with_database(self, db: Path | str) -> "Engine":
        """The same loaded engine reading its curated links from another database (a SQLite file or a
        database URL: the server's own when it differs from the settings the engine was opened with; tests)."""
        other = copy.copy(self)
        url = isinstance(db, str) and "://" in db
        other.settings = self.settings.replace(database_url=db if url else "",
                                               **({} if url else {"feedback_db": db}))
        other.curated = other._curated_source(other.settings.database)
        return other

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
        if index is None:
            if settings.build == "never":
                raise IndexNotReady(f"the index in {settings.index_dir} is {problem}; run `dzqa build`")
            with build_lock(settings):
                again = "rebuild requested" if rebuild else check_index(path, fp)
                if again or problem.startswith("damaged"):  # another process may have built it meanwhile
                    log.log(logging.INFO if rebuild else logging.WARNING, "building the index (%s)", problem)
                    # the passage model is loaded only for documents whose vectors are not cached yet
                    build_index(corpus, spec, settings, progress=progress)
            index = load_index(path)
        samples = [p.text for p in index.passages[:8]]
        # the encoder's onnxruntime session loads without the GIL while jieba loads its dictionary here
        with ThreadPoolExecutor(1, thread_name_prefix="dzqa-open") as pool:
            pending = pool.submit(query_encoder, spec, settings, samples=samples)
            tokenizer = Tokenizer(index.terms, settings.cache_dir / "jieba")
            encoder = pending.result()
        if encoder.dim != index.dim:
            raise IndexNotReady(f"query encoder gives {encoder.dim}-d vectors but the index has {index.dim}-d; "
                                f"run `dzqa build`")
        ready = ReadyInfo(built=bool(problem), reason=problem or "", seconds=time.perf_counter() - started)
        return cls(settings, corpus, spec, index, encoder, tokenizer, ready)

    # ----------------------------------------------------------------------------------------- asking
    def prepare(self, text: str, bridged: frozenset[str] = frozenset(),
                pairs: Sequence[tuple[str, str]] = ()) -> tuple[Query, float]:
        """Tokens and vector of a normalised question; returns the encode time too. ``bridged``: typed words
        the reading mapped onto report words; words of the question the report lacks that hold one of them
        are not counted as missing (their report words are in ``text``). ``pairs``: the bridges (typed word,
        report word), whose report words are not the question's own."""
        all_tokens = tuple(t for t in self.query_tokens(text)
                           if t in self.index.vocab or not any(b in t or t in b for b in bridged))
        known = tuple(t for t in all_tokens if t in self.index.vocab)
        added = {word for _, word in pairs}
        named = tuple(t for t in self.index.terms if len(t) >= 3 and t in known and t not in added)
        t0 = time.perf_counter()
        vector = self.encoder.encode(text)
        return Query(text=text, tokens=known, all_tokens=all_tokens, vector=vector, named=named), \
            time.perf_counter() - t0

    def query_tokens(self, text: str) -> list[str]:
        """The keyword tokens of a normalised question: the index's tokenizer, with words jieba glued to a
        function word split back into the corpus's words (text.split_unknown)."""
        # an A-not-A frame ("管不管", "治不治") asks yes or no: its verb alone would match 管护, and jieba glues
        # the frame to the next word (治不治扬尘)
        return split_unknown(self.tokenizer(_A_NOT_A.sub(" ", text)), self.index.vocab)

    def read(self, question: str) -> Reading:
        """The question normalised and read (answer type, places, the asking clause, bridged words)."""
        return self._reading(question, normalize(question))

    def _reading(self, question: str, text: str) -> Reading:
        """``text`` (the normalised ``question``) read, knowing whether the question ended with its "？"."""
        return self.reader.read(text, asked_at_end=_ASKED_AT_END.search(question) is not None)

    def filter_rows(self, *, doc: str | None = None, year: int | str | None = None,
                    section: str | None = None) -> frozenset[int] | None:
        """The passage rows that a document id, a report year and a section id (with its subsections) allow,
        or None without a filter. The one place filters are checked (CLI, API and desk alike): an unknown
        document, year or section, or filters that exclude each other, raise :class:`FilterError`."""
        doc = doc or None
        section = section or None
        if year in ("", None):
            year = None
        if doc is None and year is None and section is None:
            return None
        docs = {r.document.id: r.document for r in self.corpus.reports}
        if doc is not None and (not isinstance(doc, str) or doc not in docs):
            raise FilterError(f"unknown document {doc!r}; one of {', '.join(docs)}")
        years = sorted({y for d in docs.values() if (y := document_year(d.meta)) is not None})
        if year is not None:
            try:
                year = int(str(year).strip())
            except ValueError:
                raise FilterError(f"year must be a number such as {years[-1] if years else 2021}, "
                                  f"not {year!r}") from None
            if year not in years:
                raise FilterError(f"no report of the year {year}; the corpus has {', '.join(map(str, years)) or 'none'}")
        if section is not None:
            if not isinstance(section, str) or section not in {s.id for s in self.corpus.sections}:
                hint = f" ({section} is a document: use the document filter, or one of its sections such as " \
                    f"{section}/s1)" if section in docs else ""
                example = next((x.id for x in self.corpus.sections if x.number), self.corpus.sections[0].id)
                raise FilterError(f"unknown section {section!r}{hint}; section ids look like {example} "
                                  f"(see GET /api/sections)")
        rows = frozenset(
            i for i, p in enumerate(self.index.passages)
            if (doc is None or p.citation.doc_id == doc)
            and (year is None or p.citation.year == year)
            and (section is None or in_section(p.citation.section_id, section)))
        if not rows:
            given = ", ".join(f"{k}={v}" for k, v in (("doc", doc), ("year", year), ("section", section)) if v)
            raise FilterError(f"no passage matches {given}: these filters exclude each other")
        return rows

    def search(self, question: str, k: int | None = None, *, section: str | None = None, doc: str | None = None,
               year: int | str | None = None) -> SearchResult:
        """The top ``k`` passages for a question, best first; ``doc`` (``cn2023``), ``year`` (2023) and
        ``section`` (``2021/s6``, with its subsections) restrict the search (:meth:`filter_rows`)."""
        rows = self.filter_rows(doc=doc, year=year, section=section)
        check_question(question, self.settings.max_question_chars)
        k = self.settings.top_k if k is None else k
        text = normalize(question)
        if not has_content(text):
            raise QuestionError("问题里没有可检索的文字 (question has no words to search)")
        reading = self._reading(question, text)
        query, encode = self.prepare(reading.search_text, reading.bridged_words, reading.bridged)
        # the reports the question's place and year point at come first (the home city's without a place);
        # the rest of the corpus fills the list
        scopes = (rows,) if rows is not None else self._scope(reading).rows
        r = retrieve(self.index, query, k, self.settings.rrf_k, rows=scopes[0], exclude=self._unsearched)
        for wider in scopes[1:]:
            if len(r.hits) >= k:
                break
            more = retrieve(self.index, query, k, self.settings.rrf_k, rows=wider, exclude=self._unsearched)
            seen = {h.passage.id for h in r.hits}
            r = replace(r, hits=r.hits + tuple(h for h in more.hits if h.passage.id not in seen)[:k - len(r.hits)])
        sig = answer_mod.signals(r, query, self.index, self.relevance.probe if self.relevance is not None else None)
        confident = (self.relevance(sig) if self.relevance is not None else sig["dense"]) >= self.settings.min_relevance
        return SearchResult(question=question, query=text, hits=r.hits, timings={"encode": encode, **r.timings},
                            confident=confident and bool(r.hits))

    def ask(self, question: str, history: Sequence[str] = (), *, section: str | None = None,
            doc: str | None = None, year: int | str | None = None) -> Answer:
        """An extractive, cited answer; ``history`` holds earlier questions of the same conversation;
        ``doc``, ``year`` and ``section`` restrict retrieval as in :meth:`search`."""
        s = self.settings
        rows = self.filter_rows(doc=doc, year=year, section=section)
        check_question(question, s.max_question_chars)
        t0 = time.perf_counter()
        text = normalize(question)
        curated = self._curated(question, text, rows) if has_content(text) else None
        if curated is not None:  # a staff-curated link comes first (dzqa/curated.py)
            return replace(curated, related=self._related(curated),
                           timings={**curated.timings, "total": time.perf_counter() - t0})
        reply = answer_mod.small_talk(text, self.title, s.hotline)
        if reply is not None:
            return Answer(question=question, text=reply, found=False, kind="greeting")
        if not has_content(text):
            return answer_mod.refusal(question, s.hotline, query=text)
        reading = self._reading(question, text)
        prior = [h for h in history if isinstance(h, str) and h.strip()]
        earlier = prior[-MAX_TOPIC_TURNS:]
        about_last: Callable[[Answer], Answer | None] | None = None
        anchor = prior  # the turns whose last answer a follow-up about it reads
        if earlier and _MORE.match(text):  # "还有呢？": what the report says after the last answer's quote
            about_last = lambda last: answer_mod.more_of(  # noqa: E731
                question, reading, last, self.index, s.max_answer_units)
        elif earlier and self._only(answer_mod.ORDINAL, text):
            # "第一个是啥？", "最后一个呢": the item at that place among what the last answer listed (after "第一个是啥",
            # "最后一个呢" still counts in the list before it)
            about_last = lambda last: answer_mod.nth_of(  # noqa: E731
                question, reading, last, self.index, self.outline, s.max_answer_units)
            while len(anchor) > 1 and self._only(answer_mod.ORDINAL, normalize(anchor[-1])):
                anchor = anchor[:-1]
        elif earlier and self._only(_SECTION_ASKED, text):
            # "这个属于哪块工作？": where the last answer stands in the report
            about_last = lambda last: answer_mod.section_of(question, reading, last, self.index)  # noqa: E731
        if about_last is not None:
            found = about_last(self._last_answer(anchor, section=section, doc=doc, year=year))
            if found is not None:
                return replace(found, related=self._related(found), timings={"total": time.perf_counter() - t0})
        if earlier and reading.other_places and reading.asks == "other" and len(text) <= FOLLOW_UP_MAX_CHARS \
                and not reading.home_named and not [w for w in _checkable(self._own_words(text)) if w not in reading.other_places] \
                and _WITH_OTHERS.search(normalize(self._topic(earlier))):
            # "那济南那边呢？" (nothing but the place) after "德州怎么对接京津冀": the home city's relation with it
            reading = self.reader.with_home(text)
        # the report(s) the question's place and year point at; a filter given by the caller wins
        scope = self._scope(reading, conversation=bool(earlier)) if rows is None else Scope((rows,), None, None)
        if scope.reviewed:
            # "2022年…实际完成了多少": the next year's report states what was reached, not a figure of today
            reading = replace(reading, details=tuple(d for d in reading.details if d != "current"), tense="result")
        elif len(self._documents) > 1 and scope.dated and _TARGET.search(reading.text):
            reading = replace(reading, tense="target")  # several reports: each states its year's targets
        if scope.split and not earlier:
            # years that different reports answer ("2021年和2022年赤字率各定的多少"): each asked of its report
            # each report searched without the other years asked ("2021年" finds the 2022 report's review of 2021,
            # not its own target)
            texts = [_without_years(reading.search_text, set(scope.split_years) - {y}) for y in scope.split_years] \
                or [reading.search_text] * len(scope.split)
            each = [self._answer(question, reading, t, rows=r, missing_years=scope.missing,
                                 have_years=scope.have) for r, t in zip(scope.split, texts)]
            answered = [a for a in each if a.kind == "answer"]
            if len(answered) >= 2:
                both = self._or_home(question, reading, scope,
                                     answer_mod.combine(question, answered, self.outline, s.max_answer_units))
                return replace(both, related=self._related(both), timings={"total": time.perf_counter() - t0})
        result: Answer | None = None
        refused: Answer | None = None  # the leading reports' refusal
        as_read = reading
        for tried, attempt in enumerate(scope.rows):
            reading = self._within(as_read, attempt)
            years: dict[str, Any] = dict(missing_years=scope.missing, have_years=scope.have,
                                         min_relevance=s.wider_min_relevance if tried else s.min_relevance)
            nth = answer_mod.nth_section(question, reading, self.index, self.outline,
                                         max_units=s.max_answer_units, rows=attempt)
            if nth is not None:  # "第二个方面讲啥": the report's own outline answers it
                result = nth
                break
            topic = self._topic(earlier) if earlier else ""
            own = answer_mod.about_report(question, reading, self.index, self.outline, rows=attempt,
                                          topic=normalize(topic))
            if own is not None:  # "这个报告是谁作的", or "哪天？" after it: the sentence naming its delivery
                result = own
                break
            follow = self._follow_up(question, reading, topic, rows=attempt, **years) if topic else None
            result = follow
            alone: Answer | None = None  # the answer to the question on its own, searched with its own words
            if result is None or result.kind == "refusal":
                result = alone = self._answer(question, reading, reading.search_text, rows=attempt, **years)
                if result.kind == "refusal" and reading.core != reading.text:
                    # the asking clause alone ("政府到底管不管？") may not say what the story is about
                    whole = self._answer(question, reading, reading.text, rows=attempt, **years)
                    result = whole if whole.kind != "refusal" else result
                if result.kind == "refusal" and not earlier:
                    # a story's everyday words can outweigh the one clause that asks ("……一刮风满天都是土,窗户都不敢开,
                    # 政府管不管扬尘"): that clause read alone, when it names a topic and drops no place, year or detail
                    result = self._asking_alone(question, reading, rows=attempt, **years) or result
                if result.kind == "refusal" and topic and follow is None:
                    # refused on its own, yet asked in a conversation ("高速公路呢", "淘汰一辆补贴多少钱？"):
                    # read with the conversation's topic, kept when the answer holds the question's own words
                    result = self._in_context(question, reading, topic, rows=attempt, **years) or result
            if result.kind != "refusal" and tried and not self._states_asked(result, reading):
                # another report's sentence that shares the question's words without its figure ("门诊报销比例是多少"
                # → "实施职工医保普通门诊统筹") answers nothing the leading reports refused
                result = refused
                continue
            if tried == 0:
                refused = result
            if result.kind != "refusal":
                beyond = bool(tried)  # answered beyond the leading reports
                weighed = result is alone and not earlier and tried == 0 and scope.unplaced \
                    and not reading.other_places and len(scope.rows) > 1
                # an answer (not a partial: the detail the home city's reports lack stays theirs to say) without a
                # word they never use
                lacking = self._lacking(as_read, attempt) if weighed and result.kind == "answer" else []
                if weighed and (_coverage(result) < WEAK_COVERAGE or lacking):
                    # a question of its own (no conversation, no other city) answered from the home city's reports
                    # with few of its words ("2021年的赤字率按多少安排"), or without a word they never use though
                    # another report does ("一般公共预算支出规模有多大": Dezhou's report says only 收入): the widest
                    # scope answers instead when its passage holds clearly more of them, or quotes the missing word
                    # without a year the newest report of each place first, then all of them
                    for wider_rows in ([scope.newest] if scope.newest is not None else []) + [scope.rows[-1]]:
                        wider = self._answer(question, self._within(as_read, wider_rows), reading.search_text,
                                             rows=wider_rows, **{**years, "min_relevance": s.wider_min_relevance})
                        gain = _coverage(wider) - _coverage(result)
                        if wider.kind != "refusal" and self._states_asked(wider, as_read) and (
                                gain >= WIDER_COVERAGE_GAIN or (gain > 0 and _quotes(wider, lacking, share=1.0))):
                            result, beyond = wider, wider_rows is not scope.newest
                            break
                if beyond and not scope.dated and result.kind == "answer":
                    # no year asked, answered beyond the newest reports: the newest report it cites leads
                    # ("增值税留抵退税规模有多大" → 2023's figure before 2022's plan)
                    newer = self._newest_cited(result)
                    if newer is not None:
                        alt = self._answer(question, self._within(as_read, newer), reading.search_text, rows=newer,
                                           **years)
                        result = alt if alt.kind == "answer" and self._states_asked(alt, as_read) else result
                break  # the leading reports answer it; a wider scope is tried only after a refusal
        assert result is not None
        reading = as_read  # what follows reads the question as asked, not as one scope saw it
        result = self._or_home(question, reading, scope, result)
        if result.kind == "refusal" and earlier and reading.details and not reading.injection \
                and not reading.other_places:
            # a detail asked of what was just answered ("这个中心在哪办公？", "啥时候考试？" after the teachers to be
            # hired; not "那故宫门票呢", a new topic): what the report says on the topic, as a partial
            # a pronoun, nothing beyond the words asking for the detail ("都建在哪些地方"), or only words the report
            # never uses that jieba knows as actions ("啥时候能开诊") point back; a thing the report never names
            # (医保, 冰墩墩, 疫苗) only when the topic's passage is among the question's nearest
            own = [w for w in self._own_words(without(reading.text, reading.detail_spans))
                   if w not in VAGUE_THINGS and not _MEASURE.fullmatch(w)]
            pointed = len(reading.text) <= FOLLOW_UP_MAX_CHARS and bool(
                _ANAPHORA.search(reading.text) or not own or self._no_thing(own, reading))
            result = self._detail_of_topic(question, reading, self._topic(earlier), rows=rows,
                                           pointed=pointed) or result
        if earlier and result.kind == "answer" and reading.asks in ("list", "how") \
                and len(text) <= FOLLOW_UP_MAX_CHARS and not self._topic_words(text) \
                and not (reading.asks == "list" and any("、" in p.text for p in result.parts)):
            # "都有哪些？", "怎么个搞法？" answered with the very quote the last answer gave, which lists nothing: what
            # the report says next is what the asker wants
            last = self._last_answer(prior, section=section, doc=doc, year=year)
            if [p.text for p in last.parts] == [p.text for p in result.parts]:
                result = answer_mod.more_of(question, reading, last, self.index, s.max_answer_units) or result
        timings = {**result.timings, "total": time.perf_counter() - t0}
        return replace(result, related=self._related(result), timings=timings)

    def _asking_alone(self, question: str, reading: Reading, *, rows: frozenset[int] | None,
                      **kw: Any) -> Answer | None:
        """The answer to a long message's asking clause read on its own (:meth:`Reader.asking_clause`); None when it
        has none, the clause loses a place, a year or a detail the message asks, or it is refused too."""
        clause = self.reader.asking_clause(reading)
        if clause is None:
            return None
        # read as the message was read for its scope (a target or a result of a year)
        alone = replace(self._within(self.reader.read(clause), rows), tense=reading.tense)
        have = self.outline.report_years
        if alone.other_places != reading.other_places or years_asked(alone, have) != years_asked(reading, have) \
                or not set(reading.details) <= set(alone.details):
            return None
        result = self._answer(question, alone, alone.search_text, rows=rows, **kw)
        return result if result.kind != "refusal" else None

    def _lacking(self, reading: Reading, rows: frozenset[int] | None) -> list[str]:
        """The question's topic words that the reports of ``rows`` never use while another report of the corpus
        does (支出 of a city's report that speaks only of 收入)."""
        if rows is None:
            return []
        text = self._rows_text(rows)
        if text is None:
            return []
        return [w for w in _checkable(self._topic_words(reading.core))
                if w not in text and w in self.reader.corpus]

    def _rows_text(self, rows: frozenset[int]) -> str | None:
        """The lowercased text of the documents within ``rows``; None when they are all of the corpus."""
        docs = frozenset(d.id for d in self._documents if d.rows <= rows)
        if len(docs) == len(self._documents):
            return None
        text = self._texts.get(docs)
        if text is None:
            text = self._texts[docs] = " ".join(self.index.passages[r].text for d in self._documents
                                                if d.id in docs for r in sorted(d.rows)).lower()
        return text

    def _within(self, reading: Reading, rows: frozenset[int] | None) -> Reading:
        """The reading as the reports of ``rows`` see it: a thing they never name is a detail they lack, though
        another report of the corpus names it."""
        text = self._rows_text(rows) if rows is not None else None
        return reading if text is None else self.reader.within(reading, text)

    def _or_home(self, question: str, reading: Reading, scope: Scope, result: Answer) -> Answer:
        """The home city's answer (a partial naming the year it has no report of) instead of another place's,
        when the years asked sent the question away yet the home city's reports cover it clearly better
        ("2022年计划新建几所公办幼儿园": Dezhou's kindergartens, not the national report's 2022 headings)."""
        if scope.home is None or (result.kind != "refusal" and not result.signals):
            return result  # no retrieval to weigh: the report's own outline or delivery answered ("2022年的报告谁作的")
        rows, missing, have = scope.home
        home = self._answer(question, self._within(reading, rows), reading.search_text, rows=rows,
                            missing_years=missing, have_years=have)
        if home.kind == "refusal" or (result.kind != "refusal"
                                      and _coverage(home) < _coverage(result) + WIDER_COVERAGE_GAIN):
            return result
        return home

    def _newest_cited(self, answer: Answer) -> frozenset[int] | None:
        """The rows of the newest report an answer cites when its first citation is of an older report of the
        same place; else None."""
        if not answer.citations:
            return None
        cited = {h.passage.citation.doc_id for h in answer.citations}
        first = answer.citations[0].passage.citation
        newer = [d for d in self._documents if d.id in cited and d.place == first.place
                 and (d.year or 0) > (first.year or 0)]
        return max(newer, key=lambda d: d.year or 0).rows if newer else None

    def _only(self, pattern: re.Pattern[str], text: str) -> bool:
        """Whether ``text`` (normalised) says nothing but what ``pattern`` finds in it: it asks about the last
        answer ("第二个呢", "这个属于哪块工作？"), not about a topic of its own ("改革开放那部分标题是啥")."""
        m = pattern.search(text)
        return m is not None and not _checkable(self._own_words(text.replace(m.group(0), " ")))

    def _last_answer(self, prior: Sequence[str], **filters: Any) -> Answer:
        """The answer the conversation's last question got (asked again with the turns before it, as the user saw
        it); a refusal when that question was not one ``ask`` takes (too long: the caller had not checked it)."""
        try:
            return self.ask(prior[-1], prior[-1 - 2 * MAX_TOPIC_TURNS:-1], **filters)
        except QuestionError:
            return answer_mod.refusal(prior[-1], self.settings.hotline)

    def _related(self, answer: Answer) -> tuple[Topic, ...]:
        """Follow-up topics next to what the answer cites; none after a refusal or small talk."""
        if answer.kind not in ("answer", "partial"):
            return ()
        return self.topics.related_topics([h.passage.id for h in answer.citations])

    def complete(self, typed: str, n: int = 5) -> list[str]:
        """Staff-curated questions containing what is being typed (the chat's completions); at most 100
        characters of it count. Raises :class:`QuestionError` for text that is not valid Unicode."""
        if not isinstance(typed, str) or not is_valid_unicode(typed):
            raise QuestionError("问题含有无效字符 (question contains invalid Unicode: lone surrogates)")
        return self.curated.complete(typed[:100], n)

    def _curated(self, question: str, text: str, rows: frozenset[int] | None) -> Answer | None:
        """The answer of a staff-curated link matching the question (exact normalised wording or a close
        paraphrase), None without one. The linked passages are the hits and composition quotes their best
        units for this question, verbatim; a link marked "not covered" gives the standard refusal."""
        s = self.settings
        match = self.curated.match(question, lambda: self.encoder.encode(text))
        if match is None:
            return None
        if not match.link.covered:
            return replace(answer_mod.refusal(question, s.hotline, query=text), source="curated")
        passage_rows = [self.index.positions[p] for p in match.passages]
        if rows is not None and not all(r in rows for r in passage_rows):
            return None  # the caller's filter excludes the linked passages: retrieval answers within it
        reading = self._reading(question, text)
        query, _ = self.prepare(reading.search_text, reading.bridged_words, reading.bridged)
        hits = tuple(Hit(self.index.passages[r], score=1.0, dense=self._passage_similarity(query.vector, r),
                         keyword=0.0) for r in passage_rows)
        result = self._answer(question, reading, reading.search_text, hits=hits, in_scope=True)
        if result.kind != "answer" or not result.parts:
            # staff said these passages answer it: quote them whole rather than a partial reply
            parts = tuple(AnswerPart(text=h.passage.text, citation=i) for i, h in enumerate(hits, 1))
            result = Answer(question=question, text="".join(f"{p.text}[{p.citation}]" for p in parts), found=True,
                            kind="answer", citations=hits, parts=parts, relevance=1.0, query=query.text,
                            timings=result.timings)
        return replace(result, source="curated", found=True)

    def _passage_similarity(self, vector: Any, row: int) -> float:
        """Cosine of a query vector and a passage: that of its best answer unit."""
        first, last = self.index.passage_units[row]
        if last <= first:
            return 0.0
        return float((self.index.unit_vectors[first:last] @ vector).max())

    def resolve_passages(self, ids: Sequence[str]) -> tuple[str, ...]:
        """Passage ids as staff give them (a paragraph id stands for all its passages) → passage ids of the
        index, in order; :class:`dzqa.curated.CuratedError` naming the ids the corpus does not have."""
        out: list[str] = []
        unknown: list[str] = []
        for pid in ids:
            if pid in self.index.positions:
                out.append(pid)
            elif pid in self._paragraphs:
                out += [p.id for p in self.index.passages if p.citation.paragraph_id == pid]
            else:
                unknown.append(pid)
        if unknown:
            raise CuratedError(f"unknown passage id(s) {', '.join(map(repr, unknown))}; ids look like 2021/s6/p2 "
                               f"(see `dzqa search --json` or /api/search)")
        return tuple(dict.fromkeys(out))

    def _scope(self, reading: Reading, *, conversation: bool = False) -> "Scope":
        """Which reports answer first. A place named (德州, 全国) picks its reports, else the home city's lead;
        a year named (2022年, 去年 and 前年 counted from the newest report of that place) picks that year's
        report, else the newest leads; what a year achieved is read first in the next year's report, which
        reviews it. Without a named place or year, wider scopes follow a refusal (a topic only the national
        reports cover); a named year the place has no report of is the partial case. Two or more years that
        different reports answer ("2021年和2022年赤字率各定的多少") are each asked of their own report.
        ``conversation``: the question has earlier turns (their place stays the home city's).""" 
        docs = self._documents
        if len(docs) <= 1:
            return Scope((None,), None, None)
        named = {place for place in self._place_names if self._place_at(place, reading.text) is not None}
        home = {d.place for d in docs if d.place and d.place == self.outline.home}
        # without a named place the home city's reports lead, with those that name no place at all
        candidates = [d for d in docs if d.place in named or (not named and (d.place in home or not d.place))] \
            or list(docs)
        have = frozenset(str(d.year) for d in candidates if d.year is not None)
        asked = years_asked(reading, have)
        basis = have
        if not named and not conversation and asked - have and relative_years(reading.core, have):
            # "去年…" on its own, the home city having no report of its year counted from its newest: counted
            # from the corpus's newest report instead ("去年城镇调查失业率平均是多少" → 2023, reviewed in 2024's)
            basis = frozenset(str(d.year) for d in docs if d.year is not None)
            asked = years_asked(reading, basis)
        results = bool(asked) and self._asks_results(reading, asked, basis)

        def answered(ds: Sequence[Scoped]) -> set[str]:
            """The asked years these reports answer: their own, and those they review when results are asked."""
            reviewed_by = {str(d.year - 1) for d in ds if d.year is not None and str(d.year - 1) in d.reviews}
            return asked & ({str(d.year) for d in ds} | (reviewed_by if results else set()))

        home_scope: tuple[frozenset[int], frozenset[str], frozenset[str]] | None = None
        if asked and not named and not conversation and asked - have:
            # years the home city has no report of, asked on its own without a place: the place whose reports
            # answer more of them answers ("2021年和2022年赤字率" → the national reports) — unless the home
            # city's reports cover the question clearly better (the partial naming the missing year)
            by_place: dict[str, list[Scoped]] = {}
            for d in docs:
                by_place.setdefault(d.place, []).append(d)
            best = max(by_place.values(), key=lambda ds: len(answered(ds)))
            if len(answered(best)) > len(answered(candidates)):
                home_scope = (_rows(candidates), frozenset(asked - answered(candidates)), have)
                candidates = best
                have = frozenset(str(d.year) for d in candidates if d.year is not None)
        reviewed: set[str] = set()
        if results:
            # what a year achieved is reviewed in the next year's report ("2022年…实际完成了多少" → 2023's)
            # — when that report reviews it at all (Dezhou's 2021 summary names no result of 2020)
            reviewed = {y for y in asked for d in candidates if d.year == int(y) + 1 and y in d.reviews}
        # each asked year's report: the one reviewing it, else its own
        per_year = {y: [d for d in candidates if d.year == (int(y) + 1 if y in reviewed else int(y))]
                    for y in sorted(asked)}
        wanted = {str(d.year) for ds in per_year.values() for d in ds}
        covered = (asked & have) | reviewed
        if asked:
            chosen = [d for d in candidates if str(d.year) in wanted] or candidates
        else:  # the newest report of each place (undated ones: no order)
            newest = {d.place: d.year or 0 for d in sorted(candidates, key=lambda d: d.year or 0)}
            chosen = [d for d in candidates if (d.year or 0) == newest[d.place] or d.year is None]
        scopes: list[frozenset[int] | None] = [_rows(chosen)]
        own_year = _rows([d for d in candidates if str(d.year) in asked])
        if reviewed and own_year:  # the year's own report after the one reviewing it
            scopes.append(own_year)
        if not (named or asked):
            # the newest report of every place before all of them ("赤字率按多少安排" → the newest national report)
            newest_of = {d.place: d for d in sorted(docs, key=lambda d: d.year or 0)}
            newest_rows = _rows(newest_of.values())
            scopes += [_rows(candidates), newest_rows, None]
        elif not asked:
            scopes.append(_rows(candidates))
        elif not named:
            # a year but no place: after the home city's, that year's reports of every place (2021年的赤字率
            # is the national report's topic when the city's report of 2021 does not cover it)
            wider = [d for d in docs if str(d.year) in wanted | asked]
            if wider:
                scopes.append(_rows(wider))
        unique: list[frozenset[int] | None] = []
        for rows in scopes:
            rows = None if rows is not None and len(rows) == len(self.index.passages) else rows
            if rows not in unique:
                unique.append(rows)
        # a question about the reports themselves ("2021年和2022年的报告分别是谁作的") reads each report's outline
        by_year = {y: _rows(ds) for y, ds in per_year.items() if ds} if not _NAMES_REPORT.search(reading.text) else {}
        split, split_years = tuple(by_year.values()), tuple(by_year)
        if len(named) >= 2 and len(set(split)) < 2:
            # two places compared ("德州的GDP目标和全国的比"): each place's reports in the order the question names them
            first = {p: self._place_at(p, reading.text) for p in named}
            split = tuple(_rows(d for d in chosen if d.place == p) for p in sorted(named, key=first.__getitem__))
            split_years = ()
        if len(set(r for r in split if r)) < 2:
            split, split_years = (), ()
        newest = None
        if not (named or asked) and newest_rows != unique[0] and len(newest_rows) < len(self.index.passages):
            newest = newest_rows
        return Scope(tuple(unique), frozenset(asked - covered), have | frozenset(covered), unplaced=not named,
                     split=split, split_years=split_years, newest=newest, reviewed=bool(reviewed), dated=bool(asked), home=home_scope)

    @staticmethod
    def _asks_results(reading: Reading, asked: set[str], have: frozenset[str]) -> bool:
        """Whether a question asks what its years achieved rather than planned: it says so (实际, 到底), says
        what grew or was done of one year (增长了多少), or asks of a year before the newest report's relatively
        (去年…是多少), not of its target (去年定的目标)."""
        text = reading.text
        if _NAMES_REPORT.search(text):
            return False  # "2021年国务院政府工作报告最后号召以什么成绩…": the year names the report asked about
        if _RESULTS.search(text) or (len(asked) == 1 and _RESULTS_ONE.search(text) and not _TARGET.search(text)):
            return True
        newest = max((int(y) for y in have), default=0)
        relative = relative_years(reading.core, have)
        return bool(relative) and all(int(y) < newest for y in relative) and not _TARGET.search(text)

    def _answer(self, question: str, reading: Reading, search_text: str, *, hits: tuple[Hit, ...] | None = None,
                in_scope: bool = False, rows: frozenset[int] | None = None,
                missing_years: frozenset[str] | None = None, have_years: frozenset[str] | None = None,
                min_relevance: float | None = None) -> Answer:
        """Retrieve for ``search_text`` (or score the given ``hits``) and compose the answer to ``reading``;
        ``min_relevance`` overrides the setting (a wider scope's stricter threshold)."""
        s = self.settings
        query, encode = self.prepare(search_text, reading.bridged_words, reading.bridged)
        r = retrieve(self.index, query, s.top_k, s.rrf_k, rows=rows, exclude=self._unsearched)
        if hits is not None:
            r = replace(r, hits=hits)
        t1 = time.perf_counter()
        result = answer_mod.compose(question, reading, query, r, self.index, self.outline, hotline=s.hotline,
                                    model=self.relevance,
                                    min_relevance=s.min_relevance if min_relevance is None else min_relevance,
                                    max_units=s.max_answer_units, in_scope=in_scope,
                                    missing_years=missing_years, have_years=have_years)
        return replace(result, timings={"encode": encode, **r.timings, "answer": time.perf_counter() - t1})

    def _place_at(self, place: str, text: str) -> int | None:
        """Where ``text`` first names ``place`` (a report's place), or None. 国家 opening a phrase of the home
        city's reports ("国家产融合作试点城市", "国家创新型城市") describes a programme, not the national reports."""
        for m in self._place_names[place].finditer(text):
            phrase = text[m.start():m.start() + len(m.group(0)) + NATIONAL_PHRASE_CHARS]
            if m.group(0) == "国家" and self._home_text and len(phrase) > 2 and phrase in self._home_text:
                continue
            return m.start()
        return None

    def _topic(self, history: Sequence[str]) -> str:
        """What the conversation is about: the last question that stood on its own, with the latest follow-up
        asked after it ("今年推进哪几条高铁？" + "还有要争取的城际吗？"), so a follow-up of a follow-up keeps the topic."""
        topic: list[str] = []
        for q in history[-MAX_TOPIC_TURNS:]:
            text = normalize(q)
            if topic and (self._leans(text) or self._repeats(text, normalize(" ".join(topic)))):
                topic.append(q)
            else:
                topic = [q]
        # the question that stood on its own names the topic; the latest follow-up narrows it
        return " ".join(topic[:1] + topic[1:][-1:])

    def _leans(self, text: str) -> bool:
        """Whether a (normalised) question is short and leans on an earlier one."""
        if len(text) > FOLLOW_UP_MAX_CHARS:
            return False
        own = self._topic_words(text)
        return bool(_ANAPHORA.search(text) or not own or _FOLLOW_UP_START.search(text)
                    or _FOLLOW_UP_END.search(text) or len(text) <= FOLLOW_UP_BARE_CHARS
                    # "合作了要弄成个啥": what for, of one word the conversation spoke of
                    or (len(own) == 1 and answer_type(text) == "purpose"))

    def _states_asked(self, answer: Answer, reading: Reading) -> bool:
        """Whether another report's answer states the figure asked of its topic (:func:`answer.states_asked`), the
        topic named by the question's own words or the report words they were bridged onto."""
        # an English question's own words are never in a Chinese clause: the report words they were bridged onto are
        words = {w for w in self._topic_words(reading.core) if not w.isascii()} | {w for _, w in reading.bridged}
        return answer_mod.states_asked(answer, reading, words)

    def _topic_words(self, text: str) -> list[str]:
        """A follow-up's own words that may name a topic: not those asking for a detail ("都建在哪些地方": 地方)."""
        return self._own_words(without(text, detail_spans(text, DETAIL_TYPES, overlapping=True)))

    def _own_words(self, text: str) -> list[str]:
        """A follow-up's own topic words: not the anaphora and question words ("这样", "具体", "多少"), and
        single characters only when the report has them as words, rarely (水, not 建 or 做)."""
        text = without(text, detail_spans(text, ("purpose",)))  # 为啥, 要建成啥, 打造成什么: what is asked, not about what
        words = self.query_tokens(_FOLLOW_UP_END.sub("", _FOLLOW_UP_START.sub("", text)))
        # a function word glued to a verb ("要建", "能修") is the verb alone: a single character
        words = [w if w in self.index.vocab else w.strip(_FUNCTION_CHARS) or w for w in words]
        return [w for w in words if not _ABOUT_PREVIOUS.search(w)
                and (len(w) >= 2 or (w in self.index.vocab and self.index.idf.get(w, 0.0) >= self._rare_idf))]

    def _repeats(self, text: str, earlier: str, words: Sequence[str] | None = None) -> bool:
        """Whether a short question names nothing but the earlier question's words ("合作是为了干嘛？");
        ``words``: its checkable own words, when the caller has them."""
        words = _checkable(self._own_words(text)) if words is None else words
        return len(text) <= FOLLOW_UP_MAX_CHARS and bool(words) and all(w in earlier for w in words)

    def _no_thing(self, words: Sequence[str], reading: Reading) -> bool:
        """Whether ``words`` are all words the report never uses, each an action in jieba's dictionary (开诊, 能用);
        a word it does not know (冰墩墩, 充电桩) or a Latin word may name a thing."""
        return bool(words) and not self._known(words, reading) \
            and all(self.tokenizer.names_an_action(w) for w in words)

    def _known(self, words: Sequence[str], reading: Reading) -> list[str]:
        """The words the report uses (or a bridged word stands for): only these can name a topic of the report."""
        return [w for w in words if w in self.reader.corpus or w in reading.bridged_words]

    def _follow_up(self, question: str, reading: Reading, previous: str, *, rows: frozenset[int] | None = None,
                   **years: Any) -> Answer | None:
        """A short question that leans on the previous one, answered in its light; None when it is a new
        question (it names a topic of its own that the previous answer does not touch)."""
        text = reading.text
        if len(text) > FOLLOW_UP_MAX_CHARS:
            return None
        prev_text = self._topic_text(previous)
        if prev_text is None:
            return None
        own = self._topic_words(text)
        checkable = _checkable(own)
        # a pronoun, nothing of its own, or only the earlier question's words ("合作是为了干嘛？" after a question
        # on the cooperation with 钟南山): about the previous answer
        earlier_words = self._repeats(text, prev_text, checkable)
        anaphoric = bool(_ANAPHORA.search(text)) or not own or earlier_words
        if not (self._leans(text) or earlier_words):
            return None
        prev_reading = self.reader.read(prev_text)
        if anaphoric and not reading.other_places:
            prev = self._answer(previous, prev_reading, prev_reading.search_text, rows=rows)
            if prev.kind in ("answer", "partial") and prev.citations:
                cited = " ".join(h.passage.context + h.passage.text for h in prev.citations).lower()
                # words the report never uses ("它们今年能完工吗？") point nowhere else
                known = self._known(checkable, reading)
                if not known or sum(w in cited for w in known) >= len(known) / 2:
                    # about the previous answer: its passages, read with what is asked now (a purpose, a list…)
                    search = text if checkable else f"{prev_reading.core} {text}"
                    return self._answer(question, reading, search, hits=prev.citations, in_scope=True, rows=rows,
                                        **years)
        result = self._answer(question, *_with_earlier(reading, prev_reading, text), rows=rows, **years)
        # another place or a detail of the same topic ("那聊城呢？", "门票多少钱？") stays with the topic; a
        # topic word the found passage lacks means the earlier question steered the search away from what is
        # asked now ("医保" after a question on kindergartens): ask this one on its own
        if reading.other_places or not checkable:
            return result
        if reading.asks in DETAIL_TYPES:
            # a detail of the same topic ("门票多少钱？"); its own topic words, beyond those asking for the detail
            # and those of the earlier question, must be in the found passage ("医保怎么缴费？" is a new topic)
            # ("哪天开的会": 哪天 asks, nothing else names a topic)
            rest = without(text, reading.detail_spans + tuple(reading.bridged_words))
            new = [w for w in _checkable(self._own_words(rest)) if w not in prev_text]
            if not new or (result.citations
                           and covers(self.index, new, result.citations[0]) >= FOLLOW_UP_MIN_COVERAGE):
                return result
            return None  # asked on its own; refused, it may still be a detail of the topic (_detail_of_topic)
        if result.citations and covers(self.index, checkable, result.citations[0]) >= FOLLOW_UP_MIN_COVERAGE:
            # what the follow-up adds ("智慧物流呢" after logistics firms: 智慧) must be quoted, not only the
            # words it shares with the earlier question
            new = [w for w in checkable if w not in prev_text] or checkable
            if _quotes(result, new) or result.kind == "refusal":
                return result
            # the passage holds the new topic ("一般公共预算收入呢" after the GDP target) but the quote is the
            # earlier topic's clause: choose the clause again by the follow-up's own words
            again = self._answer(question, reading, text, hits=result.citations, in_scope=True, rows=rows, **years)
            if _quotes(again, new):
                return again
            # neither quotes what the follow-up adds ("农村改革呢" after 脱贫攻坚成果, whose heading says 农村): a new
            # topic, asked on its own
            return None
        return None

    def _in_context(self, question: str, reading: Reading, topic: str, *, rows: frozenset[int] | None = None,
                    **years: Any) -> Answer | None:
        """The question read with the conversation's topic; None unless the cited passage holds some of the
        question's own words (so a new, uncovered question is not answered with the earlier topic)."""
        prev_text = self._topic_text(topic)
        if prev_text is None or reading.injection:
            return None
        checkable = _checkable(self._own_words(reading.text))
        if not checkable:
            return None
        result = self._answer(question, *_with_earlier(reading, self.reader.read(prev_text), reading.search_text),
                              rows=rows, **years)
        if result.kind == "refusal" or not result.citations:
            return None
        return result if covers(self.index, checkable, result.citations[0]) >= IN_CONTEXT_MIN_COVERAGE else None

    def _detail_of_topic(self, question: str, reading: Reading, topic: str, *,
                         rows: frozenset[int] | None, pointed: bool = True) -> Answer | None:
        """The partial reply to a detail the report lacks, quoting the conversation topic's answer (found in the
        reports the topic's own place and year point at, unless the caller filtered). Unless the question points
        back at that answer (``pointed``), the answer's passage must be among the question's own nearest."""
        prev_text = self._topic_text(topic)
        if prev_text is None:
            return None
        prev_reading = self.reader.read(prev_text)
        rows = rows if rows is not None else self._scope(prev_reading).rows[0]
        prev = self._answer(topic, prev_reading, prev_reading.search_text, rows=rows)
        if not prev.citations or not (pointed or self._near(reading, prev.citations[0].passage.id, rows)):
            return None
        return answer_mod.detail_of(question, reading, prev, self.settings.hotline)

    def _near(self, reading: Reading, passage_id: str, rows: frozenset[int] | None) -> bool:
        """Whether a passage is among the question's nearest by meaning alone, and close to the nearest ("啥时候
        考试？" and the passage on the teachers to be hired), within ``rows`` when given."""
        row = self.index.positions.get(passage_id)
        if row is None:
            return False
        query, _ = self.prepare(reading.search_text, reading.bridged_words, reading.bridged)
        top = nearest(self.index, query, NEAR_TOPIC_RANK, rows)
        return row in top and top[row] >= max(top.values()) - NEAR_TOPIC_MARGIN

    def _topic_text(self, topic: str) -> str | None:
        """The conversation's topic normalised, or None when it holds nothing to read a follow-up with."""
        text = normalize(topic)
        return None if not has_content(text) or self.small_talk_like(text) else text

    def small_talk_like(self, text: str) -> bool:
        return answer_mod.small_talk(text, self.title, self.settings.hotline) is not None

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
            "embedding_cache": m.get("embedding_cache", {}),
            "index_path": str(self.index.path), "corpus_problems": list(self.corpus.problems),
            "database": self.curated.store.db.name,  # never with its password
            "curated_links": len(self.curated.refresh(force=True).links),
            "curated_stale": self.curated.stale(),
        }
