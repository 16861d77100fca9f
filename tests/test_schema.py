"""The server's database: the declared tables (dzqa.schema.metadata) are what the Alembic revisions make,
on SQLite and on PostgreSQL; migrating is idempotent and safe when several processes start at once; a bad
DZQA_DATABASE_URL is a clear message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dzqa import schema
from dzqa.db import DatabaseError, describe, open_database
from dzqa.settings import Settings, SettingsError


def test_the_migrations_make_exactly_the_declared_tables(db_target: Path | str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    db = open_database(db_target)
    db.migrate()
    with db.engine.connect() as conn:
        assert schema.current(conn) == schema.head()
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert diff == []


def test_an_upgrade_is_logged_and_a_current_schema_left_alone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The operator sees in the log when a start created or upgraded the schema, and only then."""
    import logging

    path = tmp_path / "feedback.sqlite3"
    with caplog.at_level(logging.INFO, logger="dzqa.db"):
        open_database(path).migrate()
    assert f"upgraded from revision (empty) to {schema.head()}" in caplog.text
    with open_database(path).engine.connect() as conn, conn.begin():
        assert schema.upgrade(conn) is None  # at the newest revision: nothing done, nothing logged


def test_processes_starting_at_once_migrate_once(db_target: Path | str) -> None:
    """Four processes open one new database at the same moment (replicas starting together)."""
    code = ("import sys; from dzqa.feedback import FeedbackStore, Feedback; "
            "s = FeedbackStore(sys.argv[1]); assert s.save_feedback(Feedback('q', 'a', (), 'up')); s.close()")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(db_target)], stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    rows = open_database(db_target).query("SELECT COUNT(*) FROM feedback")
    assert rows[0][0] == 4
    with open_database(db_target).engine.connect() as conn:
        assert schema.current(conn) == schema.head()


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgresql://", "redis://localhost"])
def test_a_bad_database_url_says_what_to_write(url: str) -> None:
    with pytest.raises((DatabaseError, SettingsError), match="postgresql://user:password@host"):
        Settings.from_env({"DZQA_DATABASE_URL": url}).database and open_database(url)


def test_the_password_is_never_shown() -> None:
    url = "postgresql://dzqa:s3cret@db.example:5432/dzqa"
    assert "s3cret" not in describe(url) and "s3cret" not in repr(open_database(url))
    assert "s3cret" not in repr(Settings.from_env({"DZQA_DATABASE_URL": url}))
