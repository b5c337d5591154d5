"""Alembic environment: the server hands over an open connection (see ``db/migrate.py``)."""

from __future__ import annotations

from alembic import context

from embedded_server.db.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
