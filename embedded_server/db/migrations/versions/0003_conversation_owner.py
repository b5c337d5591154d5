"""Conversations belong to the API key that made them (``owner``; empty: the admin's).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("owner", sa.String(64), nullable=True))
    op.create_index("ix_conversations_owner", "conversations", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_conversations_owner", "conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("owner")
