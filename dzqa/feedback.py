"""The server-side record of what citizens asked and how they rated the answers.

Two tables of the server's database (:mod:`dzqa.db`: the SQLite file ``settings.feedback_db``, or
PostgreSQL with ``DZQA_DATABASE_URL``):

* ``questions``: every question asked in the chat or through ``/api/ask`` (time, channel, question, kind,
  cited passage ids) — the desk's statistics are computed from it;
* ``feedback``: 👍/👎 with an optional reason (and, with 👎, an optional free-text comment of at most
  :data:`MAX_COMMENT` characters) per answer, with the question, answer and cited passage ids.

No client address is ever stored, and ID-card and phone numbers typed into a question or feedback are
masked before they are (:func:`dzqa.privacy.mask`); rows older than ``DZQA_RETENTION_DAYS`` are deleted
by :meth:`FeedbackStore.purge`, which the server runs at start and then hourly. Asked questions are queued and written by one background thread, so a
slow or locked database never delays an answer (statistics flush the queue first; closing drains it).
Feedback is written at once: a write that fails (database locked, read-only, disk full, folder missing)
never raises into the request, it is logged and reported back as ``None`` so the caller can tell the user
honestly that the feedback was not saved (the API answers 503), while the chat keeps answering. A row is
acknowledged only once its transaction committed. Reads run in their own transactions (WAL on SQLite), so
the desk's statistics never block a write.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence

from .db import Target, close_all, errors, open_database
from .privacy import mask
from .text import normalize

log = logging.getLogger("dzqa.feedback")

#: Dezhou's clock (China has one time zone and no daylight saving), so "questions per day" are local days
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

Rating = Literal["up", "down"]
RATINGS: dict[str, Rating] = {"up": "up", "down": "down", "👍": "up", "👎": "down", "like": "up",
                              "dislike": "down"}
RATING_EMOJI: dict[str, str] = {"up": "👍", "down": "👎"}
REASONS: tuple[str, ...] = ("答非所问", "信息不全", "引用错误", "其他")
#: the longest free-text reason a citizen may give with 👎
MAX_COMMENT = 200
#: how long the background writer of asked questions waits for a database server to come back
RETRY_SECONDS = 30.0
CHANNELS: tuple[str, ...] = ("chat", "embed", "api", "openai")
#: the tables and their exported columns, in order
EXPORTS: dict[str, tuple[str, ...]] = {
    "questions": ("asked_at", "channel", "question", "kind", "found", "citations", "ms"),
    "feedback": ("created_at", "updated_at", "channel", "rating", "reason", "question", "answer", "citations",
                 "comment"),
}



_INSERT_QUESTION = ("INSERT INTO questions (asked_at, day, channel, question, qkey, kind, found, citations, ms) "
                    "VALUES (:asked_at, :day, :channel, :question, :qkey, :kind, :found, :citations, :ms)")
#: one statement for a new rating and a changed one (a NULL key, from the API, never conflicts)
_UPSERT_FEEDBACK = ("INSERT INTO feedback (key, created_at, updated_at, channel, question, answer, citations, rating, "
                    "reason, comment) VALUES (:key, :stamp, :stamp, :channel, :question, :answer, :citations, "
                    ":rating, :reason, :comment) ON CONFLICT (key) DO UPDATE SET updated_at = excluded.updated_at, "
                    "rating = excluded.rating, reason = excluded.reason, comment = excluded.comment RETURNING id")
#: the newest wording of a group of questions (same normalised key), in the grouped queries below
_LATEST = "(SELECT question FROM questions q2 WHERE q2.qkey = q.qkey ORDER BY id DESC LIMIT 1)"


def now() -> datetime:
    return datetime.now(CHINA_TZ)


@dataclass(frozen=True)
class Feedback:
    """One rating of one answer, as the chat or ``POST /api/feedback`` hands it over."""

    question: str
    answer: str
    citations: tuple[str, ...]
    rating: Rating
    reason: str | None = None
    channel: str = "chat"
    comment: str | None = None  # free text with 👎
    key: str | None = None  # stable id of the rated answer; a second rating of it replaces the first


@dataclass(frozen=True)
class Stats:
    """What the desk's statistics view shows (counts over the last ``days`` days)."""

    days: int
    total_questions: int
    total_refused: int
    per_day: tuple[tuple[str, int, int], ...]  # (day, questions, refused), newest first
    most_asked: tuple[tuple[str, int], ...]  # (question, times)
    refused: tuple[tuple[str, int, str], ...]  # (question, times, last asked)
    ratings: tuple[tuple[str, int], ...]  # (up | down, count)
    reasons: tuple[tuple[str, int], ...]  # (reason given with 👎, count)
    dislikes: tuple[tuple[str, str, str, str], ...]  # (time, question, reason, answer), newest first


class FeedbackStore:
    """Thread-safe access to the questions and feedback; the database opens lazily, so a broken path or a
    database server that is down never stops the server (answers go on; writes report the failure)."""

    def __init__(self, target: Target, *, timeout: float = 3.0, queue_size: int = 10_000) -> None:
        self.db = open_database(target, timeout=timeout)
        self.timeout = timeout
        # asked questions are written by one background thread, so a slow or locked database never
        # delays an answer; feedback is written at once, because the citizen is told whether it was saved
        self._pending: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=queue_size)
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        self.dropped = 0
        self.last_error: str = ""

    @property
    def path(self) -> Any:
        """The SQLite file (None on PostgreSQL)."""
        return self.db.path

    def _write(self, what: str, sql: str, args: dict[str, Any]) -> int | None:
        """Run one write; the new row id (``RETURNING id``) or the rows changed, or None (logged) when the
        database cannot be written."""
        try:
            result = self.db.execute(sql, args)
            self.last_error = ""
            return int(result or 0)
        except (*errors(), ValueError) as e:  # ValueError: text the database cannot encode
            self.last_error = f"{type(e).__name__}: {e}".splitlines()[0]
            log.error("could not save %s to %s: %s", what, self.db.name, self.last_error)
            return None

    def _read(self, sql: str, args: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.db.query(sql, args)]

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every asked question handed over so far is written (or failed); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._pending.all_tasks_done:
            while self._pending.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._pending.all_tasks_done.wait(left)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is still queued, then close the pooled connections."""
        with self._writer_lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            try:
                self._pending.put(None, timeout=timeout)
                writer.join(timeout)
            except queue.Full:
                log.error("question log: %d questions not written at shutdown", self._pending.qsize())
        close_all(self.db)  # SQLite: the last connection closing checkpoints the WAL

    def healthy(self) -> bool:
        """Whether the database can be opened and read (used by /healthz)."""
        try:
            self._read("SELECT 1")
            return True
        except errors() as e:
            self.last_error = f"{type(e).__name__}: {e}".splitlines()[0]
            return False

    # ----------------------------------------------------------------------------------------- writes
    def log_question(self, question: str, *, channel: str, kind: str, found: bool,
                     citations: Iterable[str] = (), ms: float | None = None) -> bool:
        """Hand one asked question to the background writer (never the asker's address).

        False when it was dropped because the writer is far behind (a broken database under load)."""
        t = now()
        question = mask(question)  # personal numbers never reach the database (the answer used the original)
        row = {"asked_at": t.isoformat(timespec="seconds"), "day": t.date().isoformat(), "channel": channel,
               "question": question, "qkey": question_key(question), "kind": kind, "found": int(found),
               "citations": json.dumps(list(citations)), "ms": None if ms is None else round(ms, 1)}
        self._start_writer()
        try:
            self._pending.put_nowait(row)
            return True
        except queue.Full:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.error("question log: the writer is behind, %d questions dropped so far", self.dropped)
            return False

    def _start_writer(self) -> None:
        if self._writer is None:
            with self._writer_lock:
                if self._writer is None:
                    self._writer = threading.Thread(target=self._write_questions, name="dzqa-question-log",
                                                    daemon=True)
                    self._writer.start()

    def _write_questions(self) -> None:
        while True:
            row = self._pending.get()
            try:
                if row is None:
                    return
                self._write_patiently("question", _INSERT_QUESTION, row)
            finally:
                self._pending.task_done()

    def _write_patiently(self, what: str, sql: str, args: dict[str, Any]) -> int | None:
        """A background write that waits out a database server restart (up to RETRY_SECONDS, retrying with
        a growing pause), so questions asked meanwhile are not lost. SQLite already waits for its lock."""
        deadline = time.monotonic() + RETRY_SECONDS
        delay = 0.25
        while (result := self._write(what, sql, args)) is None and not self.db.sqlite:
            if time.monotonic() + delay > deadline:
                break
            time.sleep(delay)
            delay = min(delay * 2, 4.0)
        return result

    def save_feedback(self, fb: Feedback) -> int | None:
        """Store a rating; with ``fb.key`` a later rating of the same answer updates its row.

        Returns the row id, or None when it could not be saved (the caller tells the user)."""
        stamp = now().isoformat(timespec="seconds")
        cited = json.dumps(list(fb.citations), ensure_ascii=False)
        # personal numbers typed by the citizen are masked like asked questions
        fb = dataclasses.replace(fb, question=mask(fb.question), answer=mask(fb.answer),
                                 reason=None if fb.reason is None else mask(fb.reason))
        return self._write("feedback", _UPSERT_FEEDBACK,
                           {"key": fb.key, "stamp": stamp, "channel": fb.channel, "question": fb.question,
                            "answer": fb.answer, "citations": cited, "rating": fb.rating, "reason": fb.reason,
                            "comment": fb.comment})

    def purge(self, days: int) -> int | None:
        """Delete asked questions and feedback older than ``days`` days (0: keep everything).

        Returns the number of rows deleted, or None when the database could not be written (logged)."""
        if days <= 0:
            return 0
        self.flush()  # questions still queued are recent anyway, but the count should be final
        cutoff = (now() - timedelta(days=days)).isoformat(timespec="seconds")  # ISO, one zone: compares as text
        deleted = 0
        for table, column in (("questions", "asked_at"), ("feedback", "updated_at")):
            n = self._write(f"retention ({table})", f"DELETE FROM {table} WHERE {column} < :cutoff", {"cutoff": cutoff})
            if n is None:
                return None
            deleted += n
        if deleted:
            log.info("retention: deleted %d questions and feedback older than %d days", deleted, days)
        return deleted

    def retract_feedback(self, key: str) -> bool:
        """The citizen took back their 👍/👎 (clicked it again): the row goes. False when that failed."""
        return self._write("feedback retraction", "DELETE FROM feedback WHERE key = :key", {"key": key}) is not None

    # ------------------------------------------------------------------------------------------ reads
    def feedback_rows(self) -> list[dict[str, Any]]:
        cols = ("id", "key") + EXPORTS["feedback"]
        return [dict(zip(cols, r)) for r in self._read(f"SELECT {', '.join(cols)} FROM feedback ORDER BY id")]

    def question_rows(self) -> list[dict[str, Any]]:
        self.flush()
        cols = ("id",) + EXPORTS["questions"]
        return [dict(zip(cols, r)) for r in self._read(f"SELECT {', '.join(cols)} FROM questions ORDER BY id")]

    def stats(self, days: int = 30, top: int = 20) -> Stats:
        """Counts for the desk: per day, most asked, refused, ratings and reasons of 👎."""
        self.flush()  # the questions asked up to now count
        since = (now().date() - timedelta(days=days - 1)).isoformat()
        since_t = since + "T00:00:00"
        args = {"since": since, "since_t": since_t, "top": top}
        per_day = self._read("SELECT day, COUNT(*), SUM(CASE WHEN kind = 'refusal' THEN 1 ELSE 0 END) FROM questions "
                             "WHERE day >= :since GROUP BY day ORDER BY day DESC", args)
        # the most recent wording of each normalised question stands for the group
        most = self._read(f"SELECT {_LATEST}, COUNT(*) AS n FROM questions q WHERE day >= :since AND "
                          "kind != 'greeting' GROUP BY qkey ORDER BY n DESC, MAX(id) DESC LIMIT :top", args)
        refused = self._read(f"SELECT {_LATEST}, COUNT(*) AS n, MAX(asked_at) FROM questions q WHERE day >= :since "
                             "AND kind = 'refusal' GROUP BY qkey ORDER BY n DESC, MAX(id) DESC LIMIT :top", args)
        ratings = self._read("SELECT rating, COUNT(*) FROM feedback WHERE updated_at >= :since_t GROUP BY rating "
                             "ORDER BY rating DESC", args)
        reasons = self._read("SELECT COALESCE(reason, '未选择'), COUNT(*) AS n FROM feedback WHERE rating = 'down' "
                             "AND updated_at >= :since_t GROUP BY 1 ORDER BY n DESC", args)
        dislikes = self._read("SELECT updated_at, question, COALESCE(reason, '未选择') || COALESCE('：' || comment, ''), "
                              "answer FROM feedback WHERE rating = 'down' AND updated_at >= :since_t "
                              "ORDER BY id DESC LIMIT :top", args)
        return Stats(days=days, total_questions=sum(r[1] for r in per_day),
                     total_refused=sum(int(r[2] or 0) for r in per_day),
                     per_day=tuple((d, int(n), int(r or 0)) for d, n, r in per_day),
                     most_asked=tuple((q, int(n)) for q, n in most),
                     refused=tuple((q, int(n), t) for q, n, t in refused),
                     ratings=tuple((r, int(n)) for r, n in ratings),
                     reasons=tuple((r, int(n)) for r, n in reasons),
                     dislikes=tuple(tuple(row) for row in dislikes))  # type: ignore[misc]

    def popular(self, *, limit: int = 6, min_asks: int = 3, days: int = 90, max_chars: int = 40) -> list[str]:
        """The most asked questions that were answered and are not rated down more often than up, newest
        wording of each, most asked first: the chat's opening suggestions. A question must have been asked
        ``min_asks`` times (so one visitor's own case never appears on everyone's page) and hold no masked
        personal data (:mod:`dzqa.privacy` placeholders)."""
        since = (now().date() - timedelta(days=days - 1)).isoformat()
        rows = self._read(f"SELECT {_LATEST}, COUNT(*) AS n FROM questions q WHERE day >= :since AND "
                          "kind = 'answer' GROUP BY qkey HAVING COUNT(*) >= :min_asks ORDER BY n DESC, MAX(id) DESC "
                          "LIMIT :n", {"since": since, "min_asks": min_asks, "n": limit * 5})
        if not rows:
            return []
        score: dict[str, int] = {}
        for question, rating, n in self._read("SELECT question, rating, COUNT(*) FROM feedback WHERE updated_at >= "
                                              ":since GROUP BY question, rating", {"since": since + "T00:00:00"}):
            key = question_key(question)
            score[key] = score.get(key, 0) + (int(n) if rating == "up" else -int(n))
        out: list[str] = []
        for question, _ in rows:
            if (len(out) < limit and len(question) <= max_chars and "〔" not in question
                    and score.get(question_key(question), 0) >= 0 and question not in out):
                out.append(question)
        return out

    def export_csv(self, table: str) -> str:
        """One table as CSV (UTF-8 with BOM so spreadsheet programs read the Chinese correctly)."""
        if table not in EXPORTS:
            raise ValueError(f"unknown table {table!r}; one of {', '.join(EXPORTS)}")
        rows = self.question_rows() if table == "questions" else self.feedback_rows()
        out = io.StringIO()
        out.write("\ufeff")
        w = csv.writer(out)
        w.writerow(EXPORTS[table])
        for row in rows:
            if "rating" in row:
                row["rating"] = RATING_EMOJI.get(row["rating"], row["rating"])
            w.writerow([_cell(row[c]) for c in EXPORTS[table]])
        return out.getvalue()


def question_key(question: str) -> str:
    """What groups the same question asked in different ways (traditional/simplified, spacing, punctuation)."""
    try:
        return normalize(question)[:200]
    except Exception:  # normalisation must never lose the record
        return question.strip()[:200]


def parse_rating(value: str) -> Rating:
    """'up'/'down'/'👍'/'👎'/'like'/'dislike' → 'up' | 'down' (ValueError otherwise)."""
    try:
        return RATINGS[value.strip().lower()]
    except (KeyError, AttributeError):
        raise ValueError("rating must be one of up, down, 👍, 👎") from None


def _cell(value: Any) -> Any:
    """Keep spreadsheet programs from running formulas a visitor typed (=, +, -, @ at the start)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
