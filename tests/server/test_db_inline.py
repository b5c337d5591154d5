"""The chat turn's insert tried on the event loop first (SQLite), and its fallback to a
worker thread when another writer holds the lock: the loop never waits for a lock."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from embedded_server.db.engine import Database
from embedded_server.db.migrate import upgrade
from embedded_server.db.store import ConversationStore, MessageDraft, NotFound


def test_inline_insert_and_fallback_when_locked(tmp_path: Path) -> None:
    path = tmp_path / "assistant.db"

    async def scenario() -> None:
        db = Database(f"sqlite:///{path}")
        await upgrade(db)
        store = ConversationStore(db)
        first = await store.add_turn(None, "fast", [MessageDraft("user", "hello")])
        assert [m.content for m in await store.history(first)] == ["hello"]
        with pytest.raises(NotFound):  # rolled back: the connection is not left in a transaction
            await store.add_turn("no-such-id", "", [MessageDraft("user", "lost")])
        await store.add_turn(first, "", [MessageDraft("assistant", "hi")])
        history = await store.history(first)
        assert [(m.content, m.created_at.tzinfo is not None) for m in history] == [
            ("hello", True),
            ("hi", True),
        ]

        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        task = asyncio.create_task(store.add_turn(None, "waits", [MessageDraft("user", "later")]))
        loop_turns = 0
        deadline = time.monotonic() + 5
        while not task.done() and loop_turns < 50 and time.monotonic() < deadline:
            await asyncio.sleep(0)  # the loop keeps turning while the insert waits
            loop_turns += 1
        assert not task.done() and loop_turns == 50
        blocker.execute("COMMIT")
        blocker.close()
        second = await asyncio.wait_for(task, 10)
        assert [m.content for m in await store.history(second)] == ["later"]
        await db.dispose()

    asyncio.run(scenario())
