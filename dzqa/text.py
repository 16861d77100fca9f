"""Question normalisation and the jieba tokeniser shared by the keyword index and queries."""

from __future__ import annotations

import logging
import threading
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_SPACES = re.compile(r"\s+")
_REPEATED_PUNCT = re.compile(r"([^\w\s])\1+")
_EDGE_PUNCT = re.compile(r"^[\s\W_]+|[\s\W_]+$")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_HAS_WORD = re.compile(r"\w")
_ALL_CJK = re.compile(r"^[\u3400-\u9fff]+$")
#: a year is a four-digit number followed by 年 ("2000人" and "2000万元" are quantities)
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?=\s*年)")
_LATIN_YEAR = re.compile(r"\b(?:in|for|of|during|since|by|from|to|year)\s+(1[89]\d\d|20\d\d)\b(?=\s*(?:[?.!,;:]|$|and\b|or\b|vs\b))")
_QUOTED = re.compile(r"[“\"「『]([^”\"」』]{2,10})[”\"」』]")

#: function words and question words carry no content for keyword search or relevance
STOPWORDS = frozenset("""
的 了 是 在 和 与 及 或 等 要 有 吗 呢 吧 啊 呀 么 嘛 哦 哈 把 被 给 对 就 都 也 还 又 这 那 这个 那个 这些 那些
什么 怎么 怎样 怎么样 如何 哪些 哪个 哪 哪里 多少 几 几个 为什么 是否 是不是 有没有 会不会 能不能 请问 请 问
我 我们 你 你们 他 他们 它 咱们 大家 一下 一些 一个 个 吗 呗 啦 嗯 知道 告诉 想 想问 了解 关于 方面 情况 具体
今年 明年 去年 政府 报告 工作报告 政府工作报告 市里 市 德州 德州市
啥 咋 咋样 咋办 咋整 俺 俺们 俺家 咱 咱家 这块 那块 这边 搞 弄 整 到底 究竟 提没提 说没说 中不中 行不行 不管 不让 让不让
给不给 里 没 说 讲 嘞 哩 喽
a an the of to in on for and or is are was were be been will would can could do does did what which
how many much who whom when where why this that these those it its with by at as from about please
""".split())

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def is_valid_unicode(text: str) -> bool:
    """False when the text holds lone surrogates (JSON can carry them; UTF-8, SQLite and HTML cannot)."""
    return not _SURROGATE.search(text)


def strip_unsafe(text: str) -> str:
    """Drop control, zero-width, bidi-override characters and lone surrogates (never meaningful in a question)."""
    return _CONTROL.sub("", _SURROGATE.sub("", text))


def normalize(text: str) -> str:
    """Canonical form of a question: NFKC, traditional → simplified, one space, no stray punctuation.

    Only used to search; what the citizen typed is always echoed back unchanged.
    """
    text = unicodedata.normalize("NFKC", strip_unsafe(text))
    text = _t2s().convert(text)
    text = _SPACES.sub(" ", text)
    text = _REPEATED_PUNCT.sub(r"\1", text)
    text = _EDGE_PUNCT.sub("", text) if _HAS_WORD.search(text) else text.strip()
    return text.lower()


def has_content(text: str) -> bool:
    """True when the text has at least one letter, digit or CJK character."""
    return bool(_HAS_WORD.search(text.replace("_", "")))


#: jieba's part-of-speech tags of what names no thing: verbs, adverbs, adjectives, place and time words (not
#: vn/an: 考试, 困难 also name things)
_ACTION_TAGS = frozenset({"v", "vd", "vi", "vq", "d", "a", "ad", "ag", "dg", "vg", "s", "f", "t", "tg"})
#: … and for single characters also the function words a verb takes (好, 上, 了, 能 in 建好, 打上)
_FUNCTION_TAGS = frozenset({"p", "u", "c", "r", "m", "q", "ul", "uj", "uz", "ug", "uv", "ud", "y", "e", "o"})


class Tokenizer:
    """jieba (search mode) over normalised text, stopwords and punctuation removed.

    ``words`` are extra dictionary entries taken from the corpus (quoted names such as 两进一出), so
    that the index and the queries cut them identically.
    """

    def __init__(self, words: Iterable[str] = (), cache_dir: Path | None = None) -> None:
        import jieba

        self.words = tuple(sorted(set(words)))
        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            self._jieba.tmp_dir = str(cache_dir)
        self._jieba.initialize()
        for w in self.words:
            self._jieba.add_word(w, freq=2000)
        self._actions: frozenset[str] | None = None  # dictionary words tagged as actions, read on first use
        self._lock = threading.Lock()

    def cut(self, text: str) -> list[str]:
        """jieba's plain cut (every character kept, no stopwords removed): the word boundaries of ``text``."""
        return self._jieba.lcut(text)

    def names_an_action(self, word: str) -> bool:
        """Whether ``word`` names an action, not a thing, as far as jieba's dictionary tells: a word it tags as a
        verb, adverb, adjective, place or time word (开诊, 路上), or a word it does not know made of such single
        characters (建好, 打上); 冰墩墩, 充电桩 or 通车 (a noun there) may name a thing."""
        with self._lock:
            if self._actions is None:
                actions: set[str] = set()
                with self._jieba.get_dict_file() as fh:  # "word count tag" per line
                    for line in fh:
                        parts = line.decode("utf-8").split()
                        if len(parts) == 3 and (parts[2] in _ACTION_TAGS
                                                or (len(parts[0]) == 1 and parts[2] in _FUNCTION_TAGS)):
                            actions.add(parts[0])
                self._actions = frozenset(actions)
        if word in self._actions:
            return True
        return not self._jieba.FREQ.get(word) and all(c in self._actions for c in word)

    def frequency(self, word: str) -> int:
        """How often jieba's dictionary has seen ``word`` as a word (0 for a word it does not know)."""
        return int(self._jieba.FREQ.get(word) or 0)

    def __call__(self, text: str) -> list[str]:
        """Tokens of already normalised text (lower case, simplified)."""
        out: list[str] = []
        for tok in self._jieba.lcut_for_search(text):
            tok = tok.strip()
            if tok and tok not in STOPWORDS and has_content(tok):
                out.append(tok)
        return out


def corpus_terms(texts: Sequence[str]) -> list[str]:
    """Quoted names in the report (“两进一出”, “春笋行动”): added to jieba's dictionary."""
    found: set[str] = set()
    for t in texts:
        for m in _QUOTED.finditer(t):
            term = normalize(m.group(1))
            if has_content(term):
                found.add(term)
    return sorted(found)


def match(token: str, text: str) -> float:
    """How well a query token occurs in ``text``: 1 for an exact occurrence, else the share of its
    character pairs that occur (a typo or a different cut of 建智轨 still finds 智轨)."""
    if token in text:
        return 1.0
    if len(token) < 3 or not _ALL_CJK.match(token):  # numbers and Latin words match exactly or not at all
        return 0.0
    pairs = [token[i:i + 2] for i in range(len(token) - 1)]
    return sum(p in text for p in pairs) / len(pairs)


def years(text: str) -> set[str]:
    """Years (1800–2099) mentioned in a text: written with 年, or in English after in/for/during… and ending the
    phrase ("GDP growth in 2020?"; not "places for 2000 children")."""
    return set(_YEAR.findall(text)) | set(_LATIN_YEAR.findall(text))
