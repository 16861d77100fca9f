"""Stage 3b: turn text into vectors.

Passages are embedded with sentence-transformers at index build time. Questions are embedded by a
:class:`QueryEncoder`: by default an ONNX export of the same float32 model run with onnxruntime (about
3× faster than sentence-transformers for one question, the same vectors to ~1e-7, tested to 1e-5 on
the question set; questions that arrive together run as one batch), or plain sentence-transformers with
``DZQA_QUERY_ENCODER=torch``. Entry points: :func:`load_sentence_transformer`, :func:`encode_passages`,
:func:`query_encoder`.

Not used, measured (2-core Zen 4, see README "Performance"): onnxruntime dynamic int8 (~2× faster,
cosine ≥ 0.995 to float32, one more question refused on the calibration set) and 4-bit weights with
int8 activations (MatMulNBits: cosine ≥ 0.9998 but only ~25 % faster). Quality must not move, so the
encoder stays float32; the table of word embeddings lives outside the graph, read row by row.

torch and sentence-transformers are imported only here and only when needed, so serving a built index
with the ONNX encoder never loads torch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from . import unigram
from .atomic import atomic_folder, file_lock
from .model import ModelSpec
from .settings import Settings

log = logging.getLogger(__name__)
#: bumped when an export's files change. 3: word embeddings out of the graph (word_embeddings.npy), fused
#: attention, the unigram tokenizer's files (1 held the 470 MB graph with the table inside)
ONNX_FORMAT = 3
#: the ONNX encoder must reproduce sentence-transformers' vectors this closely (cosine)
ONNX_MIN_COSINE = 0.9999
#: the graph input that takes the looked-up word embeddings (the table lives in word_embeddings.npy)
WORD_EMBEDDINGS = "word_embeddings"
#: questions answered in one onnxruntime run when many arrive at once (see :class:`Batcher`)
MAX_BATCH = 32
#: what an export is checked on besides the caller's samples: short, long, numeric, English questions
EXPORT_CHECKS = ("今年要新建多少所公办幼儿园？", "城镇登记失业率控制在多少", "德州", "How many kindergartens will be built?",
                 "推进郑济、德南、天津至潍坊高铁和京台高速改扩建等重点交通基础设施建设，加快构建现代综合交通运输体系")


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


class VectorCache:
    """Passage vectors of one document, kept under ``.cache/embeddings/`` by a hash of what made them: the
    model identity, the passage prompt and the exact texts embedded. A rebuild after adding a report (or
    changing another setting of the index) embeds only the documents whose texts changed, and a cached
    file can never be used for other texts or another model."""

    def __init__(self, folder: Path, identity: str, prefix: str) -> None:
        self.folder = folder
        self.identity = identity
        self.prefix = prefix

    def key(self, texts: Sequence[str]) -> str:
        h = hashlib.sha256()
        for part in (self.identity, self.prefix, *texts):
            h.update(part.encode("utf-8"))
            h.update(b"\0")
        return h.hexdigest()[:32]

    def get(self, key: str, n: int) -> np.ndarray | None:
        """The cached vectors (n rows), or None when missing or unreadable (it is then made again)."""
        path = self.folder / f"{key}.npy"
        try:
            vectors = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None
        if vectors.dtype != np.float32 or vectors.ndim != 2 or vectors.shape[0] != n:
            return None
        os.utime(path)  # used now: pruning keeps it
        return vectors

    def put(self, key: str, vectors: np.ndarray) -> None:
        """Store atomically (a crash leaves the old file or none); a full disk only costs the cache."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{key}.{os.getpid()}.tmp"
        try:
            with tmp.open("wb") as fh:
                np.save(fh, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
            os.replace(tmp, self.folder / f"{key}.npy")
        except OSError as e:
            tmp.unlink(missing_ok=True)
            log.warning("embedding cache not written (%s): the next build embeds this document again", e)

    def prune(self, keep: Sequence[str], max_age_days: float = 30.0) -> None:
        """Remove cached documents this build did not use and that no build used for ``max_age_days``."""
        if not self.folder.is_dir():
            return
        cutoff = time.time() - max_age_days * 86400
        for f in self.folder.glob("*.npy"):
            if f.stem not in keep and f.stat().st_mtime < cutoff:
                f.unlink(missing_ok=True)


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


class Batcher:
    """Runs concurrent single requests as one batch: ``submit`` from many threads, ``run`` once per batch.

    The first caller that finds the runner idle takes every waiting request (up to ``max_batch``) and runs
    them together; the others wait for their result. Alone, a request runs at once, as a batch of one.
    """

    def __init__(self, run: Callable[[list[Any]], Sequence[Any]], max_batch: int) -> None:
        self._run = run
        self._max = max(1, max_batch)
        self._cv = threading.Condition()
        self._queue: list[list[Any]] = []  # [item, done, result, error]
        self._busy = False

    def submit(self, item: Any) -> Any:
        job: list[Any] = [item, False, None, None]
        with self._cv:
            self._queue.append(job)
        while True:
            with self._cv:
                while not job[1] and self._busy:
                    self._cv.wait()
                if job[1]:
                    if job[3] is not None:
                        raise job[3]
                    return job[2]
                self._busy = True
                batch, self._queue = self._queue[:self._max], self._queue[self._max:]
            try:
                self._fill(batch)
            finally:
                with self._cv:
                    for j in batch:
                        j[1] = True
                    self._busy = False
                    self._cv.notify_all()

    def _fill(self, batch: list[list[Any]]) -> None:
        """Results (or errors) into the jobs. When a batch fails, its requests run one by one, so one bad
        request does not fail the others and each caller gets its own error."""
        try:
            results = list(self._run([j[0] for j in batch]))
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} requests")
        except Exception as e:
            if len(batch) == 1:
                batch[0][3] = e
                return
            for j in batch:
                try:
                    j[2] = self._run([j[0]])[0]
                except Exception as one:
                    j[3] = one
            return
        except BaseException as e:  # interrupted: every waiting caller hears of it
            for j in batch:
                j[3] = e
            raise
        for j, r in zip(batch, results):
            j[2] = r


class EmbeddingRows:
    """Rows of a float32 ``.npy`` matrix read on demand with ``pread`` (thread-safe, no resident copy).

    Not a memory map: the kernel maps whole page-cache folios around every touched row, and a few
    thousand distinct tokens would bring most of the 384 MB table into the process's resident set.
    """

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(fh)
            self.offset = fh.tell()
        if fortran or len(shape) != 2 or np.dtype(dtype) != np.float32:
            raise ValueError(f"{path} is not a C-ordered float32 matrix")
        self.rows, self.dim = int(shape[0]), int(shape[1])
        self.row_bytes = self.dim * 4
        self._fd = os.open(path, os.O_RDONLY)

    def __getitem__(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids)
        uniq, inverse = np.unique(ids, return_inverse=True)
        if uniq.size and (uniq[0] < 0 or uniq[-1] >= self.rows):
            raise IndexError("token id outside the embedding table")
        buf = b"".join(os.pread(self._fd, self.row_bytes, self.offset + int(i) * self.row_bytes) for i in uniq)
        table = np.frombuffer(buf, np.float32).reshape(len(uniq), self.dim)
        return table[inverse.reshape(ids.shape)]

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)


class OnnxQueryEncoder:
    """The same model exported to ONNX and run with onnxruntime; concurrent questions are batched.

    The folder holds the transformer without its word-embedding table (``model.onnx``, attention and
    layer norms fused, ~86 MB for e5-small), the table itself (``word_embeddings.npy``, float32, read
    row by row: a question needs ~20 of its 250k rows) and the tokenizer (:mod:`dzqa.unigram`, same ids
    as ``tokenizers`` in a sixth of the memory). The vectors are the float32 model's (to ~1e-7).
    """

    def __init__(self, folder: Path, prefix: str, threads: int, *, max_batch: int = MAX_BATCH) -> None:
        from .offline import onnxruntime

        ort = onnxruntime()  # telemetry off (it would look up mobile.events.data.microsoft.com)

        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self.prefix = prefix
        self.dim = int(meta["dim"])
        self.name = f"onnxruntime fp32 ({threads} thread{'s' if threads != 1 else ''})"
        self.pad_id = int(meta["pad_id"])
        self.embed_input = meta["embed_input"]
        self.token_ids = _token_ids(folder, meta)
        self.word_embeddings = EmbeddingRows(folder / "word_embeddings.npy")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(folder / "model.onnx"), opts, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self._batcher = Batcher(self.encode_batch, max_batch)

    def encode(self, text: str) -> np.ndarray:
        return self._batcher.submit(text)

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of several questions in one run (padded to the longest; padding is masked)."""
        rows = [self.token_ids(self.prefix + t) for t in texts]
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), self.pad_id, np.int64)
        mask = np.zeros((len(rows), width), np.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = r
            mask[i, :len(r)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids),
                 self.embed_input: self.word_embeddings[ids]}
        return self.session.run(None, {k: feeds[k] for k in self.inputs})[0]


def _token_ids(folder: Path, meta: dict[str, Any]) -> Callable[[str], list[int]]:
    """text → token ids with the model's special tokens: :mod:`dzqa.unigram` when the export converted
    the tokenizer, else ``tokenizers``."""
    max_length = int(meta.get("max_length", 512))
    if meta.get("tokenizer") == "unigram":
        return unigram.UnigramTokenizer(folder, max_length).encode
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length)
    return lambda text: tok.encode(text).ids


def onnx_folder(spec: ModelSpec, settings: Settings) -> Path:
    digest = hashlib.sha256(f"{spec.identity}|onnx{ONNX_FORMAT}".encode()).hexdigest()[:16]
    return settings.cache_dir / "onnx" / digest


def export_onnx(model: Any, spec: ModelSpec, settings: Settings, samples: Sequence[str]) -> Path:
    """Export the whole sentence-transformers pipeline to ONNX and check it reproduces the vectors.

    Steps: torch.onnx.export with eager attention (the pattern onnxruntime's fusions recognise), the
    word-embedding table moved out of the graph into a .npy file read row by row, then onnxruntime's
    transformer optimizer fuses attention, skip-layer-norm and bias-GELU (skipped if it fails: the
    unfused graph gives the same vectors, a little slower). The result must match sentence-transformers.
    """
    import torch

    folder = onnx_folder(spec, settings)
    tok_file = Path(spec.path) / "tokenizer.json"
    if not tok_file.exists():
        raise RuntimeError(f"{spec.name} has no tokenizer.json; use DZQA_QUERY_ENCODER=torch")
    probe = model.preprocess([settings.query_prefix + "德州"])
    inputs = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in probe]
    hf = model[0].auto_model

    class Pipeline(torch.nn.Module):
        def __init__(self, st: Any) -> None:
            super().__init__()
            self.st = st

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.st(dict(zip(inputs, args)))["sentence_embedding"]

    attn = getattr(hf.config, "_attn_implementation", None)
    with atomic_folder(folder, ".export-") as tmp:
        dynamic = {k: {0: "batch", 1: "tokens"} for k in inputs}
        try:
            hf.set_attn_implementation("eager")
        except Exception:  # a model without the switch exports as it is (fused less, same vectors)
            attn = None
        try:
            with torch.no_grad():
                torch.onnx.export(Pipeline(model).eval(), tuple(probe[k] for k in inputs), str(tmp / "raw.onnx"),
                                  input_names=inputs, output_names=["embedding"],
                                  dynamic_axes={**dynamic, "embedding": {0: "batch"}}, opset_version=17,
                                  dynamo=False)
        finally:
            if attn:
                hf.set_attn_implementation(attn)
        embed_input = _split_word_embeddings(tmp / "raw.onnx", tmp / "split.onnx", tmp / "word_embeddings.npy")
        fused = _fuse(tmp / "split.onnx", tmp / "model.onnx", heads=int(hf.config.num_attention_heads),
                      hidden=int(hf.config.hidden_size))
        if not fused:
            os.replace(tmp / "split.onnx", tmp / "model.onnx")
        for leftover in ("raw.onnx", "split.onnx"):
            (tmp / leftover).unlink(missing_ok=True)
        shutil.copy(tok_file, tmp / "tokenizer.json")
        tokenizer = "tokenizers"
        try:
            unigram.convert(tok_file, tmp)
            tokenizer = "unigram"
        except unigram.UnsupportedTokenizer as e:
            log.info("query tokenizer: tokenizers (%s)", e)
        dim = int(model.get_embedding_dimension())
        meta = {"format": ONNX_FORMAT, "model": spec.identity, "dim": dim, "inputs": inputs,
                "embed_input": embed_input, "pad_id": int(model.tokenizer.pad_token_id or 0),
                "max_length": int(model.max_seq_length or 512), "tokenizer": tokenizer, "fused": fused}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        onnx = OnnxQueryEncoder(tmp, settings.query_prefix, 1)
        torch_enc = TorchQueryEncoder(model, settings.query_prefix)
        texts = list(samples) + list(EXPORT_CHECKS)
        ref = [torch_enc.encode(t) for t in texts]
        if tokenizer == "unigram":  # the fast tokenizer must give sentence-transformers' own token ids
            st_ids = [list(model.tokenizer(settings.query_prefix + t)["input_ids"]) for t in texts]
            if st_ids != [onnx.token_ids(settings.query_prefix + t) for t in texts]:
                raise RuntimeError("the unigram tokenizer differs from the model's; use DZQA_QUERY_ENCODER=torch")
        alone = [onnx.encode(t) for t in texts]
        batched = onnx.encode_batch(texts)  # padding must not change a vector either
        worst = min(float(v @ r) for r, a, b in zip(ref, alone, batched) for v in (a, b))
        if worst < ONNX_MIN_COSINE:
            raise RuntimeError(f"ONNX export differs from sentence-transformers (cosine {worst:.5f}); "
                               f"use DZQA_QUERY_ENCODER=torch")
        del onnx
    _prune_exports(folder)
    return folder


def _split_word_embeddings(src: Path, dst: Path, table: Path) -> str:
    """Move the word-embedding lookup (Gather of the table by ``input_ids``) out of the graph: its output
    becomes a graph input, the table a .npy file. Returns the new input's name."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.load(str(src))
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    gathers = [n for n in g.node if n.op_type == "Gather" and len(n.input) == 2 and n.input[1] == "input_ids"
               and n.input[0] in inits and len(inits[n.input[0]].dims) == 2]
    if len(gathers) != 1:
        raise RuntimeError(f"expected one word-embedding lookup in the exported graph, found {len(gathers)}")
    node = gathers[0]
    weights = inits[node.input[0]]
    np.save(table, numpy_helper.to_array(weights).astype(np.float32, copy=False))
    g.node.remove(node)
    for n in g.node:
        for i, name in enumerate(n.input):
            if name == node.output[0]:
                n.input[i] = WORD_EMBEDDINGS
    if not any(node.input[0] in n.input for n in g.node):
        g.initializer.remove(weights)
    g.input.append(helper.make_tensor_value_info(WORD_EMBEDDINGS, TensorProto.FLOAT,
                                                 ["batch", "tokens", int(weights.dims[1])]))
    onnx.save(m, str(dst))
    return WORD_EMBEDDINGS


def _fuse(src: Path, dst: Path, *, heads: int, hidden: int) -> dict[str, int]:
    """onnxruntime's BERT fusions (attention, skip-layer-norm, bias-GELU); {} when they do not apply."""
    try:
        from onnxruntime.transformers import optimizer
        from onnxruntime.transformers.fusion_options import FusionOptions

        logging.disable(logging.INFO)  # the optimizer logs every fusion at INFO on its own loggers
        try:
            opt = optimizer.optimize_model(str(src), model_type="bert", num_heads=heads, hidden_size=hidden,
                                           optimization_options=FusionOptions("bert"), opt_level=0)
        finally:
            logging.disable(logging.NOTSET)
        stats = {k: int(v) for k, v in opt.get_fused_operator_statistics().items() if v}
        opt.save_model_to_file(str(dst))
        return stats
    except Exception as e:  # pragma: no cover - depends on the model's architecture
        log.warning("ONNX fusion skipped (%s)", e)
        return {}


def _prune_exports(keep: Path) -> None:
    """Remove exports of an older format."""
    for child in keep.parent.iterdir():
        if child == keep or not child.is_dir():
            continue
        try:
            fmt = json.loads((child / "meta.json").read_text(encoding="utf-8")).get("format", 1)
        except (OSError, ValueError):
            fmt = None if child.name.startswith(".export-") else ONNX_FORMAT  # another export in progress
        if fmt != ONNX_FORMAT:
            shutil.rmtree(child, ignore_errors=True)


def query_encoder(spec: ModelSpec, settings: Settings, *, st_model: Any = None,
                  samples: Sequence[str] = ("德州",)) -> QueryEncoder:
    """The configured query encoder; the ONNX file is exported on first use (needs torch once)."""
    if settings.query_encoder == "onnx":
        folder = onnx_folder(spec, settings)
        if not (folder / "meta.json").exists():
            with file_lock(folder.parent / ".lock"):
                if not (folder / "meta.json").exists():  # another worker may have exported it meanwhile
                    model = st_model if st_model is not None else load_sentence_transformer(spec, settings)
                    try:
                        export_onnx(model, spec, settings, samples)
                    except Exception as e:  # an exotic model: fall back rather than refuse to answer
                        log.warning("ONNX export failed (%s); questions use sentence-transformers instead", e)
                        return TorchQueryEncoder(model, settings.query_prefix)
        return OnnxQueryEncoder(folder, settings.query_prefix, _threads(settings))
    model = st_model if st_model is not None else load_sentence_transformer(spec, settings)
    return TorchQueryEncoder(model, settings.query_prefix)
