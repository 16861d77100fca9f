"""Staff-curated links: "this question → these passages of the report" or "the report does not cover this".

A link stores passage ids, never free text, so a curated answer is still quoted verbatim from the report
and cited. Links live in the server's database (:mod:`dzqa.db`: ``settings.feedback_db`` or
``DZQA_DATABASE_URL``; tables in :mod:`dzqa.schema`)
beside the asked questions and feedback; every change is written to the ``audit`` table (who, what, when).

* :class:`CuratedStore` — the table: validation of what staff enter (question 1–500 characters, author
  1–40, valid Unicode), upserts by normalised question, deletion, JSONL import (all or nothing; the same
  file twice changes nothing) and export, hit counts, and the review queue (refused, partial and 👎
  questions grouped by normalised wording). Each write is one transaction that takes the write lock first
  (SQLite ``BEGIN IMMEDIATE``; PostgreSQL row locks of ``SELECT … FOR UPDATE`` on the change counter), so
  two operators (threads, processes or replicas) writing at once lose nothing.
* :class:`CuratedSource` — what :class:`dzqa.engine.Engine` consults before retrieval: the links with
  the query encoder's vector of each question, reloaded when ``curated_version`` moves (checked at most
  every :attr:`CuratedSource.check_seconds`), so an import by the CLI reaches a running server within a
  second or two. Passage ids are checked by the engine (``Engine.resolve_passages``): a link whose
  passages no longer exist after a corpus change is *stale*: reported, never used.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from datetime import timedelta
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .db import Target, errors, open_database
from .feedback import now
from .text import is_valid_unicode, normalize

log = logging.getLogger("dzqa.curated")

MAX_QUESTION = 500
MAX_AUTHOR = 40
MAX_PASSAGES = 10
#: the longest a hit count waits for a locked database (it is counted on the way to the citizen's answer)
HIT_TIMEOUT = 0.5
#: characters that do not change what is asked: spacing and punctuation anywhere in the question
_NOISE = re.compile(r"[\s\u3000,.!?;:，。！？；：、…“”‘’\"'（）()《》〈〉【】\[\]~·-]+")


class CuratedError(ValueError):
    """Something staff entered cannot be stored (the message says what and, in an import, which line)."""


def curated_key(question: str) -> str:
    """The normalised wording a link is found by: normalised (NFKC, simplified, lower case), without spacing
    and punctuation ("今年新建多少所公办幼儿园？" and "今年 新建多少所公办幼儿园" are one key)."""
    return _NOISE.sub("", normalize(question))[:MAX_QUESTION]


@dataclass(frozen=True)
class Link:
    question: str
    key: str
    passages: tuple[str, ...]
    covered: bool = True
    hits: int = 0
    created_at: str = ""
    updated_at: str = ""
    author: str = ""
    id: int = 0

    def to_json(self, *, full: bool = True) -> dict[str, Any]:
        """The JSONL line: exactly ``{"question", "passages"}`` or ``{"question", "covered": false}``, then
        (``full``) hits, author and times, which an import ignores."""
        out: dict[str, Any] = {"question": self.question}
        if self.covered:
            out["passages"] = list(self.passages)
        else:
            out["covered"] = False
        if full:
            out.update({"hits": self.hits, "author": self.author, "created_at": self.created_at,
                        "updated_at": self.updated_at})
        return out


def check_text(value: Any, what: str, max_chars: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CuratedError(f"{what} 不能为空 ({what} is required)")
    value = value.strip()
    if len(value) > max_chars:
        raise CuratedError(f"{what} 最多 {max_chars} 个字 ({what} is longer than {max_chars} characters)")
    if not is_valid_unicode(value) or any(ord(c) < 32 for c in value):
        raise CuratedError(f"{what} 含有无效字符 ({what} contains invalid characters)")
    return value


def parse_link(obj: Any) -> tuple[str, tuple[str, ...] | None]:
    """A JSONL line or API body → (question, passage ids, or None for "not covered"); extra keys ignored."""
    if not isinstance(obj, dict):
        raise CuratedError('expected an object {"question": …, "passages": […]} or {"question": …, "covered": false}')
    question = check_text(obj.get("question"), "question", MAX_QUESTION)
    if not curated_key(question):
        raise CuratedError("question has no words")
    covered = obj.get("covered", True)
    if not isinstance(covered, bool):
        raise CuratedError("covered must be true or false")
    passages = obj.get("passages")
    if not covered:
        if passages:
            raise CuratedError('a question marked "covered": false takes no passages')
        return question, None
    if not isinstance(passages, list) or not passages:
        raise CuratedError('passages must be a non-empty list of passage ids such as ["2021/s6/p2"] '
                           '(or "covered": false)')
    if len(passages) > MAX_PASSAGES:
        raise CuratedError(f"at most {MAX_PASSAGES} passages per question")
    if not all(isinstance(p, str) and 0 < len(p) <= 100 and is_valid_unicode(p) for p in passages):
        raise CuratedError("passages must be passage ids (strings such as 2021/s6/p2)")
    return question, tuple(dict.fromkeys(p.strip() for p in passages))


#: resolve passage ids (a paragraph id stands for its passages): the ids, or CuratedError naming unknown ones
Resolver = Callable[[Sequence[str]], tuple[str, ...]]


def _run(conn: Any, sql: str, **params: Any) -> Any:
    """One statement on a connection inside a transaction (named ``:parameters``)."""
    from sqlalchemy import text

    return conn.execute(text(sql), params)


class CuratedStore:
    """The ``curated`` and ``audit`` tables of the server's database."""

    def __init__(self, target: Target, *, timeout: float = 10.0) -> None:
        self.db = open_database(target, timeout=timeout)

    @property
    def path(self) -> Any:
        """The SQLite file (None on PostgreSQL)."""
        return self.db.path

    def _transaction(self, fn: Callable[[Any], Any], timeout: float | None = None) -> Any:
        with self.db.transaction(write=True, timeout=timeout) as conn:
            if not self.db.sqlite:
                # PostgreSQL: concurrent operators queue on the counter's row, as SQLite's write lock does
                _run(conn, "SELECT version FROM curated_version WHERE id = 1 FOR UPDATE")
            return fn(conn)

    def _query(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.db.query(sql, params)]

    # ----------------------------------------------------------------------------------------- reads
    _COLS = "id, question, qkey, passages, covered, hits, created_at, updated_at, author"

    @staticmethod
    def _link(row: tuple[Any, ...]) -> Link:
        i, q, k, p, c, h, ca, ua, a = row
        return Link(question=q, key=k, passages=tuple(json.loads(p)), covered=bool(c), hits=int(h),
                    created_at=ca, updated_at=ua, author=a, id=int(i))

    def links(self) -> list[Link]:
        return [self._link(r) for r in self._query(f"SELECT {self._COLS} FROM curated ORDER BY id")]

    def get(self, question: str) -> Link | None:
        rows = self._query(f"SELECT {self._COLS} FROM curated WHERE qkey = :key", key=curated_key(question))
        return self._link(rows[0]) if rows else None

    def version(self) -> int | None:
        """The change counter of the links, None when the database has no curated table (yet). Never creates
        the file: a server or CLI that never curated anything leaves no database behind."""
        if not self.db.exists():
            return None
        try:
            rows = self.db.query("SELECT version FROM curated_version WHERE id = 1", migrate=False)
        except errors():  # no table yet (a file the feedback store made before curation), or unreachable
            return None
        return int(rows[0][0]) if rows else None

    def audit(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._query("SELECT at, who, action, detail FROM audit ORDER BY id DESC LIMIT :n", n=limit)
        return [{"at": at, "who": who, "action": action, "detail": json.loads(detail)} for at, who, action, detail in rows]

    # ---------------------------------------------------------------------------------------- writes
    def _upsert(self, conn: Any, question: str, passages: tuple[str, ...] | None, author: str,
                stamp: str) -> str:
        """One link inside a transaction: "created", "updated" or "unchanged" (then nothing is written)."""
        key = curated_key(question)
        covered = passages is not None
        stored = json.dumps(list(passages or ()), ensure_ascii=False)
        old = _run(conn, "SELECT question, passages, covered FROM curated WHERE qkey = :key", key=key).first()
        if old is not None and (old[0], old[1], bool(old[2])) == (question, stored, covered):
            return "unchanged"
        if old is None:
            _run(conn, "INSERT INTO curated (question, qkey, passages, covered, hits, created_at, updated_at, author) "
                 "VALUES (:question, :key, :stored, :covered, 0, :stamp, :stamp, :author)", question=question,
                 key=key, stored=stored, covered=int(covered), stamp=stamp, author=author)
        else:
            _run(conn, "UPDATE curated SET question = :question, passages = :stored, covered = :covered, "
                 "updated_at = :stamp, author = :author WHERE qkey = :key", question=question, stored=stored,
                 covered=int(covered), stamp=stamp, author=author, key=key)
        action = "created" if old is None else "updated"
        detail = {"question": question, "passages": list(passages or ()), "covered": covered}
        if old is not None:
            detail["before"] = {"question": old[0], "passages": json.loads(old[1]), "covered": bool(old[2])}
        self._audit(conn, author, "curated.create" if old is None else "curated.update", detail, stamp)
        return action

    @staticmethod
    def _audit(conn: Any, who: str, action: str, detail: dict[str, Any], stamp: str) -> None:
        _run(conn, "INSERT INTO audit (at, who, action, detail) VALUES (:stamp, :who, :action, :detail)",
             stamp=stamp, who=who, action=action, detail=json.dumps(detail, ensure_ascii=False))

    @staticmethod
    def _bump(conn: Any) -> None:
        _run(conn, "UPDATE curated_version SET version = version + 1 WHERE id = 1")

    def save(self, question: str, passages: Sequence[str] | None, *, author: str,
             resolve: Resolver | None = None) -> tuple[Link, str]:
        """Link ``question`` to ``passages`` (None: "not covered"); the link and "created" | "updated" |
        "unchanged". ``resolve`` (the engine's) checks and normalises the passage ids."""
        author = check_text(author, "author", MAX_AUTHOR)
        body: dict[str, Any] = {"question": question}
        body.update({"covered": False} if passages is None else {"passages": list(passages)})
        question, ids = parse_link(body)
        if ids is not None and resolve is not None:
            ids = resolve(ids)
        stamp = now().isoformat(timespec="seconds")

        def write(conn: Any) -> str:
            action = self._upsert(conn, question, ids, author, stamp)
            if action != "unchanged":
                self._bump(conn)
            return action

        action = self._transaction(write)
        link = self.get(question)
        assert link is not None
        return link, action

    def delete(self, question: str, *, author: str) -> bool:
        """Remove the link of this (normalised) question; False when there was none."""
        author = check_text(author, "author", MAX_AUTHOR)
        key = curated_key(question)
        stamp = now().isoformat(timespec="seconds")

        def write(conn: Any) -> bool:
            old = _run(conn, "SELECT question, passages, covered, hits FROM curated WHERE qkey = :key", key=key).first()
            if old is None:
                return False
            _run(conn, "DELETE FROM curated WHERE qkey = :key", key=key)
            self._audit(conn, author, "curated.delete", {"question": old[0], "passages": json.loads(old[1]),
                                                         "covered": bool(old[2]), "hits": int(old[3])}, stamp)
            self._bump(conn)
            return True

        return bool(self._transaction(write))

    def add_hit(self, key: str) -> None:
        """Count one use of a link (does not move the change counter; a failure is only logged, and a locked
        database delays the citizen's answer by at most HIT_TIMEOUT seconds)."""
        try:
            # not through _transaction: a hit count must not queue behind an operator's change
            self.db.execute("UPDATE curated SET hits = hits + 1 WHERE qkey = :key", {"key": key}, timeout=HIT_TIMEOUT)
        except errors() as e:
            log.warning("could not count a hit of a curated link: %s", e)

    # ------------------------------------------------------------------------------------ import/export
    def export_lines(self) -> Iterable[str]:
        for link in self.links():
            yield json.dumps(link.to_json(), ensure_ascii=False)

    def import_lines(self, lines: Iterable[str], *, author: str, resolve: Resolver | None = None,
                     source: str = "import") -> dict[str, int]:
        """Import JSONL links: every line is checked first (a bad one → :class:`CuratedError` naming its line,
        and nothing is imported); then all are written in one transaction. Counts of created, updated and
        unchanged links (importing the same file twice: all unchanged)."""
        author = check_text(author, "author", MAX_AUTHOR)
        parsed: dict[str, tuple[str, tuple[str, ...] | None]] = {}
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise CuratedError(f"not JSON ({e.msg})") from None
                question, ids = parse_link(obj)
                if ids is not None and resolve is not None:
                    ids = resolve(ids)
            except CuratedError as e:
                raise CuratedError(f"{source}, line {n}: {e}") from None
            parsed[curated_key(question)] = (question, ids)  # a later line for the same question wins
        stamp = now().isoformat(timespec="seconds")

        def write(conn: Any) -> dict[str, int]:
            counts = {"created": 0, "updated": 0, "unchanged": 0}
            for question, ids in parsed.values():
                counts[self._upsert(conn, question, ids, author, stamp)] += 1
            if counts["created"] or counts["updated"]:
                self._bump(conn)
            return counts

        return dict(self._transaction(write))

    # ------------------------------------------------------------------------------------ review queue
    def review(self, *, days: int = 30, limit: int = 50) -> list[dict[str, Any]]:
        """Refused, partial and 👎 questions grouped by normalised wording: how often, when last, the latest
        wording, what was answered and cited, and the link already made for it (if any); the most frequent
        first, then the newest."""
        since = (now() - timedelta(days=days)).isoformat(timespec="seconds")
        groups: dict[str, dict[str, Any]] = {}

        def add(question: str, at: str, why: str, answer: str, citations: str, order: int) -> None:
            key = curated_key(question)
            if not key:
                return
            g = groups.setdefault(key, {"question": question, "key": key, "count": 0, "last": "", "reasons": {},
                                        "answer": "", "citations": [], "_order": -1})
            g["count"] += 1
            g["reasons"][why] = g["reasons"].get(why, 0) + 1
            if (at, order) > (g["last"], g["_order"]):
                g.update(question=question, last=at, _order=order, citations=json.loads(citations or "[]"))
                if answer:
                    g["answer"] = answer
        for q, at, kind, cited, i in self._query("SELECT question, asked_at, kind, citations, id FROM questions "
                                                 "WHERE kind IN ('refusal', 'partial') AND asked_at >= :since",
                                                 since=since):
            add(q, at, kind, "", cited, i)
        for q, at, answer, cited, reason, i in self._query(
                "SELECT question, updated_at, answer, citations, COALESCE(reason, ''), id FROM feedback "
                "WHERE rating = 'down' AND updated_at >= :since", since=since):
            add(q, at, "down" + (f":{reason}" if reason else ""), answer, cited, i)
        linked = {link.key: link for link in self.links()}
        out = []
        for g in groups.values():
            g.pop("_order")
            link = linked.get(g["key"])
            g["link"] = link.to_json() if link else None
            out.append(g)
        out.sort(key=lambda g: (g["count"], g["last"]), reverse=True)  # the most frequent, then the newest
        return out[:limit]


# ------------------------------------------------------------------------------------------ engine side


@dataclass(frozen=True)
class Match:
    link: Link
    similarity: float  # 1.0 for the exact normalised wording
    passages: tuple[str, ...]  # resolved ids, in the link's order


@dataclass
class _Loaded:
    version: int | None = None
    links: tuple[Link, ...] = ()
    usable: tuple[tuple[Link, tuple[str, ...]], ...] = ()  # (link, resolved passage ids) of live links
    stale: tuple[dict[str, Any], ...] = ()
    vectors: np.ndarray | None = None  # one row per usable link
    by_key: dict[str, int] = field(default_factory=dict)


class CuratedSource:
    """The links as the engine uses them, reloaded when another writer moved the change counter."""

    def __init__(self, store: CuratedStore, encode: Callable[[str], np.ndarray], resolve: Resolver,
                 min_similarity: float, check_seconds: float = 1.0,
                 overlap: Callable[[str, str], float] | None = None, min_overlap: float = 0.0) -> None:
        self.store = store
        self.encode = encode
        self.resolve = resolve
        self.min_similarity = min_similarity
        self.overlap = overlap
        self.min_overlap = min_overlap
        self.check_seconds = check_seconds
        self._lock = threading.Lock()
        self._loaded = _Loaded()
        self._checked = float("-inf")
        self._vector_cache: dict[str, np.ndarray] = {}

    def refresh(self, *, force: bool = False) -> _Loaded:
        """The loaded links, re-read when the change counter moved (looked at once per check_seconds)."""
        t = time.monotonic()
        if not force and t - self._checked < self.check_seconds:
            return self._loaded
        with self._lock:
            if not force and t - self._checked < self.check_seconds:
                return self._loaded
            self._checked = t
            v = self.store.version()
            if v == self._loaded.version and not force:
                return self._loaded
            try:
                links = tuple(self.store.links()) if v is not None else ()
            except errors() as e:
                log.error("curated links unavailable: %s", e)
                return self._loaded
            self._loaded = self._load(v, links)
            return self._loaded

    def _load(self, version: int | None, links: tuple[Link, ...]) -> _Loaded:
        usable: list[tuple[Link, tuple[str, ...]]] = []
        stale: list[dict[str, Any]] = []
        for link in links:
            if not link.covered:
                usable.append((link, ()))
                continue
            try:
                usable.append((link, self.resolve(link.passages)))
            except CuratedError as e:
                stale.append({"question": link.question, "passages": list(link.passages), "problem": str(e)})
        if stale:
            log.warning("%d curated link(s) point at passages that no longer exist and are not used: %s",
                        len(stale), "; ".join(s["question"] for s in stale))
        vectors = None
        if usable:
            rows = []
            for link, _ in usable:
                if link.key not in self._vector_cache:
                    self._vector_cache[link.key] = np.asarray(self.encode(normalize(link.question)), dtype=np.float32)
                rows.append(self._vector_cache[link.key])
            vectors = np.vstack(rows)
        return _Loaded(version=version, links=links, usable=tuple(usable), stale=tuple(stale), vectors=vectors,
                       by_key={link.key: i for i, (link, _) in enumerate(usable)})

    def match(self, question: str, vector: Callable[[], np.ndarray]) -> Match | None:
        """The link for this question: its exact normalised wording, else the closest stored question whose
        cosine with it reaches min_similarity and whose words it shares (``overlap`` ≥ min_overlap). ``vector`` computes the question's vector only when needed."""
        loaded = self.refresh()
        if not loaded.usable:
            return None
        key = curated_key(question)
        i = loaded.by_key.get(key)
        similarity = 1.0
        if i is None:
            assert loaded.vectors is not None
            sims = loaded.vectors @ np.asarray(vector(), dtype=np.float32)
            i = int(np.argmax(sims))
            similarity = float(sims[i])
            if similarity < self.min_similarity:
                return None
            if self.overlap is not None and self.overlap(question, loaded.usable[i][0].question) < self.min_overlap:
                return None  # close in meaning but another topic word (小学 for 幼儿园): not the same question
        link, ids = loaded.usable[i]
        self.store.add_hit(link.key)
        return Match(link=link, similarity=similarity, passages=ids)

    def complete(self, typed: str, n: int = 5) -> list[str]:
        """Curated questions whose wording contains what was typed (at least two characters after
        normalising), for the chat's completions: only links that answer (not "not covered" ones) and whose
        passages still exist; the most used first, then those that start with it, then the shortest."""
        key = curated_key(typed)
        if len(key) < 2:
            return []
        found = [link for link, _ in self.refresh().usable if link.covered and key in link.key and link.key != key]
        found.sort(key=lambda link: (-link.hits, not link.key.startswith(key), len(link.key), link.key))
        return [link.question for link in found[:n]]

    def stale(self) -> list[dict[str, Any]]:
        return list(self.refresh(force=True).stale)
