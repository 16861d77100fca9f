"""Asked questions and feedback (also upgrades files older than any version table, with or without the
late ``comment`` column of feedback)."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    if "questions" not in tables:
        op.create_table(
            "questions",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("asked_at", sa.Text, nullable=False),
            sa.Column("day", sa.Text, nullable=False),
            sa.Column("channel", sa.Text, nullable=False),
            sa.Column("question", sa.Text, nullable=False),
            sa.Column("qkey", sa.Text, nullable=False),
            sa.Column("kind", sa.Text, nullable=False),
            sa.Column("found", sa.Integer, nullable=False),
            sa.Column("citations", sa.Text, nullable=False),
            sa.Column("ms", sa.Float),
        )
    op.create_index("questions_day", "questions", ["day"], if_not_exists=True)
    op.create_index("questions_qkey", "questions", ["qkey", "id"], if_not_exists=True)
    if "feedback" not in tables:
        op.create_table(
            "feedback",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("key", sa.Text, unique=True),
            sa.Column("created_at", sa.Text, nullable=False),
            sa.Column("updated_at", sa.Text, nullable=False),
            sa.Column("channel", sa.Text, nullable=False),
            sa.Column("question", sa.Text, nullable=False),
            sa.Column("answer", sa.Text, nullable=False),
            sa.Column("citations", sa.Text, nullable=False),
            sa.Column("rating", sa.Text, sa.CheckConstraint("rating IN ('up', 'down')"), nullable=False),
            sa.Column("reason", sa.Text),
            sa.Column("comment", sa.Text),
        )
    elif "comment" not in {c["name"] for c in inspector.get_columns("feedback")}:
        op.add_column("feedback", sa.Column("comment", sa.Text))


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("questions")
