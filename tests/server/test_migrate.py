"""The schema migrates forward at start; a database of a newer version is refused with a
clear message and left exactly as it was (a downgrade never runs)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from embedded_server.db.engine import Database
from embedded_server.db.migrate import DatabaseUnusable, upgrade
from tests.server.conftest import run_server


def migrate(url: str) -> None:
    async def run() -> None:
        database = Database(url)
        try:
            await upgrade(database)
        finally:
            await database.dispose()

    asyncio.run(run())


def test_a_database_of_a_newer_version_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "assistant.db"
    url = f"sqlite:///{path}"
    migrate(url)
    migrate(url)  # at the newest schema already: nothing to do
    with sqlite3.connect(path) as db:
        db.execute("UPDATE alembic_version SET version_num = 'f00d_from_the_future'")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(DatabaseUnusable, match="written by a newer version") as refused:
        migrate(url)
    assert "f00d_from_the_future" in str(refused.value)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before

    env = {**os.environ, "ASSISTANT_DATABASE_URL": url, "ASSISTANT_DATA_DIR": str(tmp_path)}
    server = run_server(env)
    assert server.returncode == 2
    assert "written by a newer version" in server.stderr and "Traceback" not in server.stderr


def test_replicas_migrating_an_empty_postgresql_at_once_run_the_migrations_once() -> None:
    """Five servers start together on an empty database: one migrates under the advisory
    lock, the others wait for it and find the schema done (no error, no second run)."""
    from tests.server.conftest import postgres_database, require_service

    admin = require_service("ELITE_TEST_POSTGRES_URL", "PostgreSQL server")

    async def together(url: str) -> list[str]:
        databases = [Database(url) for _ in range(5)]
        try:
            results = await asyncio.gather(*(upgrade(d) for d in databases), return_exceptions=True)
            rows = await databases[0].run_on_connection(
                lambda c: [
                    r[0] for r in c.exec_driver_sql("SELECT version_num FROM alembic_version")
                ]
            )
        finally:
            for database in databases:
                await database.dispose()
        assert not [r for r in results if isinstance(r, BaseException)], results
        return rows

    with postgres_database(admin) as url:
        assert len(asyncio.run(together(url))) == 1
