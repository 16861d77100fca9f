"""The server-side record of what citizens asked and how they rated the answers (SQLite, WAL mode).

Two tables in ``settings.feedback_db``:

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
honestly that the feedback was not saved, while the chat keeps answering. Reads use their own connection,
so the desk's statistics never block a write.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence

from .privacy import mask
from .schema import migrate
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
CHANNELS: tuple[str, ...] = ("chat", "embed", "api", "openai")
#: the tables and their exported columns, in order
EXPORTS: dict[str, tuple[str, ...]] = {
    "questions": ("asked_at", "channel", "question", "kind", "found", "citations", "ms"),
    "feedback": ("created_at", "updated_at", "channel", "rating", "reason", "question", "answer", "citations",
                 "comment"),
}



_INSERT_QUESTION = ("INSERT INTO questions (asked_at, day, channel, question, qkey, kind, found, citations, ms) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")


def _closed(conn: sqlite3.Connection | None) -> None:
    """Close a connection, ignoring errors (it may already be broken); always returns None."""
    if conn is not None:
        try:
            conn.close()
        except sqlite3.Error:
            pass
    return None


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
    """Thread-safe access to the SQLite file; opens lazily, so a broken path never stops the server."""

    def __init__(self, path: Path, *, timeout: float = 3.0, queue_size: int = 10_000) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._lock = threading.Lock()  # the write connection
        self._conn: sqlite3.Connection | None = None
        self._read_lock = threading.Lock()  # the read connection: WAL lets it read while a write goes on
        self._read_conn: sqlite3.Connection | None = None
        # asked questions are written by one background thread, so a slow or locked database never
        # delays an answer; feedback is written at once, because the citizen is told whether it was saved
        self._pending: queue.Queue[tuple[Any, ...] | None] = queue.Queue(maxsize=queue_size)
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        self.dropped = 0
        self.last_error: str = ""

    # ------------------------------------------------------------------------------------ connection
    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self.timeout, check_same_thread=False, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; WAL keeps it consistent
            conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            migrate(conn)  # the tables and their versions live in dzqa/schema.py (older files upgrade in place)
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect(self) -> sqlite3.Connection:
        """The write connection (shared by all threads, every use under self._lock)."""
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _write(self, what: str, sql: str, args: Sequence[Any], *, rowcount: bool = False) -> int | None:
        """Run one write; the new row id (or with ``rowcount`` the rows changed), or None (logged) when the
        database cannot be written."""
        with self._lock:
            try:
                cur = self._connect().execute(sql, args)
                self.last_error = ""
                return int(cur.rowcount if rowcount else cur.lastrowid or 0)
            except (sqlite3.Error, OSError, ValueError) as e:  # ValueError: text SQLite cannot encode
                self.last_error = f"{type(e).__name__}: {e}"
                log.error("could not save %s to %s: %s", what, self.path, self.last_error)
                if not isinstance(e, sqlite3.OperationalError | sqlite3.IntegrityError):
                    self._conn = _closed(self._conn)  # may be unusable (file removed, disk error): reopen
                return None

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._read_lock:
            try:
                if self._read_conn is None:
                    self._read_conn = self._open()
                return list(self._read_conn.execute(sql, args).fetchall())
            except (sqlite3.Error, OSError):
                self._read_conn = _closed(self._read_conn)
                raise

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
        """Write what is still queued, then close both connections (the WAL is checkpointed)."""
        with self._writer_lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            try:
                self._pending.put(None, timeout=timeout)
                writer.join(timeout)
            except queue.Full:
                log.error("question log: %d questions not written at shutdown", self._pending.qsize())
        with self._lock:
            self._conn = _closed(self._conn)
        with self._read_lock:
            self._read_conn = _closed(self._read_conn)

    def healthy(self) -> bool:
        """Whether the database can be opened and read (used by /healthz)."""
        try:
            self._read("SELECT 1")
            return True
        except (sqlite3.Error, OSError) as e:
            self.last_error = f"{type(e).__name__}: {e}"
            return False

    # ----------------------------------------------------------------------------------------- writes
    def log_question(self, question: str, *, channel: str, kind: str, found: bool,
                     citations: Iterable[str] = (), ms: float | None = None) -> bool:
        """Hand one asked question to the background writer (never the asker's address).

        False when it was dropped because the writer is far behind (a broken database under load)."""
        t = now()
        question = mask(question)  # personal numbers never reach the database (the answer used the original)
        row = (t.isoformat(timespec="seconds"), t.date().isoformat(), channel, question, question_key(question),
               kind, int(found), json.dumps(list(citations)), None if ms is None else round(ms, 1))
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
                self._write("question", _INSERT_QUESTION, row)
            finally:
                self._pending.task_done()

    def save_feedback(self, fb: Feedback) -> int | None:
        """Store a rating; with ``fb.key`` a later rating of the same answer updates its row.

        Returns the row id, or None when it could not be saved (the caller tells the user)."""
        stamp = now().isoformat(timespec="seconds")
        cited = json.dumps(list(fb.citations), ensure_ascii=False)
        # personal numbers typed by the citizen are masked like asked questions
        fb = dataclasses.replace(fb, question=mask(fb.question), answer=mask(fb.answer),
                                 reason=None if fb.reason is None else mask(fb.reason))
        if fb.key is None:
            return self._write("feedback", "INSERT INTO feedback (key, created_at, updated_at, channel, question, "
                               "answer, citations, rating, reason, comment) VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               (stamp, stamp, fb.channel, fb.question, fb.answer, cited, fb.rating, fb.reason,
                                fb.comment))
        return self._write("feedback", "INSERT INTO feedback (key, created_at, updated_at, channel, question, "
                           "answer, citations, rating, reason, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                           "ON CONFLICT(key) DO UPDATE SET updated_at = excluded.updated_at, "
                           "rating = excluded.rating, reason = excluded.reason, comment = excluded.comment",
                           (fb.key, stamp, stamp, fb.channel, fb.question, fb.answer, cited, fb.rating, fb.reason,
                            fb.comment))

    def purge(self, days: int) -> int | None:
        """Delete asked questions and feedback older than ``days`` days (0: keep everything).

        Returns the number of rows deleted, or None when the database could not be written (logged)."""
        if days <= 0:
            return 0
        self.flush()  # questions still queued are recent anyway, but the count should be final
        cutoff = (now() - timedelta(days=days)).isoformat(timespec="seconds")  # ISO, one zone: compares as text
        deleted = 0
        for table, column in (("questions", "asked_at"), ("feedback", "updated_at")):
            n = self._write(f"retention ({table})", f"DELETE FROM {table} WHERE {column} < ?", (cutoff,), rowcount=True)
            if n is None:
                return None
            deleted += n
        if deleted:
            log.info("retention: deleted %d questions and feedback older than %d days", deleted, days)
        return deleted

    def retract_feedback(self, key: str) -> bool:
        """The citizen took back their 👍/👎 (clicked it again): the row goes. False when that failed."""
        return self._write("feedback retraction", "DELETE FROM feedback WHERE key = ?", (key,)) is not None

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
        per_day = self._read("SELECT day, COUNT(*), SUM(kind = 'refusal') FROM questions WHERE day >= ? "
                             "GROUP BY day ORDER BY day DESC", (since,))
        # the most recent wording of each normalised question stands for the group
        most = self._read("SELECT (SELECT question FROM questions q2 WHERE q2.qkey = q.qkey ORDER BY id DESC "
                          "LIMIT 1), COUNT(*) AS n FROM questions q WHERE day >= ? AND kind != 'greeting' "
                          "GROUP BY qkey ORDER BY n DESC, MAX(id) DESC LIMIT ?", (since, top))
        refused = self._read("SELECT (SELECT question FROM questions q2 WHERE q2.qkey = q.qkey ORDER BY id DESC "
                             "LIMIT 1), COUNT(*) AS n, MAX(asked_at) FROM questions q WHERE day >= ? AND "
                             "kind = 'refusal' GROUP BY qkey ORDER BY n DESC, MAX(id) DESC LIMIT ?", (since, top))
        since_t = since + "T00:00:00"
        ratings = self._read("SELECT rating, COUNT(*) FROM feedback WHERE updated_at >= ? GROUP BY rating "
                             "ORDER BY rating DESC", (since_t,))
        reasons = self._read("SELECT COALESCE(reason, '未选择'), COUNT(*) AS n FROM feedback WHERE rating = 'down' "
                             "AND updated_at >= ? GROUP BY 1 ORDER BY n DESC", (since_t,))
        dislikes = self._read("SELECT updated_at, question, COALESCE(reason, '未选择') || COALESCE('：' || comment, ''), "
                              "answer FROM feedback "
                              "WHERE rating = 'down' AND updated_at >= ? ORDER BY id DESC LIMIT ?", (since_t, top))
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
        rows = self._read("SELECT (SELECT question FROM questions q2 WHERE q2.qkey = q.qkey ORDER BY id DESC "
                          "LIMIT 1), COUNT(*) AS n FROM questions q WHERE day >= ? AND kind = 'answer' "
                          "GROUP BY qkey HAVING n >= ? ORDER BY n DESC, MAX(id) DESC LIMIT ?",
                          (since, min_asks, limit * 5))
        if not rows:
            return []
        score: dict[str, int] = {}
        for question, rating, n in self._read("SELECT question, rating, COUNT(*) FROM feedback WHERE updated_at >= ? "
                                              "GROUP BY question, rating", (since + "T00:00:00",)):
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
