"""Bring a database to the newest schema with Alembic, at server start.

On PostgreSQL the migrations hold a transaction-level advisory lock: replicas started
together on an empty database run them once (the others wait, then find it done).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from embedded_server import __version__
from embedded_server.db.engine import Database

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK = 0x454C495445  # any constant the replicas agree on ("ELITE")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


class DatabaseUnusable(Exception):
    """The database cannot be opened or migrated; the message says why and what to do."""


async def upgrade(database: Database) -> None:
    """Migrate to the newest schema.

    Raises:
        DatabaseUnusable: not a database, a damaged file, a server that refuses (the file
            or the data are left exactly as they were).
    """

    def run(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":  # released when the transaction ends
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config = alembic_config()
        current = MigrationContext.configure(connection).get_current_revision()
        known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
        if current is not None and current not in known:
            raise DatabaseUnusable(
                f"the database {database.where} was written by a newer version (schema "
                f"{current}); this version ({__version__}) does not know that schema and "
                "leaves it as it is: install the newer version again, or restore a backup "
                "made by this one"
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    try:
        await database.run_on_connection(run)
    except (DBAPIError, OSError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise DatabaseUnusable(
            f"the database {database.where} cannot be used ({reason}); it was left as it is: "
            "restore a backup (elite-panel backup restore), or move it away to start with "
            "an empty one"
        ) from exc
