"""The server's one database: a SQLite file by default, PostgreSQL when ``DZQA_DATABASE_URL`` is set.

Asked questions, feedback, curated links, their audit trail and (on PostgreSQL) the shared rate-limit
buckets live in it. Every store talks to it through :class:`Database`, over SQLAlchemy Core with SQL
that both engines run (named parameters, ``ON CONFLICT``, ``RETURNING``, ``CASE WHEN``), so no query
exists twice. The tables are declared once in :mod:`dzqa.schema` and created and upgraded by Alembic
(``dzqa/migrations``) the first time a process uses the database, under a lock that holds across
processes (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock), so two replicas starting at once
cannot both upgrade it.

* SQLite: WAL mode, ``synchronous=NORMAL``, a busy timeout; write transactions start with
  ``BEGIN IMMEDIATE`` (the write lock first, so two writers queue instead of failing half-way).
* PostgreSQL: ``postgresql://user:password@host:5432/dbname`` (psycopg 3), a small connection pool per
  process checked before use (``pool_pre_ping``), so a database restart costs the requests in flight and
  nothing after it.

Errors are those of :func:`errors` (SQLAlchemy's, or ``OSError``); callers turn them into honest messages (503).
"""

from __future__ import annotations

import logging
import re
import threading
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Union

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine
    from sqlalchemy.engine import Row

log = logging.getLogger("dzqa.db")

#: what a store may be opened on: a SQLite file path, a database URL, or an open Database
Target = Union[Path, str, "Database"]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
#: the advisory lock every PostgreSQL migration takes (any constant both sides agree on)
_MIGRATION_LOCK = zlib.crc32(b"dzqa schema migration")


class DatabaseError(ValueError):
    """DZQA_DATABASE_URL (or a target given in code) is not a database dzqa can use."""


_ERRORS: tuple[type[BaseException], ...] | None = None


def errors() -> tuple[type[BaseException], ...]:
    """The exceptions a database operation raises when the database cannot be reached, read or written
    (SQLAlchemy's, and OSError for a folder that cannot be created); imported only when first asked, so
    ``dzqa --help`` never loads SQLAlchemy."""
    global _ERRORS
    if _ERRORS is None:
        from sqlalchemy.exc import SQLAlchemyError

        _ERRORS = (SQLAlchemyError, OSError)
    return _ERRORS


def describe(target: Target) -> str:
    """A target for messages and ``dzqa info``: the file path, or the URL without its password."""
    if isinstance(target, Database):
        return target.name
    if isinstance(target, Path) or not _URL.match(str(target)):
        return str(target)
    from sqlalchemy.engine import make_url

    return make_url(str(target)).render_as_string(hide_password=True)


def _sqlalchemy_url(target: Path | str) -> Any:
    from sqlalchemy.engine import URL, make_url
    from sqlalchemy.exc import ArgumentError

    if isinstance(target, Path) or not _URL.match(str(target)):
        return URL.create("sqlite+pysqlite", database=str(Path(target).expanduser()))
    raw = str(target)
    scheme = raw.split("://", 1)[0].lower()
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        raw = "postgresql+psycopg://" + raw.split("://", 1)[1]
    elif scheme not in ("sqlite", "sqlite+pysqlite"):
        raise DatabaseError(f"DZQA_DATABASE_URL: {scheme}:// is not supported; use postgresql://user:password@"
                            "host:5432/dbname, or leave it unset for the SQLite file DZQA_FEEDBACK_DB")
    try:
        url = make_url(raw)
    except ArgumentError as e:
        raise DatabaseError(f"DZQA_DATABASE_URL is not a database URL ({e}); expected postgresql://user:"
                            "password@host:5432/dbname") from None
    if url.get_backend_name() == "postgresql" and not url.database:
        raise DatabaseError("DZQA_DATABASE_URL names no database: postgresql://user:password@host:5432/dbname")
    return url


class Database:
    """One database, opened lazily (a broken path or a server that is down never stops the app from
    starting) and migrated on first use. Thread-safe; share one per process and target (:func:`open_database`)."""

    def __init__(self, target: Path | str, *, timeout: float = 3.0) -> None:
        self.url = _sqlalchemy_url(target)
        self.timeout = timeout
        self.dialect: str = self.url.get_backend_name()  # "sqlite" | "postgresql"
        self.path: Path | None = Path(self.url.database) if self.sqlite and self.url.database else None
        self.name = self.url.render_as_string(hide_password=True) if not self.sqlite else str(self.path)
        self._engine: Engine | None = None
        self._lock = threading.Lock()  # creating the engine
        self._migrate_lock = threading.Lock()
        self._migrated = False

    @property
    def sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def __repr__(self) -> str:
        return f"Database({self.name!r})"

    # ------------------------------------------------------------------------------------------ engine
    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = self._create_engine()
        return self._engine

    def _create_engine(self) -> Engine:
        from sqlalchemy import create_engine, event

        if self.sqlite:
            # a connection per thread that asks; SQLite connections are cheap and WAL lets readers run
            # beside the one writer
            engine = create_engine(self.url, connect_args={"timeout": self.timeout}, pool_size=8,
                                   max_overflow=24, pool_timeout=self.timeout)
            busy = int(self.timeout * 1000)

            @event.listens_for(engine, "connect")
            def _on_connect(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.isolation_level = None  # pysqlite's own BEGIN handling off: ours below
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; WAL keeps it consistent
                cur.execute(f"PRAGMA busy_timeout={busy}")
                cur.close()

            @event.listens_for(engine, "begin")
            def _on_begin(conn: Connection) -> None:
                conn.exec_driver_sql(conn.get_execution_options().get("dzqa_begin", "BEGIN"))
        else:
            engine = create_engine(self.url, pool_pre_ping=True, pool_size=4, max_overflow=16,
                                   pool_timeout=self.timeout,
                                   connect_args={"connect_timeout": max(1, round(self.timeout)),
                                                 "application_name": "dzqa"})
        return engine

    def dispose(self) -> None:
        """Close every pooled connection (they reopen on the next use)."""
        if self._engine is not None:
            self._engine.dispose()

    def exists(self) -> bool:
        """False only for a SQLite file that was never created (reading it must not create it)."""
        return not self.sqlite or (self.path is not None and self.path.exists())

    # ------------------------------------------------------------------------------------ transactions
    @contextmanager
    def transaction(self, *, write: bool = False, timeout: float | None = None,
                    migrate: bool = True) -> Iterator[Connection]:
        """A connection in a transaction, committed when the block ends and rolled back on an exception.

        ``write``: take the write lock at the start (SQLite ``BEGIN IMMEDIATE``); ``timeout``: wait at most
        this long for a lock instead of the database's timeout (a hit count on the way to an answer)."""
        if migrate:
            self.migrate()
        elif self.sqlite and self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.engine.connect() as conn:
            raw = None
            if self.sqlite:
                if write:
                    conn = conn.execution_options(dzqa_begin="BEGIN IMMEDIATE")
                if timeout is not None:
                    raw = conn.connection.driver_connection
                    raw.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            try:
                with conn.begin():
                    if timeout is not None and not self.sqlite:
                        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(timeout * 1000)}")
                    yield conn
            finally:
                if raw is not None:
                    try:
                        raw.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
                    except Exception:  # a broken connection is discarded by the pool anyway
                        pass

    def query(self, sql: str, params: Mapping[str, Any] | None = None, *, migrate: bool = True) -> list[Row]:
        """All rows of one read."""
        from sqlalchemy import text

        with self.transaction(migrate=migrate) as conn:
            return list(conn.execute(text(sql), dict(params or {})))

    def execute(self, sql: str, params: Mapping[str, Any] | None = None, *,
                timeout: float | None = None) -> Any:
        """One write in its own transaction: the result's first column of the first row (``RETURNING``)
        when there is one, else the number of rows changed."""
        from sqlalchemy import text

        with self.transaction(write=True, timeout=timeout) as conn:
            result = conn.execute(text(sql), dict(params or {}))
            if result.returns_rows:
                row = result.first()
                return None if row is None else row[0]
            return result.rowcount

    # --------------------------------------------------------------------------------------- migration
    def migrate(self) -> None:
        """Create or upgrade the tables to the newest revision (once per process; see module docstring)."""
        if self._migrated:
            return
        with self._migrate_lock:
            if self._migrated:
                return
            if self.sqlite and self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            from .schema import upgrade

            with self.engine.connect() as conn:
                if self.sqlite:
                    conn = conn.execution_options(dzqa_begin="BEGIN IMMEDIATE")
                with conn.begin():
                    if not self.sqlite:
                        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
                    changed = upgrade(conn)
            if changed is not None:  # an operator sees when a start changed the database's schema
                log.info("database %s upgraded from revision %s to %s", describe(self), changed[0] or "(empty)",
                         changed[1])
            self._migrated = True


def close_all(target: Target) -> None:
    """Close the pooled connections of every Database of the process on this target (each store's timeout
    has its own): on SQLite the last connection closing checkpoints the WAL, so a stopped server leaves one
    complete file."""
    url = (target.url if isinstance(target, Database) else _sqlalchemy_url(target)).render_as_string(
        hide_password=False)
    with _OPEN_LOCK:
        found = [db for (u, _), db in _OPEN.items() if u == url]
    for db in found + ([target] if isinstance(target, Database) else []):
        db.dispose()


_OPEN: dict[tuple[str, float], Database] = {}
_OPEN_LOCK = threading.Lock()


def open_database(target: Target, *, timeout: float = 3.0) -> Database:
    """The process's Database for a target (one engine and pool per database and timeout)."""
    if isinstance(target, Database):
        return target
    url = _sqlalchemy_url(target)
    key = (url.render_as_string(hide_password=False), timeout)
    with _OPEN_LOCK:
        db = _OPEN.get(key)
        if db is None:
            db = _OPEN[key] = Database(target, timeout=timeout)
        return db
