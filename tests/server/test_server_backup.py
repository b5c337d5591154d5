"""``elite-assistant-server backup``: the server's database (SQLite and the test
PostgreSQL) into a verified archive, a damaged one refused, restored, pruned."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from embedded_server.db.engine import Database
from embedded_server.db.migrate import upgrade
from embedded_server.db.store import ConversationStore, MessageDraft
from tests.server.conftest import run_server

T = TypeVar("T")


def on_store(url: str, work: Callable[[ConversationStore], Awaitable[T]]) -> T:
    """``work`` on the conversations of the database at ``url`` (migrated first)."""

    async def run() -> T:
        database = Database(url)
        try:
            await upgrade(database)
            return await work(ConversationStore(database))
        finally:
            await database.dispose()

    return asyncio.run(run())


def conversations(url: str) -> list[str]:
    async def titles(store: ConversationStore) -> list[str]:
        found, _total = await store.search("", 50, 0)
        return sorted(c.title for c in found)

    return on_store(url, titles)


def add_conversation(url: str, title: str) -> str:
    return on_store(url, lambda store: store.add_turn(None, title, [MessageDraft("user", title)]))


def delete_conversation(url: str, conversation: str) -> None:
    on_store(url, lambda store: store.delete(conversation))


def test_backup_verify_refuse_damage_restore_prune(database_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ASSISTANT_DATABASE_URL": database_url,
        "ASSISTANT_BACKUP_DIR": str(tmp_path / "backups"),
    }
    kept = add_conversation(database_url, "refactor the parser")

    def server(*args: str) -> tuple[int, str, str]:
        done = run_server(env, "backup", *args)
        return done.returncode, done.stdout, done.stderr

    code, out, err = server("create")
    assert code == 0, err
    archive = Path(out.split()[0])
    assert archive.is_file() and "1 conversations" in out
    code, out, _ = server("list")
    assert archive.name in out and "verified" in out
    code, out, err = server("verify", str(archive))
    assert code == 0 and "match the manifest" in out, err

    damaged = tmp_path / "backups" / "damaged.tar.zst"
    shutil.copy(archive, damaged)
    data = bytearray(damaged.read_bytes())
    for at in range(len(data) // 2, len(data) // 2 + 8):  # (one bit of zstd's may be spare)
        data[at] ^= 0xFF
    damaged.write_bytes(bytes(data))
    code, _, err = server("verify", str(damaged))
    # Refused with the check that saw it (where the bytes land decide which: the stream,
    # the manifest, or a member's checksum).
    assert code == 1 and err.startswith("elite-assistant-server: ") and "Traceback" not in err

    delete_conversation(database_url, kept)
    add_conversation(database_url, "made after the backup")
    code, _, err = server("restore", str(archive))  # without --yes: nothing changes
    assert code == 1 and "--yes" in err
    assert conversations(database_url) == ["made after the backup"]
    code, _, err = server("restore", str(damaged), "--yes")
    assert code == 1 and conversations(database_url) == ["made after the backup"]
    code, out, err = server("restore", str(archive), "--yes")
    assert code == 0, err
    assert conversations(database_url) == ["refactor the parser"]
    safety = Path(out.rsplit(": ", 1)[1].strip())
    assert safety.is_file() and safety != archive  # the database as it was before

    code, out, _ = server("prune", "--keep-last", "1", "--keep-daily", "0")
    assert code == 0 and out.count("removed") == 1
    code, out, _ = server("list")
    assert out.startswith(safety.name) and not archive.exists()


def test_a_dump_holding_what_we_never_write_is_refused(tmp_path: Path) -> None:
    """A dump with a function (how a crafted one would run code as the restoring role) is
    refused before pg_restore runs anything; the database stays as it was."""
    from tests.server.conftest import execute_sql, postgres_database, require_service

    admin = require_service("ELITE_TEST_POSTGRES_URL", "PostgreSQL server")
    with postgres_database(admin) as url:
        env = {**os.environ, "ASSISTANT_DATABASE_URL": url, "ASSISTANT_BACKUP_DIR": str(tmp_path)}
        add_conversation(url, "before the function")
        execute_sql(url, "CREATE FUNCTION public.planted() RETURNS int LANGUAGE sql AS 'SELECT 1'")
        made = run_server(env, "backup", "create")
        assert made.returncode == 0, made.stderr
        archive = made.stdout.split()[0]
        execute_sql(url, "DROP FUNCTION public.planted()")
        add_conversation(url, "after the backup")
        refused = run_server(env, "backup", "restore", archive, "--yes")
        assert refused.returncode == 1 and "refusing to restore" in refused.stderr
        assert "FUNCTION public planted()" in refused.stderr
        assert conversations(url) == ["after the backup", "before the function"]
