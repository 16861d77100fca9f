"""Stage 4: the index is fingerprinted, checked on load, rebuilt when stale or damaged, written atomically."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest

from dzqa.engine import Engine
from dzqa.index import IndexNotReady, Keywords, build_index, check_index, fingerprint, index_path
from dzqa.model import resolve_model
from dzqa.corpus import load_corpus
from dzqa.settings import Settings


def test_manifest_describes_the_index(engine: Engine) -> None:
    m = engine.index.manifest
    assert m["fingerprint"] == engine.index.fingerprint
    assert engine.index.path.name == m["fingerprint"][:16]
    assert m["model"]["dim"] == 384 and m["passages"] == len(engine.index.passages)
    assert {"dense.faiss", "passages.json", "units.json", "lexicon.json"} <= set(m["files"])
    assert m["corpus"]["documents"][0]["title"] == "2021年德州市政府工作报告"


def test_fingerprint_changes_with_what_shapes_the_index(engine: Engine, settings: Settings) -> None:
    corpus, spec = engine.corpus, engine.spec
    base = fingerprint(corpus, spec, settings)
    assert fingerprint(corpus, spec, settings.replace(chunk_size=120)) != base
    assert fingerprint(corpus, spec, settings.replace(passage_prefix="")) != base
    assert fingerprint(corpus, spec, settings.replace(top_k=9)) == base  # query-time settings don't


def test_damaged_index_is_detected_and_rebuilt(index_copy: Settings) -> None:
    corpus = load_corpus(index_copy.corpus_dir)
    spec = resolve_model(index_copy)
    fp = fingerprint(corpus, spec, index_copy)
    path = index_path(index_copy, fp)
    assert check_index(path, fp) is None
    target = path / "dense.faiss"
    target.write_bytes(target.read_bytes()[:1000])  # truncated, as by a full disk
    assert "damaged" in check_index(path, fp)
    with pytest.raises(IndexNotReady, match="dzqa build"):
        Engine.open(index_copy.replace(build="never"))
    engine = Engine.open(index_copy)
    assert engine.ready.built and "damaged" in engine.ready.reason
    assert check_index(path, fp) is None
    assert engine.ask("今年要新建多少所公办幼儿园？").found


def test_stale_index_after_corpus_change_is_rebuilt(index_copy: Settings, corpus_copy: Path) -> None:
    s = index_copy.replace(corpus_dir=corpus_copy)
    (corpus_copy / "extra.txt").write_text("1 补充说明\n\n今年将新建德州市测试图书馆一座。\n", encoding="utf-8")
    (corpus_copy / "extra.json").write_text(json.dumps({"id": "extra", "title": "补充说明"}), encoding="utf-8")
    with pytest.raises(IndexNotReady, match="stale|missing"):
        Engine.open(s.replace(build="never"))
    engine = Engine.open(s)
    assert engine.ready.built
    hits = engine.search("测试图书馆", k=3).hits
    assert hits[0].passage.id == "extra/s1/p1"
    # the old folder is pruned: only the current index is left
    assert [p.name for p in (s.index_dir).iterdir() if p.is_dir()] == [engine.index.path.name]


def test_adding_a_report_embeds_only_that_report(engine: Engine, index_copy: Settings, corpus_copy: Path,
                                                 monkeypatch) -> None:
    """Vectors are cached per document by the texts embedded (issue 9: a city's yearly update takes seconds)."""
    import dzqa.embed

    s = index_copy.replace(corpus_dir=corpus_copy)
    spec = resolve_model(s)
    build_index(load_corpus(corpus_copy), spec, s)  # the report's vectors are cached (by now or by this)
    # a text no earlier run embedded (the embedding cache outlives the test's folders: .cache/embeddings)
    run = uuid.uuid4().hex[:8]
    (corpus_copy / "extra.txt").write_text(f"一、补充说明\n\n今年将新建德州市测试图书馆一座，编号{run}。建成城市书房十处。\n\n"
                                           "二、其他\n\n开通公交线路五条。\n", encoding="utf-8")
    (corpus_copy / "extra.json").write_text(json.dumps({"id": "extra", "title": "补充说明", "year": 2021}),
                                            encoding="utf-8")
    embedded: list[int] = []
    real = dzqa.embed.encode_passages

    def counting(model, texts, *a, **k):
        embedded.append(len(texts))
        return real(model, texts, *a, **k)

    monkeypatch.setattr(dzqa.embed, "encode_passages", counting)
    corpus = load_corpus(corpus_copy)
    path = build_index(corpus, spec, s)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedding_cache"] == {"documents": 2, "reused": 1, "embedded": 1}
    rebuilt = Engine.open(s)
    extra = [i for i, u in enumerate(rebuilt.index.units)
             if rebuilt.index.passages[u.passage].citation.doc_id == "extra"]
    assert embedded == [len(extra)]  # only the new report's sentences went through the model
    own = [i for i in range(len(rebuilt.index.units)) if i not in set(extra)]
    assert np.array_equal(rebuilt.index.unit_vectors[own], engine.index.unit_vectors)  # the cached ones, exactly
    assert rebuilt.search("测试图书馆", k=1).hits[0].passage.citation.doc_id == "extra"
    # a damaged cache file is not trusted: that document is embedded again
    cached = sorted((s.cache_dir / "embeddings").glob("*.npy"), key=lambda f: f.stat().st_mtime)[-1]
    cached.write_bytes(cached.read_bytes()[:100])
    embedded.clear()
    build_index(corpus, spec, s)
    assert len(embedded) == 1


def test_crash_mid_build_never_leaves_a_usable_half_index(index_copy: Settings, monkeypatch) -> None:
    import faiss

    corpus = load_corpus(index_copy.corpus_dir)
    spec = resolve_model(index_copy)
    s = index_copy.replace(chunk_size=120)  # another fingerprint: a fresh build
    fp = fingerprint(corpus, spec, s)

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(faiss, "write_index", boom)
    with pytest.raises(OSError):
        build_index(corpus, spec, s)
    assert check_index(index_path(s, fp), fp) == "missing"
    assert not [p for p in s.index_dir.iterdir() if p.name.startswith(".build-")]
    # the index that was there before is untouched
    old = next(p for p in s.index_dir.iterdir() if p.is_dir())
    assert (old / "manifest.json").exists()


def test_index_from_another_model_is_not_used(index_copy: Settings) -> None:
    corpus = load_corpus(index_copy.corpus_dir)
    spec = resolve_model(index_copy)
    path = index_path(index_copy, fingerprint(corpus, spec, index_copy))
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    manifest["fingerprint"] = "0" * 64  # as if written for another model
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert check_index(path, fingerprint(corpus, spec, index_copy)).startswith("stale")


def test_hnsw_path_finds_what_the_flat_index_finds(engine: Engine, questions: list[dict], tmp_path: Path,
                                                   monkeypatch) -> None:
    """Above FLAT_MAX units the index is HNSW: the same real corpus written that way (vectors reused,
    BM25 rebuilt) must rank the same passages first and give the same answers."""
    import dzqa.index as index_mod
    from dzqa.index import load_index, passage_tokens, write_index

    base = engine.index
    monkeypatch.setattr(index_mod, "FLAT_MAX", 0)
    path = write_index(tmp_path / "hnsw", base.passages, base.units, [sorted(t) for t in base.unit_tokens],
                       passage_tokens(engine.tokenizer, base.passages), base.terms, np.asarray(base.unit_vectors),
                       {"fingerprint": "test", "model": base.manifest["model"]})
    hnsw = load_index(path)
    assert type(hnsw.dense).__name__ == "IndexHNSWFlat" and type(base.dense).__name__ == "IndexFlatIP"
    assert np.array_equal(hnsw.unit_vectors, base.unit_vectors)
    other = Engine(engine.settings, engine.corpus, engine.spec, hnsw, engine.encoder, engine.tokenizer, engine.ready)
    for q in [x["q"] for x in questions]:
        flat_hits = [h.passage.id for h in engine.search(q, k=3).hits]
        assert [h.passage.id for h in other.search(q, k=3).hits] == flat_hits, q
        a, b = other.ask(q), engine.ask(q)
        # approximate search may order near-equal runners-up differently: the answer itself must not change
        assert (a.kind, a.text, [h.passage.id for h in a.citations[:1]]) == \
               (b.kind, b.text, [h.passage.id for h in b.citations[:1]]), q


def test_each_document_is_scored_by_its_own_keyword_statistics(tmp_path: Path) -> None:
    """BM25 of several documents: each passage scores exactly as in an index of its document alone (bm25s over that
    document), so a report's passages rank alike whatever reports sit beside it; its idf is its own too."""
    import bm25s

    first = [["新能源", "产业", "培育"], ["城镇", "新增", "就业"], ["就业", "培训"]]
    second = [["就业", "优先"], ["就业", "稳定"], ["产业", "升级", "就业"], ["财政"]]
    tokens = [second[0], first[0], second[1], first[1], second[2], first[2], second[3]]
    docs = ["b", "a", "b", "a", "b", "a", "b"]
    Keywords.write(tmp_path, tokens, docs)
    kw = Keywords.load(tmp_path)
    for query in (["就业"], ["产业", "就业"], ["城镇", "培训", "未知"]):
        merged = kw.scores(query)
        for doc, part in (("a", first), ("b", second)):
            alone = bm25s.BM25()
            alone.index(part, show_progress=False)
            known = [t for t in query if t in alone.vocab_dict]
            expected = alone.get_scores(known) if known else np.zeros(len(part))
            rows = [i for i, d in enumerate(docs) if d == doc]
            assert np.allclose(merged[rows], expected), (query, doc)
    idf_a, top_a = kw.idf("a")
    idf_b, _ = kw.idf("b")
    assert idf_a["就业"] > idf_b["就业"]  # in two of three passages of a, in three of four of b
    assert top_a == max(idf_a.values()) and kw.idf("c") is None
    assert not kw.scores(["未知"]).any()
