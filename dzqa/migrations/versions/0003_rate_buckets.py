"""Token buckets of the rate limit, shared by the replicas that use one database, and the secrets they
share (the key of the clients' pseudonyms)."""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "rate_buckets",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("stamp", sa.Float, nullable=False),
        sa.Column("granted", sa.Integer, nullable=False),
    )
    op.create_index("rate_buckets_stamp", "rate_buckets", ["stamp"])
    op.create_table(
        "secrets",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("secrets")
    op.drop_table("rate_buckets")
