"""The tables of the server's database, declared once for SQLite and PostgreSQL, and their migrations.

Asked questions, feedback, curated links, their audit trail and the shared rate-limit buckets share one
database (:mod:`dzqa.db`). :data:`metadata` declares the tables as they are at the newest revision; the
Alembic revisions in ``dzqa/migrations/versions`` create and change them step by step (a test checks
that the two agree on both engines). :func:`upgrade` runs inside the caller's transaction, which
:meth:`dzqa.db.Database.migrate` holds under a lock across processes.

SQLite files written before Alembic carry a ``schema_version`` table (versions 1–2); they are stamped
with the matching revision and upgrade from there. Files older still (no version table, with or without
the late ``comment`` column of feedback) are upgraded by the first revision, which is written to hold on
them too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (CheckConstraint, Column, Float, Index, Integer, MetaData, Table, Text, inspect,
                        text)

metadata = MetaData()

questions = Table(
    "questions", metadata,
    Column("id", Integer, primary_key=True),
    Column("asked_at", Text, nullable=False),   # ISO time, China time zone
    Column("day", Text, nullable=False),        # YYYY-MM-DD of asked_at, for per-day counts
    Column("channel", Text, nullable=False),    # chat | embed | api | openai
    Column("question", Text, nullable=False),   # as typed (personal numbers masked)
    Column("qkey", Text, nullable=False),       # normalised question, groups "most asked"
    Column("kind", Text, nullable=False),       # answer | partial | refusal | greeting
    Column("found", Integer, nullable=False),
    Column("citations", Text, nullable=False),  # JSON list of passage ids
    Column("ms", Float),
    Index("questions_day", "day"),
    Index("questions_qkey", "qkey", "id"),
)

feedback = Table(
    "feedback", metadata,
    Column("id", Integer, primary_key=True),
    Column("key", Text, unique=True),           # the chat's answer id (a later click updates the row); NULL: API
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("citations", Text, nullable=False),  # JSON list of passage ids
    Column("rating", Text, CheckConstraint("rating IN ('up', 'down')"), nullable=False),
    Column("reason", Text),
    Column("comment", Text),                    # free-text reason given with a down rating
)

curated = Table(
    "curated", metadata,
    Column("id", Integer, primary_key=True),
    Column("question", Text, nullable=False),   # as the operator typed it
    Column("qkey", Text, nullable=False, unique=True),  # normalised question: one link per wording
    Column("passages", Text, nullable=False),   # JSON list of passage ids ([] when not covered)
    Column("covered", Integer, nullable=False),  # 0: the report does not cover it (standard refusal)
    Column("hits", Integer, nullable=False, server_default=text("0")),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Column("author", Text, nullable=False),
)

audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", Text, nullable=False),
    Column("who", Text, nullable=False),
    Column("action", Text, nullable=False),     # curated.create | curated.update | curated.delete
    Column("detail", Text, nullable=False),     # JSON
)

#: bumped by every change of the links (not by hit counts): servers reload them when it moves
curated_version = Table(
    "curated_version", metadata,
    Column("id", Integer, CheckConstraint("id = 1"), primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
)

#: token buckets of the rate limit, shared by every replica on one database (dzqa/web/limits.py)
rate_buckets = Table(
    "rate_buckets", metadata,
    Column("key", Text, primary_key=True),      # pseudonym of the client (never its address)
    Column("tokens", Float, nullable=False),
    Column("stamp", Float, nullable=False),     # the database's clock (epoch seconds) at the last request
    Column("granted", Integer, nullable=False),  # whether that request was let through
    Index("rate_buckets_stamp", "stamp"),
)

#: what every replica on one database must agree on and nobody outside it may know (the pseudonym key of
#: the rate limit's buckets)
secrets = Table(
    "secrets", metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

#: the pre-Alembic schema_version of old SQLite files → the revision that version corresponds to
LEGACY_REVISIONS = {1: "0001", 2: "0002"}


def alembic_config(connection: Any) -> Any:
    """The Alembic configuration of dzqa's migrations, bound to an open connection (no alembic.ini)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "dzqa:migrations")
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision."""
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(alembic_config(None)).get_current_head())


def current(connection: Any) -> str | None:
    """The revision the database is at (None: not under Alembic yet)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Any) -> tuple[str | None, str] | None:
    """Bring the database to the newest revision, inside the caller's transaction: (revision before,
    revision after) when it changed anything, None when it was already at the newest."""
    from alembic import command

    tables = set(inspect(connection).get_table_names())
    cfg = alembic_config(connection)
    before: str | None = None
    if "alembic_version" not in tables and "schema_version" in tables:
        was = connection.execute(text("SELECT MAX(version) FROM schema_version")).scalar() or 0
        if int(was) in LEGACY_REVISIONS:
            before = LEGACY_REVISIONS[int(was)]
            command.stamp(cfg, before)
    elif "alembic_version" in tables:
        before = current(connection)
        if before == head():
            return None
    command.upgrade(cfg, "head")
    return before, head()
