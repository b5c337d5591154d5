"""A key's limits in tokens and streams: the models it may use, tokens a minute and a day,
answers at once, and the longest answer (each empty: the server's ASSISTANT_KEY_DEFAULTS).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

LIMITS = ("tpm", "tokens_per_day", "parallel", "max_tokens")


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("models", sa.JSON(), nullable=True))
        for name in LIMITS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        for name in ("models", *LIMITS):
            batch.drop_column(name)
