"""Stage 3b: turn text into vectors.

Passages are embedded with sentence-transformers at index build time. Questions are embedded by a
:class:`QueryEncoder`: by default an ONNX export of the same model run with onnxruntime (several times
faster than torch for one short query, same vectors within a tested tolerance), or plain
sentence-transformers with ``DZQA_QUERY_ENCODER=torch``. Entry points: :func:`load_sentence_transformer`,
:func:`encode_passages`, :func:`query_encoder`.

torch and sentence-transformers are imported only here and only when needed, so serving a built index
with the ONNX encoder never loads torch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from .model import ModelSpec
from .settings import Settings

log = logging.getLogger(__name__)
ONNX_FORMAT = 1
#: the ONNX encoder must reproduce sentence-transformers' vectors this closely (cosine)
ONNX_MIN_COSINE = 0.9999


class QueryEncoder(Protocol):
    name: str
    dim: int

    def encode(self, text: str) -> np.ndarray:
        """One question → unit-length float32 vector (the query prefix is added here)."""
        ...


def _threads(settings: Settings) -> int:
    return settings.threads or os.cpu_count() or 1


def load_sentence_transformer(spec: ModelSpec, settings: Settings) -> Any:
    """The model in float32 on the CPU (an fp16 file would run 1.5–2× slower on CPU)."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(_threads(settings))
    try:
        return SentenceTransformer(spec.path, device="cpu", model_kwargs={"dtype": torch.float32})
    except OSError as e:
        raise RuntimeError(f"cannot load embedding model {spec.name!r} ({e}); set DZQA_EMBED_MODEL to a "
                           f"sentence-transformers folder or a model in the local cache") from None


def encode_passages(model: Any, texts: Sequence[str], prefix: str, *, batch_size: int = 32,
                    progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Unit-length float32 vectors of ``prefix + text``, in order; ``progress(n)`` after each batch."""
    out = []
    for i in range(0, len(texts), batch_size):
        batch = [prefix + t for t in texts[i:i + batch_size]]
        out.append(model.encode(batch, batch_size=batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False).astype(np.float32))
        if progress:
            progress(len(batch))
    dim = model.get_embedding_dimension()
    return np.vstack(out) if out else np.zeros((0, dim), np.float32)


class TorchQueryEncoder:
    """Plain sentence-transformers (torch fp32)."""

    def __init__(self, model: Any, prefix: str) -> None:
        self.model = model
        self.prefix = prefix
        self.name = "sentence-transformers (torch fp32)"
        self.dim = int(model.get_embedding_dimension())
        self._lock = threading.Lock()

    def encode(self, text: str) -> np.ndarray:
        with self._lock:
            v = self.model.encode(self.prefix + text, normalize_embeddings=True, convert_to_numpy=True,
                                  show_progress_bar=False)
        return np.asarray(v, np.float32)


class OnnxQueryEncoder:
    """The same model exported to ONNX (encoder + pooling + normalisation), run with onnxruntime."""

    def __init__(self, folder: Path, prefix: str, threads: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self.prefix = prefix
        self.dim = int(meta["dim"])
        self.inputs: list[str] = meta["inputs"]
        self.name = f"onnxruntime fp32 ({threads} threads)"
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(int(meta.get("max_length", 512)))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(folder / "model.onnx"), opts, providers=["CPUExecutionProvider"])

    def feeds(self, text: str) -> dict[str, np.ndarray]:
        enc = self.tokenizer.encode(self.prefix + text)
        arrays = {"input_ids": enc.ids, "attention_mask": enc.attention_mask, "token_type_ids": enc.type_ids}
        return {k: np.asarray([arrays[k]], dtype=np.int64) for k in self.inputs}

    def encode(self, text: str) -> np.ndarray:
        return self.session.run(None, self.feeds(text))[0][0]


def onnx_folder(spec: ModelSpec, settings: Settings) -> Path:
    digest = hashlib.sha256(f"{spec.identity}|onnx{ONNX_FORMAT}".encode()).hexdigest()[:16]
    return settings.cache_dir / "onnx" / digest


def export_onnx(model: Any, spec: ModelSpec, settings: Settings, samples: Sequence[str]) -> Path:
    """Export the whole sentence-transformers pipeline to ONNX and check it reproduces the vectors."""
    import torch

    folder = onnx_folder(spec, settings)
    tok_file = Path(spec.path) / "tokenizer.json"
    if not tok_file.exists():
        raise RuntimeError(f"{spec.name} has no tokenizer.json; use DZQA_QUERY_ENCODER=torch")
    probe = model.preprocess([settings.query_prefix + "德州"])
    inputs = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in probe]

    class Pipeline(torch.nn.Module):
        def __init__(self, st: Any) -> None:
            super().__init__()
            self.st = st

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.st(dict(zip(inputs, args)))["sentence_embedding"]

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
    try:
        dynamic = {k: {0: "batch", 1: "tokens"} for k in inputs}
        with torch.no_grad():
            torch.onnx.export(Pipeline(model).eval(), tuple(probe[k] for k in inputs), str(tmp / "model.onnx"),
                              input_names=inputs, output_names=["embedding"],
                              dynamic_axes={**dynamic, "embedding": {0: "batch"}}, opset_version=17,
                              dynamo=False)
        shutil.copy(tok_file, tmp / "tokenizer.json")
        dim = int(model.get_embedding_dimension())
        meta = {"model": spec.identity, "dim": dim, "inputs": inputs,
                "max_length": int(model.max_seq_length or 512)}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        onnx = OnnxQueryEncoder(tmp, settings.query_prefix, 1)
        torch_enc = TorchQueryEncoder(model, settings.query_prefix)
        worst = min(float(onnx.encode(s) @ torch_enc.encode(s)) for s in samples)
        if worst < ONNX_MIN_COSINE:
            raise RuntimeError(f"ONNX export differs from sentence-transformers (cosine {worst:.5f}); "
                               f"use DZQA_QUERY_ENCODER=torch")
        del onnx
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def query_encoder(spec: ModelSpec, settings: Settings, *, st_model: Any = None,
                  samples: Sequence[str] = ("德州",)) -> QueryEncoder:
    """The configured query encoder; the ONNX file is exported on first use (needs torch once)."""
    if settings.query_encoder == "onnx":
        folder = onnx_folder(spec, settings)
        if not (folder / "meta.json").exists():
            model = st_model if st_model is not None else load_sentence_transformer(spec, settings)
            try:
                export_onnx(model, spec, settings, samples)
            except Exception as e:  # an exotic model: fall back rather than refuse to answer
                log.warning("ONNX export failed (%s); questions use sentence-transformers instead", e)
                return TorchQueryEncoder(model, settings.query_prefix)
        return OnnxQueryEncoder(folder, settings.query_prefix, _threads(settings))
    model = st_model if st_model is not None else load_sentence_transformer(spec, settings)
    return TorchQueryEncoder(model, settings.query_prefix)
