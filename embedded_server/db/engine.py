"""Engine creation: plain URLs in, the right async driver out, SQLite tuned for concurrency."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg", "postgres": "asyncpg"}


def async_url(url: str) -> URL:
    """``postgresql://u:p@h/db`` → ``postgresql+asyncpg://...``; ``sqlite:///f`` → aiosqlite."""
    parsed = make_url(url)
    backend, _, driver = parsed.drivername.partition("+")
    backend = "postgresql" if backend == "postgres" else backend
    if backend not in ASYNC_DRIVERS:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    if driver != ASYNC_DRIVERS[backend]:
        parsed = parsed.set(drivername=f"{backend}+{ASYNC_DRIVERS[backend]}")
    return parsed


def make_engine(url: str) -> AsyncEngine:
    target = async_url(url)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if target.get_backend_name() == "sqlite":
        kwargs = {"connect_args": {"timeout": 30}}
    engine = create_async_engine(target, **kwargs)
    if target.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)
