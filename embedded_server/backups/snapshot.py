"""A consistent copy of the conversation database while the server keeps writing.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies a snapshot in one read
transaction, so every message committed before it began is in it and the copy is intact.
PostgreSQL: ``pg_dump`` in its custom format, restored with ``pg_restore``.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from embedded_server.backups import BackupFailed

if TYPE_CHECKING:
    from sqlalchemy.engine import URL


@dataclass(frozen=True)
class Database:
    """Where the assistant server keeps conversations (the URL it is given)."""

    url: str

    @property
    def kind(self) -> str:
        backend = _parsed(self.url).get_backend_name()
        return "postgresql" if backend in ("postgresql", "postgres") else backend

    @property
    def sqlite_path(self) -> Path:
        database = _parsed(self.url).database
        assert database, "a SQLite URL names its file"
        return Path(database)

    @property
    def member(self) -> str:
        return "database/assistant.db" if self.kind == "sqlite" else "database/assistant.pgdump"


def snapshot(database: Database, target: Path) -> dict[str, int | str | None]:
    """Copy ``database`` to ``target``; returns its figures for the manifest."""
    if database.kind == "sqlite":
        return _sqlite_snapshot(database.sqlite_path, target)
    if database.kind == "postgresql":
        return _pg_dump(database.url, target)
    raise BackupFailed(f"cannot back up a {database.kind} database")


def _sqlite_snapshot(source: Path, target: Path) -> dict[str, int | str | None]:
    if not source.exists():
        target.unlink(missing_ok=True)
        return {"kind": "sqlite", "conversations": 0, "messages": 0, "size": 0, "empty": 1}
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30) as src:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            figures = counts(dst)
        finally:
            dst.close()
    return {"kind": "sqlite", "size": target.stat().st_size, **figures}


def counts(connection: sqlite3.Connection) -> dict[str, int | str | None]:
    def one(sql: str) -> int | str | None:
        try:
            row = connection.execute(sql).fetchone()
        except sqlite3.DatabaseError:
            return None
        return row[0] if row else None

    return {
        "conversations": one("SELECT count(*) FROM conversations"),
        "messages": one("SELECT count(*) FROM messages"),
        "schema": one("SELECT version_num FROM alembic_version"),
    }


def check_sqlite(path: Path) -> str | None:
    """None when the file opens and passes ``PRAGMA integrity_check``, else why not."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            result = connection.execute("PRAGMA integrity_check").fetchone()[0]
            connection.execute("SELECT count(*) FROM conversations").fetchone()
    except sqlite3.DatabaseError as exc:
        return f"the database does not open: {exc}"
    return None if result == "ok" else f"the database is damaged: {result}"


def _pg_tool(name: str) -> str:
    tool = shutil.which(name)
    if tool is None:
        raise BackupFailed(
            f"`{name}` is needed for a PostgreSQL database: install postgresql-client"
        )
    return tool


def _pg_dump(url: str, target: Path) -> dict[str, int | str | None]:
    plain = _parsed(url).set(drivername="postgresql")
    env = {**os.environ, "PGPASSWORD": plain.password or ""}
    dsn = plain.set(password=None).render_as_string(hide_password=False)
    result = subprocess.run(
        [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(target), dsn],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BackupFailed(f"pg_dump failed: {result.stderr.strip()}")
    figures: dict[str, int | str | None] = {"kind": "postgresql", "size": target.stat().st_size}
    for name, sql in (
        ("conversations", "SELECT count(*) FROM conversations"),
        ("messages", "SELECT count(*) FROM messages"),
        ("schema", "SELECT version_num FROM alembic_version"),
    ):
        query = subprocess.run(
            [_pg_tool("psql"), "-Atc", sql, dsn], env=env, capture_output=True, text=True
        )
        value = query.stdout.strip() if query.returncode == 0 else None
        figures[name] = int(value) if value and value.isdigit() else value
    return figures


# What pg_dump writes of our schema (tables, their data, sequences, defaults, keys and
# indexes): a dump holding anything else (a function, an extension, a trigger, a rule, a
# language...) was not written by us, and could run code as the role that restores it.
OUR_ENTRIES = (
    "SEQUENCE OWNED BY", "SEQUENCE SET", "SEQUENCE", "TABLE DATA", "TABLE",
    "FK CONSTRAINT", "CONSTRAINT", "INDEX", "DEFAULT",
)  # fmt: skip
ENTRY = re.compile(r"^\d+; \d+ \d+ (?P<entry>.+)$")
# Words that run code or reach the server's files, in a schema we never write them in.
FOREIGN_SQL = re.compile(
    r"\b(PROGRAM|CREATE\s+(OR\s+REPLACE\s+)?(FUNCTION|PROCEDURE|EXTENSION|TRIGGER|RULE)|DO\s+\$)",
    re.IGNORECASE,
)


def check_dump(dump: Path) -> None:
    """Refuse (BackupFailed) a dump holding what pg_dump never writes of our schema."""
    listed = subprocess.run(
        [_pg_tool("pg_restore"), "--list", str(dump)], capture_output=True, text=True
    )
    if listed.returncode != 0:
        raise BackupFailed(f"pg_restore cannot read the dump: {listed.stderr.strip()}")
    foreign = []
    for line in listed.stdout.splitlines():
        found = ENTRY.match(line)
        if found and not found["entry"].startswith(tuple(f"{e} " for e in OUR_ENTRIES)):
            foreign.append(found["entry"].rsplit(" ", 1)[0])  # (less its owner)
    schema = subprocess.run(
        [_pg_tool("pg_restore"), "--schema-only", "--no-owner", "-f", "-", str(dump)],
        capture_output=True,
        text=True,
    )
    words = {m.group(0).upper() for m in FOREIGN_SQL.finditer(schema.stdout)}
    if foreign or words:
        said = "; ".join(foreign[:5] + sorted(words))
        raise BackupFailed(
            f"refusing to restore a dump with what this server never writes ({said}): it "
            "could run code as the database role restoring it"
        )


def pg_restore(url: str, dump: Path) -> None:
    """Restore ``dump`` into the database at ``url``, as that URL's role (the server's
    own), in one transaction, without owners or grants; a dump holding objects the server
    never writes is refused before anything runs."""
    check_dump(dump)
    plain = _parsed(url).set(drivername="postgresql")
    env = {**os.environ, "PGPASSWORD": plain.password or ""}
    dsn = plain.set(password=None).render_as_string(hide_password=False)
    result = subprocess.run(
        [
            _pg_tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",  # no GRANT/REVOKE from the dump
            "--single-transaction",  # all of it, or the database is left as it was
            "-d",
            dsn,
            str(dump),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BackupFailed(f"pg_restore failed: {result.stderr.strip()}")


def _parsed(url: str) -> URL:
    """A database URL parsed by SQLAlchemy, imported only when a backup needs it (the
    supervisor, which runs the schedule, must not carry it at rest)."""
    from sqlalchemy.engine import make_url

    return make_url(url)
