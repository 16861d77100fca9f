"""Staff-curated links (question → passage ids, or "not covered"), the audit trail of every change, and
the change counter servers reload the links by."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if "curated" not in tables:
        op.create_table(
            "curated",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("question", sa.Text, nullable=False),
            sa.Column("qkey", sa.Text, nullable=False, unique=True),
            sa.Column("passages", sa.Text, nullable=False),
            sa.Column("covered", sa.Integer, nullable=False),
            sa.Column("hits", sa.Integer, nullable=False, server_default=sa.text("0")),
            sa.Column("created_at", sa.Text, nullable=False),
            sa.Column("updated_at", sa.Text, nullable=False),
            sa.Column("author", sa.Text, nullable=False),
        )
    if "audit" not in tables:
        op.create_table(
            "audit",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("at", sa.Text, nullable=False),
            sa.Column("who", sa.Text, nullable=False),
            sa.Column("action", sa.Text, nullable=False),
            sa.Column("detail", sa.Text, nullable=False),
        )
    if "curated_version" not in tables:
        op.create_table(
            "curated_version",
            sa.Column("id", sa.Integer, sa.CheckConstraint("id = 1"), primary_key=True, autoincrement=False),
            sa.Column("version", sa.Integer, nullable=False),
        )
    op.execute("INSERT INTO curated_version (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING")


def downgrade() -> None:
    op.drop_table("curated_version")
    op.drop_table("audit")
    op.drop_table("curated")
