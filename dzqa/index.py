"""Stage 4: the hybrid index on disk: FAISS over answer-unit vectors + BM25 over jieba tokens of passages.

Entry points: :func:`build_index`, :func:`check_index` and :func:`load_index`. An index lives in ``index/<fingerprint>/``; the
fingerprint hashes the corpus content, the model identity and every setting that shapes the index, so a
changed corpus, model or chunking finds no matching folder and is rebuilt, never silently used. Every file
is listed in ``manifest.json`` with its size and SHA-256 and checked on load. A build writes to a
temporary folder and renames it into place as its last step, so a crash never leaves a half index.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .atomic import atomic_folder, file_lock
from .corpus import Corpus
from .model import ModelSpec
from .passages import Unit, make_passages, split_units
from .settings import INDEX_FORMAT, Settings
from .text import Tokenizer, corpus_terms, normalize, years
from .types import Citation, Passage

log = logging.getLogger(__name__)
#: above this many answer units FAISS uses HNSW instead of an exact flat scan
FLAT_MAX = 20_000
MANIFEST = "manifest.json"


class IndexNotReady(Exception):
    """The index is missing, stale or damaged and may not be rebuilt here; the message says what to run."""


class Keywords:
    """BM25 over the passages, each document scored with its own statistics (idf, average length).

    A report's passages rank among themselves exactly as in a corpus of that report alone, however many reports
    sit beside it: pooled statistics would make a word common in the national reports weigh less in Dezhou's
    too, and reorder Dezhou's passages for Dezhou's questions. bm25s scores each document's passages; their
    score matrices are merged into one (token → passages), so a question costs one lookup per word whatever
    the number of documents."""

    FILE = "keywords.npz"

    def __init__(self, vocab: dict[str, int], arrays: dict[str, np.ndarray], docs: Sequence[str]) -> None:
        self.vocab = vocab  # every token some document has → its column
        self._words = list(vocab)  # column → token
        self._a = arrays
        self.size = int(arrays["size"])
        self._docs = {d: k for k, d in enumerate(docs)}
        self._idf: dict[str, tuple[dict[str, float], float]] = {}

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """The BM25 score of every passage (0 where none of ``tokens`` occurs)."""
        data, rows, ptr = self._a["data"], self._a["rows"], self._a["ptr"]
        out = np.zeros(self.size, np.float32)
        for t in tokens:
            c = self.vocab.get(t)
            if c is not None:
                np.add.at(out, rows[ptr[c]:ptr[c + 1]], data[ptr[c]:ptr[c + 1]])
        return out

    def idf(self, doc: str) -> tuple[dict[str, float], float] | None:
        """Document ``doc``'s idf of each of its tokens and its highest (None for a document not indexed)."""
        if doc not in self._idf:
            k = self._docs.get(doc)
            if k is None:
                return None
            a, words = self._a, self._words
            lo, hi = a["df_ptr"][k], a["df_ptr"][k + 1]
            n = int(a["doc_size"][k])
            idf = {words[t]: _idf(n, int(c)) for t, c in zip(a["df_token"][lo:hi], a["df"][lo:hi])}
            self._idf[doc] = (idf, max(idf.values(), default=1.0))
        return self._idf[doc]

    @staticmethod
    def write(folder: Path, tokens: Sequence[list[str]], documents: Sequence[str]) -> None:
        """Score each document's passages (``documents``: each passage's document id) with bm25s and write the
        merged matrix to ``folder``."""
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.ERROR)  # it logs every build at DEBUG
        groups: dict[str, list[int]] = {}
        for i, d in enumerate(documents):
            groups.setdefault(d, []).append(i)
        order = list(groups)
        vocab: dict[str, int] = {}
        cols, rows, data, df_ptr, df_token, df, doc_size = [], [], [], [0], [], [], []
        for doc in order:
            members = np.asarray(groups[doc], np.int64)
            part = [tokens[i] for i in members]
            bm25 = bm25s.BM25()
            # a document without a single token (bm25s cannot index it) still takes its place in the arrays
            bm25.index(part if any(part) else [[""]] * len(part), show_progress=False)
            s = bm25.scores
            counts = np.diff(s["indptr"])
            # bm25s column → merged column (its vocabulary also holds "", a token of no column)
            col = np.empty(len(counts), np.int64)
            for t, local in bm25.vocab_dict.items():
                if local < len(counts):
                    col[local] = vocab.setdefault(t, len(vocab))
            cols.append(np.repeat(col, counts))
            rows.append(members[s["indices"]])
            data.append(np.asarray(s["data"], np.float32))
            df_token.append(col)
            df.append(counts)
            df_ptr.append(df_ptr[-1] + len(col))
            doc_size.append(len(part))
        col_all = np.concatenate(cols) if cols else np.zeros(0, np.int64)
        order_by = np.argsort(col_all, kind="stable")
        ptr = np.zeros(len(vocab) + 1, np.int64)
        np.cumsum(np.bincount(col_all, minlength=len(vocab)), out=ptr[1:])
        np.savez(folder / Keywords.FILE, data=np.concatenate(data)[order_by] if data else np.zeros(0, np.float32),
                 rows=np.concatenate(rows)[order_by].astype(np.int32) if rows else np.zeros(0, np.int32),
                 ptr=ptr, size=np.int64(len(documents)), df_ptr=np.asarray(df_ptr, np.int64),
                 df_token=np.concatenate(df_token).astype(np.int32) if df_token else np.zeros(0, np.int32),
                 df=np.concatenate(df).astype(np.int32) if df else np.zeros(0, np.int32),
                 doc_size=np.asarray(doc_size, np.int64))
        _write_json(folder / "keywords.json", {"vocab": list(vocab), "documents": order})

    @classmethod
    def load(cls, folder: Path) -> "Keywords":
        meta = json.loads((folder / "keywords.json").read_text(encoding="utf-8"))
        with np.load(folder / cls.FILE) as z:
            arrays = {k: z[k] for k in z.files}
        return cls({t: i for i, t in enumerate(meta["vocab"])}, arrays, meta["documents"])


def idf_of(tokens: Sequence[Sequence[str]]) -> dict[str, float]:
    """BM25's idf of every token of these passages, pooled (how rare a word is anywhere in the corpus)."""
    df = Counter(t for doc in tokens for t in set(doc))
    return {t: _idf(len(tokens), c) for t, c in df.items()}


def _idf(n: int, df: int) -> float:
    """BM25's idf in the Lucene form bm25s uses."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


@dataclass(frozen=True)
class Index:
    """A loaded index: passages with BM25, and their answer units (sentences, clauses) in FAISS."""

    path: Path
    manifest: dict[str, Any]
    passages: tuple[Passage, ...]
    dense: Any  # faiss.Index
    keywords: Keywords
    vocab: dict[str, int]  # BM25 token → id
    idf: dict[str, float]  # over the whole corpus: how rare a word is anywhere
    terms: tuple[str, ...]  # extra jieba words from the corpus
    units: tuple[Unit, ...]  # the rows of ``dense``
    unit_tokens: tuple[frozenset[str], ...]
    unit_vectors: np.ndarray  # float32 view of the vectors stored in ``dense`` (no copy)
    unit_passage: np.ndarray  # unit row → passage row
    passage_units: tuple[tuple[int, int], ...]  # passage → [first, last) unit rows
    positions: dict[str, int]  # passage id → row
    years: frozenset[str]  # years the corpus mentions ("2021")
    top_idf: float = 1.0  # the highest idf (the weight of a question word the index does not know)

    def weights(self, tokens: Iterable[str], doc: str | None = None) -> dict[str, float]:
        """idf weight of each token, within document ``doc`` (the corpus when None or unknown); a token the
        document lacks weighs as its rarest word."""
        own = self.keywords.idf(doc) if doc is not None else None
        idf, top = own if own is not None else (self.idf, self.top_idf)
        return {t: idf.get(t, top) for t in set(tokens)}

    def knows(self, token: str, doc: str | None = None) -> bool:
        """Whether document ``doc`` (the corpus when None or unknown) has the token."""
        own = self.keywords.idf(doc) if doc is not None else None
        return token in (own[0] if own is not None else self.vocab)

    @property
    def fingerprint(self) -> str:
        return self.manifest["fingerprint"]

    @property
    def dim(self) -> int:
        return int(self.manifest["model"]["dim"])


def fingerprint(corpus: Corpus, spec: ModelSpec, settings: Settings) -> str:
    shape = {"corpus": corpus.fingerprint(), "model": spec.identity, "code": _code_shape(),
             **settings.index_shape()}
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


def _code_shape() -> list[Any]:
    """The constants in code that shape the index (stopwords, boundaries, unit sizes): changing one makes
    the stored index stale without anyone having to remember INDEX_FORMAT."""
    from . import corpus, passages, text

    # the source of the stages that make passages and tokens: a change there (a heading passage, a
    # different repair) makes the stored index stale even when no constant moved
    sources = [hashlib.sha256(Path(m.__file__).read_bytes()).hexdigest()[:16] for m in (corpus, passages, text)]
    return [sorted(text.STOPWORDS), passages.SEPARATORS, passages.UNIT_SENTENCE_MAX, passages.UNIT_CLAUSE_MIN,
            passages.LEAD_MAX, sources]


def index_path(settings: Settings, fp: str) -> Path:
    return settings.index_dir / fp[:16]


def _keyword_text(p: Passage) -> str:
    """What BM25 indexes: the passage, with its heading context when it has one."""
    return f"{p.context} {p.text}" if p.context else p.text


# ------------------------------------------------------------------------------------------------ build


def build_index(corpus: Corpus, spec: ModelSpec, settings: Settings, *, st_model: Any = None,
                progress: Callable[[str, int, int], None] | None = None) -> Path:
    """Build the index for this corpus/model/settings and move it into place atomically."""
    from .embed import VectorCache, encode_passages, load_sentence_transformer

    fp = fingerprint(corpus, spec, settings)
    started = time.time()
    passages = make_passages(corpus, settings.chunk_size, settings.max_passage_chars)
    units = [u for i, p in enumerate(passages) for u in split_units(i, p.text)]
    terms = corpus_terms([p.text for p in passages])
    tokenizer = Tokenizer(terms, settings.cache_dir / "jieba")
    tokens = passage_tokens(tokenizer, passages)
    unit_tokens = [tokenizer(normalize(u.text)) for u in units]

    model = st_model
    total = len(units)
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress("embedding", done, total)

    # the dense side indexes sentences and clauses: a passage scores by its best unit, so one target in
    # a long list is found as precisely as a short paragraph (passage-level vectors blur such lists).
    # Each document is embedded on its own and cached by its texts: adding a report embeds only that one
    # (and the model is not even loaded when every document is cached)
    cache = VectorCache(settings.cache_dir / "embeddings", spec.identity, settings.passage_prefix)
    rows_of: dict[str, list[int]] = {}
    for row, u in enumerate(units):
        rows_of.setdefault(passages[u.passage].citation.doc_id, []).append(row)
    parts: dict[str, np.ndarray] = {}
    keys: list[str] = []
    reused = 0
    for doc, rows in rows_of.items():
        texts = [units[r].text for r in rows]
        key = cache.key(texts)
        keys.append(key)
        cached = cache.get(key, len(rows))
        if cached is not None:
            parts[doc] = cached
            reused += 1
            step(len(rows))
            continue
        if model is None:
            model = load_sentence_transformer(spec, settings)
        parts[doc] = encode_passages(model, texts, settings.passage_prefix, progress=step)
        cache.put(key, parts[doc])
    dims = {int(v.shape[1]) for v in parts.values()}
    if len(dims) > 1:  # a cache from another model cannot have the same key; this is a damaged file
        raise ValueError(f"cached embeddings disagree on their dimension ({sorted(dims)}); "
                         f"delete {cache.folder} and run `dzqa build`")
    if dims:
        vectors = np.zeros((len(units), dims.pop()), np.float32)
        for doc, rows in rows_of.items():
            vectors[rows] = parts[doc]
    else:
        if model is None:
            model = load_sentence_transformer(spec, settings)
        vectors = np.zeros((0, model.get_embedding_dimension()), np.float32)
    cache.prune(keys)
    manifest = {
        "fingerprint": fp,
        "model": {"name": spec.name, "identity": spec.identity, "dim": int(vectors.shape[1])},
        "embedding_cache": {"documents": len(rows_of), "reused": reused, "embedded": len(rows_of) - reused},
        "settings": settings.index_shape(),
        "corpus": {"fingerprint": corpus.fingerprint(),
                   "documents": [{"id": r.document.id, "title": r.document.title,
                                  "file": Path(r.document.path).name, "sha256": r.document.sha256,
                                  "paragraphs": len(r.paragraphs)} for r in corpus.reports]},
    }
    target = write_index(index_path(settings, fp), passages, units, unit_tokens, tokens, terms, vectors,
                         manifest, started=started)
    _prune(settings.index_dir, keep=target)
    return target


def passage_tokens(tokenizer: Tokenizer, passages: Sequence[Passage]) -> list[list[str]]:
    """What BM25 indexes for each passage: jieba tokens of its normalised text and heading context."""
    return [tokenizer(normalize(_keyword_text(p))) for p in passages]


def dense_index(vectors: np.ndarray) -> Any:
    """FAISS inner product over unit vectors: exact up to :data:`FLAT_MAX` rows, HNSW above."""
    import faiss

    dim = int(vectors.shape[1])
    if len(vectors) <= FLAT_MAX:
        dense = faiss.IndexFlatIP(dim)
    else:
        dense = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        dense.hnsw.efConstruction = 80
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # building is parallel work; searching (below) is not
    dense.add(np.ascontiguousarray(vectors, dtype=np.float32))
    _search_settings(dense)
    return dense


def _search_settings(dense: Any) -> None:
    """How a loaded index searches: one question at a time, on the calling thread.

    OpenMP would split a single query over the cores and then spin-wait, taking them from the query
    encoder (measured: a flat search over 12,500 units 0.4 ms on one thread, 1.2 ms on two, and the
    encoder 20-50 % slower next to the spinning threads)."""
    import faiss

    faiss.omp_set_num_threads(1)
    if hasattr(dense, "hnsw"):
        dense.hnsw.efSearch = 64


def write_index(target: Path, passages: Sequence[Passage], units: Sequence[Unit], unit_tokens: Sequence[list[str]],
                tokens: Sequence[list[str]], terms: Sequence[str], vectors: np.ndarray, manifest: dict[str, Any],
                *, started: float | None = None) -> Path:
    """Write an index folder at ``target`` atomically: FAISS over ``vectors`` (one per unit), BM25 over
    ``tokens`` (one list per passage), the passages, units and lexicon, and ``manifest`` completed with
    the format, counts and checksums (written last: no manifest, no index)."""
    import faiss

    started = time.time() if started is None else started
    with atomic_folder(target, ".build-") as tmp:  # a damaged index of the same name is replaced whole
        dense = dense_index(vectors)
        faiss.write_index(dense, str(tmp / "dense.faiss"))
        Keywords.write(tmp, tokens, [p.citation.doc_id for p in passages])
        _write_json(tmp / "passages.json", [_passage_json(p) for p in passages])
        _write_json(tmp / "units.json", [[u.passage, u.start, u.end, t] for u, t in zip(units, unit_tokens)])
        _write_json(tmp / "lexicon.json", {"terms": list(terms), "idf": idf_of(tokens)})
        manifest = {**manifest, "format": INDEX_FORMAT, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "build_seconds": round(time.time() - started, 2),
                    "passages": len(passages), "units": len(units), "dense": type(dense).__name__,
                    "files": _checksums(tmp)}
        _write_json(tmp / MANIFEST, manifest)  # written last: no manifest, no index
    return target


def _passage_json(p: Passage) -> dict[str, Any]:
    return {"id": p.id, "text": p.text, "context": p.context, "citation": asdict(p.citation)}


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def _checksums(folder: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for f in sorted(folder.rglob("*")):
        if f.is_file() and f.name != MANIFEST:
            out[str(f.relative_to(folder))] = {"size": f.stat().st_size, "sha256": _sha256(f)}
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _prune(index_dir: Path, keep: Path) -> None:
    """Remove indexes for other fingerprints and leftovers of interrupted builds."""
    for child in index_dir.iterdir():
        if child.is_dir() and child != keep and (child.name.startswith(".") or (child / MANIFEST).exists()
                                                  or len(child.name) == 16):
            shutil.rmtree(child, ignore_errors=True)


def build_lock(settings: Settings) -> contextlib.AbstractContextManager[None]:
    """One build at a time per index folder (several server workers may start together)."""
    return file_lock(settings.index_dir / ".lock")


# ------------------------------------------------------------------------------------------------- load


def check_index(path: Path, fp: str) -> str | None:
    """None when the index at ``path`` is complete and intact, else what is wrong with it."""
    manifest_file = path / MANIFEST
    if not manifest_file.exists():
        return "missing" if not path.exists() else "incomplete (no manifest)"
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "damaged (unreadable manifest)"
    if manifest.get("fingerprint") != fp or manifest.get("format") != INDEX_FORMAT:
        return "stale (built for another corpus, model or settings)"
    for name, info in manifest.get("files", {}).items():
        f = path / name
        if not f.exists():
            return f"damaged ({name} is missing)"
        if f.stat().st_size != info["size"] or _sha256(f) != info["sha256"]:
            return f"damaged ({name} does not match its checksum)"
    return None


def load_index(path: Path) -> Index:
    """Load a checked index folder."""
    import faiss

    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    raw = json.loads((path / "passages.json").read_text(encoding="utf-8"))
    passages = tuple(Passage(id=p["id"], text=p["text"], context=p["context"], citation=Citation(**p["citation"]))
                     for p in raw)
    dense = faiss.read_index(str(path / "dense.faiss"))
    _search_settings(dense)
    keywords = Keywords.load(path)
    lexicon = json.loads((path / "lexicon.json").read_text(encoding="utf-8"))
    rows = json.loads((path / "units.json").read_text(encoding="utf-8"))
    if dense.ntotal != len(rows) or manifest.get("passages") != len(passages) \
            or any(not 0 <= r[0] < len(passages) for r in rows):
        raise IndexNotReady(f"the index in {path} is damaged (its parts disagree); run `dzqa build`")
    units = tuple(Unit(r[0], r[1], r[2], passages[r[0]].text[r[1]:r[2]]) for r in rows)
    spans = [[len(units), 0] for _ in passages]
    for i, u in enumerate(units):
        spans[u.passage][0] = min(spans[u.passage][0], i)
        spans[u.passage][1] = i + 1
    return Index(
        path=path, manifest=manifest, passages=passages, dense=dense, keywords=keywords,
        vocab=keywords.vocab, idf=lexicon["idf"], terms=tuple(lexicon["terms"]),
        units=units, unit_tokens=tuple(frozenset(r[3]) for r in rows),
        unit_vectors=_vectors(dense), unit_passage=np.asarray([u.passage for u in units], np.int64),
        passage_units=tuple((a, max(a, b)) for a, b in spans),
        positions={p.id: i for i, p in enumerate(passages)},
        years=frozenset(y for p in passages for y in years(p.context + p.text)),
        top_idf=max(lexicon["idf"].values(), default=1.0))


def _vectors(dense: Any) -> np.ndarray:
    """The vectors a flat or HNSW FAISS index stores, as a read-only numpy view."""
    import faiss

    flat = faiss.downcast_index(dense.storage) if hasattr(dense, "storage") else dense
    n, d = flat.ntotal, flat.d
    view = faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d) if n else np.zeros((0, d), np.float32)
    view.flags.writeable = False
    return view
