"""The query tokenizer: the model's SentencePiece-unigram ``tokenizer.json`` applied without ``tokenizers``' trie.

``tokenizers`` holds XLM-R's 250k-piece vocabulary in a character trie of ~270 MB and needs ~0.6 s to
build it, for questions of twenty characters. :class:`UnigramTokenizer` keeps the vocabulary in a dict
(~40 MB) and runs the same Viterbi search as ``tokenizers`` (``Unigram::encode_optimized``: longest
pieces tried shortest first, ties keep the earlier candidate, unknown characters fused into one
``<unk>``), with ``tokenizers``' own normalizer and pre-tokenizer objects, so it gives the same ids.
Text that contains a special token literally (``<s>``, ``<mask>`` …) goes to ``tokenizers`` itself,
loaded only then. Tests compare both on the whole report and every evaluation question.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

#: tokenizers' penalty below the lowest piece score for an unknown character (kUnkPenalty)
UNK_PENALTY = 10.0


class UnsupportedTokenizer(ValueError):
    """The tokenizer.json is not a plain unigram model with a ``<s> $A </s>`` template; use ``tokenizers``."""


#: the files :func:`convert` writes next to ``tokenizer.json``
SHELL, PIECES, SCORES = "unigram.json", "unigram-pieces.txt", "unigram-scores.npy"
_SEP = "\x00"


def convert(tokenizer_json: Path, folder: Path) -> None:
    """Split a unigram ``tokenizer.json`` into the files :class:`UnigramTokenizer` loads in ~0.1 s: the
    pieces (NUL-separated text), their scores (float64 .npy) and the rest of the file (``unigram.json``)."""
    import numpy as np

    data = json.loads(Path(tokenizer_json).read_text(encoding="utf-8"))
    model = data.get("model") or {}
    if model.get("type") != "Unigram" or model.get("byte_fallback") or model.get("unk_id") is None:
        raise UnsupportedTokenizer("not a unigram model with an unknown-piece id")
    _template(data.get("post_processor"))
    pieces = [p for p, _ in model["vocab"]]
    if any(_SEP in p for p in pieces):
        raise UnsupportedTokenizer("a piece contains NUL")
    (folder / PIECES).write_text(_SEP.join(pieces), encoding="utf-8")
    np.save(folder / SCORES, np.asarray([s for _, s in model["vocab"]], np.float64))
    data["model"] = {k: v for k, v in model.items() if k != "vocab"}
    (folder / SHELL).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


class UnigramTokenizer:
    """Loads what :func:`convert` wrote in ``folder``; ``folder/tokenizer.json`` serves text with special tokens."""

    def __init__(self, folder: Path, max_length: int = 512) -> None:
        import numpy as np
        from tokenizers import Tokenizer

        self.folder = Path(folder)
        data = json.loads((self.folder / SHELL).read_text(encoding="utf-8"))
        model = data["model"]
        pieces = (self.folder / PIECES).read_text(encoding="utf-8").split(_SEP)
        self.ids = dict(zip(pieces, range(len(pieces))))  # a repeated piece: the last id, as in tokenizers
        self.scores: list[float] = np.load(self.folder / SCORES).tolist()
        if len(self.scores) != len(pieces):
            raise UnsupportedTokenizer("pieces and scores disagree")
        self.unk_id = int(model["unk_id"])
        self.unk_score = min(self.scores) - UNK_PENALTY
        self.longest = max(map(len, pieces))
        self.bos, self.eos = _template(data.get("post_processor"))
        self.specials = tuple(t["content"] for t in data.get("added_tokens", ()))
        self.max_length = max_length
        # tokenizers' own normalizer and pre-tokenizer, from the same file with a one-piece vocabulary
        data["model"] = {**model, "vocab": [["<unk>", 0.0]], "unk_id": 0}
        data["added_tokens"] = []
        data["post_processor"] = None
        shell = Tokenizer.from_str(json.dumps(data))
        self.normalizer = shell.normalizer
        self.pre_tokenizer = shell.pre_tokenizer
        self._full: Any = None
        self._lock = threading.Lock()

    def encode(self, text: str) -> list[int]:
        """Token ids with ``<s>`` … ``</s>``, truncated to ``max_length`` as ``tokenizers`` truncates."""
        if any(s in text for s in self.specials):
            return self._tokenizers().encode(text).ids
        normalized = self.normalizer.normalize_str(text) if self.normalizer else text
        words = self.pre_tokenizer.pre_tokenize_str(normalized) if self.pre_tokenizer else [(normalized, None)]
        ids: list[int] = []
        for word, _ in words:
            ids += self._viterbi(word)
        return [self.bos, *ids[:max(0, self.max_length - 2)], self.eos]

    def _viterbi(self, word: str) -> list[int]:
        n = len(word)
        if not n:
            return []
        best = [0.0] * (n + 1)
        start: list[int | None] = [None] * (n + 1)
        piece = [0] * (n + 1)
        ids, scores = self.ids, self.scores
        for i in range(n):
            here = best[i]
            single = False
            for j in range(i + 1, min(n, i + self.longest) + 1):
                pid = ids.get(word[i:j])
                if pid is None:
                    continue
                cand = scores[pid] + here
                if start[j] is None or cand > best[j]:
                    best[j], start[j], piece[j] = cand, i, pid
                if j == i + 1:
                    single = True
            if not single:
                cand = self.unk_score + here
                if start[i + 1] is None or cand > best[i + 1]:
                    best[i + 1], start[i + 1], piece[i + 1] = cand, i, self.unk_id
        out: list[int] = []
        end = n
        while end > 0:
            pid = piece[end]
            if not (pid == self.unk_id and out and out[-1] == self.unk_id):  # consecutive unknowns fuse
                out.append(pid)
            end = start[end]  # type: ignore[assignment]
        out.reverse()
        return out

    def _tokenizers(self) -> Any:
        with self._lock:
            if self._full is None:
                from tokenizers import Tokenizer

                full = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
                full.no_padding()
                full.enable_truncation(self.max_length)
                self._full = full
        return self._full


def _template(post: Any) -> tuple[int, int]:
    """(bos, eos) ids of a ``<s> $A </s>`` template processor."""
    try:
        single = post["single"]
        first, seq, last = single
        assert post["type"] == "TemplateProcessing" and seq["Sequence"]["id"] == "A"
        specials = post["special_tokens"]
        return (int(specials[first["SpecialToken"]["id"]]["ids"][0]),
                int(specials[last["SpecialToken"]["id"]]["ids"][0]))
    except (TypeError, KeyError, ValueError, AssertionError, IndexError):
        raise UnsupportedTokenizer("the post-processor is not '<s> $A </s>'") from None
