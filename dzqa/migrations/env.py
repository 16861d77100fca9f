"""Alembic's environment for dzqa: always run on a connection handed over by :func:`dzqa.schema.upgrade`
(inside its transaction and migration lock), never from an alembic.ini. A new revision: copy the last file
in versions/, give it the next number as ``revision`` and the last one as ``down_revision``, and change
``dzqa.schema.metadata`` to match (tests/test_schema.py compares the two on SQLite and PostgreSQL)."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("dzqa's migrations run through dzqa.db.Database.migrate(), which hands over a connection")
context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
