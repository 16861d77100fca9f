"""The one SQLite database of the server (``settings.feedback_db``): its schema version and migrations.

Asked questions, feedback, curated links and their audit trail share one file. ``schema_version`` holds
the version the file is at; :func:`migrate` applies the missing steps of :data:`MIGRATIONS` in order, in
one ``BEGIN IMMEDIATE`` transaction (two processes opening an old file at once cannot both upgrade it).
Files written before the version table existed (with or without the ``comment`` column of feedback) are
version 0 and upgrade in place; every step is written so that it also holds on such a file.
"""

from __future__ import annotations

import sqlite3
from typing import Callable

_FEEDBACK_TABLES = (
    """CREATE TABLE IF NOT EXISTS questions (
    id        INTEGER PRIMARY KEY,
    asked_at  TEXT NOT NULL,     -- ISO time, China time zone
    day       TEXT NOT NULL,     -- YYYY-MM-DD of asked_at, for per-day counts
    channel   TEXT NOT NULL,     -- chat | embed | api | openai
    question  TEXT NOT NULL,     -- as typed
    qkey      TEXT NOT NULL,     -- normalised question, groups "most asked"
    kind      TEXT NOT NULL,     -- answer | partial | refusal | greeting
    found     INTEGER NOT NULL,
    citations TEXT NOT NULL,     -- JSON list of passage ids
    ms        REAL
)""",
    "CREATE INDEX IF NOT EXISTS questions_day ON questions(day)",
    "CREATE INDEX IF NOT EXISTS questions_qkey ON questions(qkey, id)",
    """CREATE TABLE IF NOT EXISTS feedback (
    id         INTEGER PRIMARY KEY,
    key        TEXT UNIQUE,      -- the chat's answer id (a later click updates the same row); NULL from the API
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    channel    TEXT NOT NULL,
    question   TEXT NOT NULL,
    answer     TEXT NOT NULL,
    citations  TEXT NOT NULL,    -- JSON list of passage ids
    rating     TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    reason     TEXT,
    comment    TEXT              -- free-text reason given with a down rating
)""",
)


def _v1_feedback(conn: sqlite3.Connection) -> None:
    """Questions and feedback (the tables of files older than the version table; `comment` added late)."""
    for sql in _FEEDBACK_TABLES:
        conn.execute(sql)
    if "comment" not in {r[1] for r in conn.execute("PRAGMA table_info(feedback)")}:
        conn.execute("ALTER TABLE feedback ADD COLUMN comment TEXT")


def _v2_curated(conn: sqlite3.Connection) -> None:
    """Staff-curated links (question → passage ids, or "not covered") and the audit trail of every change."""
    conn.execute("""CREATE TABLE IF NOT EXISTS curated (
    id         INTEGER PRIMARY KEY,
    question   TEXT NOT NULL,            -- as the operator typed it
    qkey       TEXT NOT NULL UNIQUE,     -- normalised question: one link per wording
    passages   TEXT NOT NULL,            -- JSON list of passage ids ([] when not covered)
    covered    INTEGER NOT NULL,         -- 0: the report does not cover it (standard refusal)
    hits       INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    author     TEXT NOT NULL
)""")
    conn.execute("""CREATE TABLE IF NOT EXISTS audit (
    id     INTEGER PRIMARY KEY,
    at     TEXT NOT NULL,
    who    TEXT NOT NULL,
    action TEXT NOT NULL,                -- curated.create | curated.update | curated.delete
    detail TEXT NOT NULL                 -- JSON
)""")
    # bumped by every change of the links (not by hit counts): servers reload when it moves
    conn.execute("CREATE TABLE IF NOT EXISTS curated_version (id INTEGER PRIMARY KEY CHECK (id = 1), "
                 "version INTEGER NOT NULL)")
    conn.execute("INSERT OR IGNORE INTO curated_version (id, version) VALUES (1, 0)")


#: the steps in order: MIGRATIONS[i] brings a file from version i to i + 1
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1_feedback, _v2_curated)
VERSION = len(MIGRATIONS)


def version(conn: sqlite3.Connection) -> int:
    """The schema version of an open database (0: older than the version table, or empty)."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone():
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database (an autocommit connection) to :data:`VERSION`; returns the version it was at."""
    if version(conn) >= VERSION:
        return VERSION
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)")
        was = version(conn)  # again, under the write lock: another process may have migrated meanwhile
        for step in range(was, VERSION):
            MIGRATIONS[step](conn)
            conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, datetime('now'))", (step + 1,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return was
