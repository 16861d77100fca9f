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
from typing import Any, Callable, Sequence

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


@dataclass(frozen=True)
class Index:
    """A loaded index: passages with BM25, and their answer units (sentences, clauses) in FAISS."""

    path: Path
    manifest: dict[str, Any]
    passages: tuple[Passage, ...]
    dense: Any  # faiss.Index
    bm25: Any  # bm25s.BM25
    vocab: dict[str, int]  # BM25 token → id
    idf: dict[str, float]
    terms: tuple[str, ...]  # extra jieba words from the corpus
    units: tuple[Unit, ...]  # the rows of ``dense``
    unit_tokens: tuple[frozenset[str], ...]
    unit_vectors: np.ndarray  # float32 view of the vectors stored in ``dense`` (no copy)
    unit_passage: np.ndarray  # unit row → passage row
    passage_units: tuple[tuple[int, int], ...]  # passage → [first, last) unit rows
    positions: dict[str, int]  # passage id → row
    years: frozenset[str]  # years the corpus mentions ("2021")
    top_idf: float = 1.0  # the highest idf (the weight of a question word the index does not know)

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
    import bm25s
    import faiss

    logging.getLogger("bm25s").setLevel(logging.ERROR)  # it logs every build at DEBUG
    started = time.time() if started is None else started
    with atomic_folder(target, ".build-") as tmp:  # a damaged index of the same name is replaced whole
        dense = dense_index(vectors)
        faiss.write_index(dense, str(tmp / "dense.faiss"))
        retriever = bm25s.BM25()
        retriever.index(list(tokens), show_progress=False)
        retriever.save(str(tmp / "bm25"), show_progress=False)
        df = Counter(t for doc in tokens for t in set(doc))
        n = len(tokens)
        idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        _write_json(tmp / "passages.json", [_passage_json(p) for p in passages])
        _write_json(tmp / "units.json", [[u.passage, u.start, u.end, t] for u, t in zip(units, unit_tokens)])
        _write_json(tmp / "lexicon.json", {"terms": list(terms), "idf": idf})
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
    import bm25s
    import faiss

    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    raw = json.loads((path / "passages.json").read_text(encoding="utf-8"))
    passages = tuple(Passage(id=p["id"], text=p["text"], context=p["context"], citation=Citation(**p["citation"]))
                     for p in raw)
    dense = faiss.read_index(str(path / "dense.faiss"))
    _search_settings(dense)
    bm25 = bm25s.BM25.load(str(path / "bm25"), show_progress=False)
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
        path=path, manifest=manifest, passages=passages, dense=dense, bm25=bm25,
        vocab=dict(bm25.vocab_dict), idf=lexicon["idf"], terms=tuple(lexicon["terms"]),
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
