"""The database: plain URLs in, the right driver out, one way to run work on it.

Store operations are plain functions of a SQLAlchemy ``Session``, run by
:meth:`Database.run` in one transaction:

- PostgreSQL: the async engine (asyncpg) through ``AsyncSession.run_sync``;
- SQLite: a sync engine (pysqlite) in one worker-thread hop per operation (an async
  SQLite driver, aiosqlite, hops threads for every statement instead).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
DRIVERS = {"sqlite": "pysqlite", "postgresql": "asyncpg"}


def driver_url(url: str) -> URL:
    """A plain URL with the driver we use: ``postgresql://u:p@h/db`` →
    ``postgresql+asyncpg://u:p@h/db``, ``sqlite:///f`` → ``sqlite+pysqlite:///f``."""
    parsed = make_url(url)
    backend = parsed.drivername.partition("+")[0]
    backend = "postgresql" if backend == "postgres" else backend
    if backend not in DRIVERS:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return parsed.set(drivername=f"{backend}+{DRIVERS[backend]}")


class Database:
    """One database, whichever the engine; see the module docstring."""

    def __init__(self, url: str) -> None:
        target = driver_url(url)
        self.dialect = target.get_backend_name()
        # For messages: the file, or the server and database name (never the password).
        self.where = str(target.database) if self.dialect == "sqlite" else target.render_as_string()
        self._sync: Engine | None = None
        self._async: AsyncEngine | None = None
        if self.dialect == "sqlite":
            if target.database not in (None, "", ":memory:"):  # its folder, made at first use
                Path(target.database).parent.mkdir(parents=True, exist_ok=True)
            self._sync = create_engine(
                target, connect_args={"timeout": 30, "check_same_thread": False}
            )
            event.listen(self._sync, "connect", _sqlite_pragmas)
            self._sync_sessions = sessionmaker(self._sync, expire_on_commit=False)
        else:
            self._async = create_async_engine(target, pool_pre_ping=True)
            self._async_sessions = async_sessionmaker(self._async, expire_on_commit=False)

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)`` in one transaction, off the event loop."""
        if self._sync is not None:
            return await asyncio.to_thread(self._run_sync, work)
        async with self._async_sessions.begin() as session:
            return await session.run_sync(work)

    def _run_sync(self, work: Callable[[Session], T]) -> T:
        with self._sync_sessions.begin() as session:
            return work(session)

    async def run_on_connection(self, work: Callable[[Connection], T]) -> T:
        """Run ``work(connection)`` in a transaction without an ORM session (the
        migrations), off the event loop."""
        if self._sync is not None:
            return await asyncio.to_thread(self._run_on_sync_connection, work)
        assert self._async is not None
        async with self._async.begin() as connection:
            return await connection.run_sync(work)

    def _run_on_sync_connection(self, work: Callable[[Connection], T]) -> T:
        assert self._sync is not None
        with self._sync.begin() as connection:
            return work(connection)

    async def ping(self) -> None:
        await self.run(lambda session: session.execute(text("SELECT 1")))

    async def dispose(self) -> None:
        if self._sync is not None:
            self._sync.dispose()
        if self._async is not None:
            await self._async.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
