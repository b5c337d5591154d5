"""Conversations and messages, with full-text search.

SQLite: FTS5 tables kept in sync by triggers. PostgreSQL: GIN indexes on tsvectors.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', "
    "content_rowid='id', tokenize='unicode61')",
    "CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END",
    "CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, content) "
    "VALUES ('delete', old.id, old.content); END",
    "CREATE TRIGGER messages_au AFTER UPDATE OF content ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, content) "
    "VALUES ('delete', old.id, old.content); "
    "INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END",
    "CREATE VIRTUAL TABLE conversations_fts USING fts5(title, content='conversations', "
    "content_rowid='rowid', tokenize='unicode61')",
    "CREATE TRIGGER conversations_ai AFTER INSERT ON conversations BEGIN "
    "INSERT INTO conversations_fts(rowid, title) VALUES (new.rowid, new.title); END",
    "CREATE TRIGGER conversations_ad AFTER DELETE ON conversations BEGIN "
    "INSERT INTO conversations_fts(conversations_fts, rowid, title) "
    "VALUES ('delete', old.rowid, old.title); END",
    "CREATE TRIGGER conversations_au AFTER UPDATE OF title ON conversations BEGIN "
    "INSERT INTO conversations_fts(conversations_fts, rowid, title) "
    "VALUES ('delete', old.rowid, old.title); "
    "INSERT INTO conversations_fts(rowid, title) VALUES (new.rowid, new.title); END",
]

POSTGRES_FTS = [
    "CREATE INDEX ix_messages_fts ON messages USING gin (to_tsvector('simple', content))",
    "CREATE INDEX ix_conversations_fts ON conversations USING gin (to_tsvector('simple', title))",
]


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("pinned", sa.Boolean, nullable=False),
        sa.Column("model", sa.String(256), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_conversations_order", "conversations", ["pinned", "updated_at"])
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column(
            "conversation_id",
            sa.String(32),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("model", sa.String(256), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("prompt_tokens", sa.Integer, nullable=True),
        sa.Column("completion_tokens", sa.Integer, nullable=True),
        sa.Column("ttft_ms", sa.Float, nullable=True),
        sa.Column("tokens_per_second", sa.Float, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_messages_conversation_id", "messages", ["conversation_id"])
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_FTS if dialect == "sqlite" else POSTGRES_FTS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in ("messages_fts", "conversations_fts"):
            op.execute(f"DROP TABLE IF EXISTS {table}")
    op.drop_table("messages")
    op.drop_table("conversations")
