"""Conversation storage at scale: 10k, 100k and 1M messages, on SQLite and PostgreSQL.

Run: ``python -m tests.benchmarks.bench_store`` (PostgreSQL when ``ELITE_TEST_POSTGRES_URL``
names a server; ``BENCH_STORE_SIZES=10000,100000`` for a shorter run). Each database is
created by the server's migrations and grown in place (conversations of 20 messages, plus
one of 2,000); the queries run through the server's own :class:`ConversationStore`:

- the conversation list's first page (pinned first, newest first);
- full-text search for a rare word (in 1 message in 10,000) and for a common one (1 in
  100), each against a plain ``LIKE '%word%'`` scan of the same data in the same run;
- opening the 2,000-message conversation.

Figures are p50/p95 over :data:`RUNS` runs. Aims: search p95 <= 50 ms at 1M messages, and
a cost that grows at most logarithmically with the data (the scan grows linearly).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from embedded_server.db.engine import Database
from embedded_server.db.migrate import upgrade
from embedded_server.db.store import ConversationStore
from tests.benchmarks import save_results

SIZES = [int(n) for n in os.environ.get("BENCH_STORE_SIZES", "10000,100000,1000000").split(",")]
RUNS = int(os.environ.get("BENCH_RUNS", "30"))
PER_CONVERSATION = 20
LONG = 2000
RARE, COMMON = "zanzibarquux", "refactor"  # 1 message in 10,000 and 1 in 100
VOCABULARY = [
    "the",
    "a",
    "function",
    "returns",
    "value",
    "list",
    "dict",
    "error",
    "test",
    "python",
    "rust",
    "async",
    "await",
    "class",
    "module",
    "import",
    "loop",
    "index",
    "string",
    "bytes",
    "parse",
    "token",
    "model",
    "stream",
    "server",
    "client",
    "query",
    "cache",
    "file",
    "path",
    "config",
    "option",
    "retry",
    "timeout",
    "thread",
    "lock",
    "queue",
    "event",
    "handler",
    "route",
]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def sentence(rng: random.Random, i: int) -> str:
    words = rng.choices(VOCABULARY, k=24)
    if i % 10_000 == 7:
        words[5] = RARE
    if i % 100 == 3:
        words[9] = COMMON
    return " ".join(words)


def rows(start: int, count: int) -> Iterator[tuple[Any, ...]]:
    """Messages ``start`` .. ``start + count`` (their conversation: every 20 in one)."""
    rng = random.Random(start)
    for i in range(start, start + count):
        conversation = f"c{i // PER_CONVERSATION:031x}"
        role = "user" if i % 2 == 0 else "assistant"
        yield (uuid.uuid4().hex, conversation, role, sentence(rng, i), T0 + timedelta(seconds=i))


def conversations(start: int, count: int) -> list[tuple[Any, ...]]:
    first, last = start // PER_CONVERSATION, (start + count - 1) // PER_CONVERSATION
    return [
        (f"c{c:031x}", f"conversation {c}", T0 + timedelta(seconds=c * PER_CONVERSATION))
        for c in range(first, last + 1)
        if c * PER_CONVERSATION >= start
    ]


async def grow(db: Database, url: str, start: int, count: int) -> None:
    """Add messages ``start`` .. ``start + count`` with their conversations."""
    talks, messages = conversations(start, count), list(rows(start, count))
    if db.dialect == "sqlite":
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as raw:
            raw.executemany(
                "INSERT INTO conversations (id, title, pinned, created_at, updated_at)"
                " VALUES (?, ?, 0, ?, ?)",
                [(i, t, _naive(at), _naive(at)) for i, t, at in talks],
            )
            raw.executemany(
                "INSERT INTO messages (public_id, conversation_id, role, content, status,"
                " created_at) VALUES (?, ?, ?, ?, 'complete', ?)",
                [(p, c, r, body, _naive(at)) for p, c, r, body, at in messages],
            )
        return
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.copy_records_to_table(
            "conversations",
            records=[(i, t, False, at, at) for i, t, at in talks],
            columns=["id", "title", "pinned", "created_at", "updated_at"],
        )
        await connection.copy_records_to_table(
            "messages",
            records=[(p, c, r, body, "complete", at) for p, c, r, body, at in messages],
            columns=["public_id", "conversation_id", "role", "content", "status", "created_at"],
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def _naive(at: datetime) -> str:
    """A UTC time as SQLAlchemy stores it in SQLite."""
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")


async def add_long_conversation(store: ConversationStore) -> str:
    from embedded_server.db.store import MessageDraft

    conversation = await store.add_turn(None, "a long one", [])
    drafts = [MessageDraft("user" if i % 2 == 0 else "assistant", f"turn {i}") for i in range(LONG)]
    await store.add_turn(conversation, "", drafts)
    return conversation


async def timed(work: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    await work()  # warm
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        await work()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"p50_ms": statistics.median(times), "p95_ms": times[int(len(times) * 0.95) - 1]}


async def like_scan(db: Database, word: str) -> int:
    """The baseline: the conversations whose messages contain ``word``, by a plain scan."""

    def work(session: Any) -> int:
        sql = "SELECT COUNT(DISTINCT conversation_id) FROM messages WHERE content LIKE :pattern"
        return int(session.execute(text(sql), {"pattern": f"%{word}%"}).scalar_one())

    return await db.run(work)


async def measure(url: str) -> dict[str, Any]:
    db = Database(url)
    await upgrade(db)
    store = ConversationStore(db)
    long_id = await add_long_conversation(store)
    results: dict[str, Any] = {}
    have = 0
    for size in SIZES:
        started = time.perf_counter()
        await grow(db, url, have, size - have)
        have = size
        figures: dict[str, Any] = {"grow_s": time.perf_counter() - started}
        figures["list"] = await timed(lambda: store.search("", limit=50))
        for label, word in (("rare", RARE), ("common", COMMON)):
            _, total = await store.search(word, limit=50)
            scanned = await like_scan(db, word)
            assert total == scanned, (word, total, scanned)  # the same answer, two ways
            figures[f"search_{label}"] = await timed(lambda w=word: store.search(w, limit=50))
            figures[f"search_{label}"]["matches"] = total
            figures[f"like_{label}"] = await timed(lambda w=word: like_scan(db, w))
        figures["open_2000"] = await timed(lambda: store.get(long_id, with_messages=True))
        results[str(size)] = figures
        report(db.dialect, size, figures)
    await db.dispose()
    return results


def report(dialect: str, size: int, f: dict[str, Any]) -> None:
    def cell(name: str) -> str:
        return f"{f[name]['p50_ms']:7.1f} / {f[name]['p95_ms']:7.1f}"

    sys.stdout.write(
        f"{dialect:<10} {size:>9,} msgs (grown in {f['grow_s']:5.1f} s)  p50 / p95 ms:\n"
        f"  list, first page         {cell('list')}\n"
        f"  search rare  ({f['search_rare']['matches']:>6,} hits) {cell('search_rare')}"
        f"   LIKE scan {cell('like_rare')}\n"
        f"  search common ({f['search_common']['matches']:>5,} hits) {cell('search_common')}"
        f"   LIKE scan {cell('like_common')}\n"
        f"  open 2,000 messages      {cell('open_2000')}\n"
    )
    sys.stdout.flush()


def main() -> int:
    results: dict[str, Any] = {"runs": RUNS, "sizes": SIZES}
    with tempfile.TemporaryDirectory(prefix="elite-bench-store-") as folder:
        results["sqlite"] = asyncio.run(measure(f"sqlite:///{Path(folder) / 'store.db'}"))
    admin = os.environ.get("ELITE_TEST_POSTGRES_URL")
    if admin:
        from tests.server.conftest import postgres_database

        with postgres_database(admin) as url:
            results["postgresql"] = asyncio.run(measure(url))
    else:
        sys.stdout.write("PostgreSQL: skipped (set ELITE_TEST_POSTGRES_URL)\n")
    save_results("store", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
