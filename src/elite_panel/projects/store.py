"""One project's index on disk: a SQLite file of its files, their chunks with each one's
vector, a full-text index (FTS5, BM25 ranking) over the chunks, and what was skipped.

Every change to a file's chunks is one transaction: an index interrupted anywhere (a
cancelled run, a killed panel) holds each file as it was before or after, never half.
Vectors are float32, unit length; a search reads them all into one numpy matrix, kept
until the next change.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from elite_panel.projects.chunks import Chunk
from elite_panel.projects.files import Skipped

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL,
    digest TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, start INTEGER NOT NULL,
    end_line INTEGER NOT NULL, symbol TEXT NOT NULL, text TEXT NOT NULL, vector BLOB
);
CREATE INDEX IF NOT EXISTS chunks_path ON chunks (path);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5 (
    text, path, symbol, content='chunks', content_rowid='id', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS chunks_added AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, text, path, symbol)
    VALUES (new.id, new.text, new.path, new.symbol);
END;
CREATE TRIGGER IF NOT EXISTS chunks_removed AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, text, path, symbol)
    VALUES ('delete', old.id, old.text, old.path, old.symbol);
END;
CREATE TABLE IF NOT EXISTS skipped (
    path TEXT PRIMARY KEY, reason TEXT NOT NULL, mtime_ns INTEGER NOT NULL DEFAULT 0,
    size INTEGER NOT NULL DEFAULT -1
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
WORD = re.compile(r"\w+", re.UNICODE)
COMMON_SHARE = 0.1  # a query word in more of the chunks than this is not searched for
# Words of a question that say nothing of code: left out of a keyword search, where they
# would match most chunks (and make it slow), not of the search by meaning.
QUESTION_WORDS = frozenset(
    ("a", "an", "and", "are", "as", "at", "be", "by", "can", "could", "do", "does", "for",
     "from", "has", "have", "how", "i", "in", "into", "is", "it", "its", "me", "my", "of",
     "on", "or", "should", "so", "that", "the", "their", "there", "these", "this", "to",
     "was", "we", "what", "when", "where", "which", "who", "why", "will", "with", "would",
     "you", "your")
)  # fmt: skip


@dataclass(frozen=True)
class FileState:
    """What a file was when it was indexed: changed files are found by these."""

    mtime_ns: int
    size: int
    digest: str


@dataclass(frozen=True)
class Stored:
    """A chunk as the index holds it."""

    id: int
    chunk: Chunk


class ProjectIndex:
    """The index file at ``path`` (created on first use). Safe to use from several
    threads (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._matrix: tuple[np.ndarray, np.ndarray, list[str]] | None = None
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- what is indexed ---------------------------------------------------------------

    def files(self) -> dict[str, FileState]:
        with self._lock:
            rows = self._db.execute("SELECT path, mtime_ns, size, digest FROM files").fetchall()
        return {path: FileState(mtime, size, digest) for path, mtime, size, digest in rows}

    def replace_file(
        self, path: str, state: FileState, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        """``path``'s chunks (and their vectors, one row each) instead of its old ones."""
        blobs = [np.asarray(v, dtype=np.float32).tobytes() for v in vectors]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute("DELETE FROM chunks WHERE path = ?", (path,))
                self._db.executemany(
                    "INSERT INTO chunks (path, start, end_line, symbol, text, vector) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (c.path, c.start, c.end, c.symbol, c.text, b)
                        for c, b in zip(chunks, blobs, strict=True)
                    ],
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)",
                    (path, state.mtime_ns, state.size, state.digest),
                )
                self._db.execute("DELETE FROM skipped WHERE path = ?", (path,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._matrix = None

    def touch_file(self, path: str, state: FileState) -> None:
        """``path`` is unchanged (same digest) though its time changed."""
        with self._lock:
            self._db.execute(
                "UPDATE files SET mtime_ns = ?, size = ? WHERE path = ?",
                (state.mtime_ns, state.size, path),
            )

    def remove_files(self, paths: Iterable[str]) -> None:
        gone = [(path,) for path in paths]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM chunks WHERE path = ?", gone)
            self._db.executemany("DELETE FROM files WHERE path = ?", gone)
            self._db.executemany("DELETE FROM skipped WHERE path = ?", gone)
            self._db.execute("COMMIT")
            self._matrix = None

    def set_skipped(self, skipped: Iterable[Skipped], replace_all: bool) -> None:
        """Remember what was skipped by its name or size, and why (``replace_all``: the
        list of a full run; what was found binary or generated by reading stays)."""
        with self._lock:
            self._db.execute("BEGIN")
            if replace_all:
                self._db.execute("DELETE FROM skipped WHERE size = -1")
            self._db.executemany(
                "INSERT OR REPLACE INTO skipped (path, reason) VALUES (?, ?)",
                [(s.path, s.reason) for s in skipped],
            )
            self._db.execute("COMMIT")

    def skip_read(self, skipped: Skipped, mtime_ns: int, size: int) -> None:
        """``skipped`` was found unfit by reading it (binary, generated): not read again
        while its time and size stay; its chunks, if it had some, are gone."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM chunks WHERE path = ?", (skipped.path,))
            self._db.execute("DELETE FROM files WHERE path = ?", (skipped.path,))
            self._db.execute(
                "INSERT OR REPLACE INTO skipped VALUES (?, ?, ?, ?)",
                (skipped.path, skipped.reason, mtime_ns, size),
            )
            self._db.execute("COMMIT")
            self._matrix = None

    def read_skips(self) -> dict[str, tuple[int, int]]:
        """The files found unfit by reading them, and their time and size then."""
        with self._lock:
            rows = self._db.execute(
                "SELECT path, mtime_ns, size FROM skipped WHERE size >= 0"
            ).fetchall()
        return {path: (mtime, size) for path, mtime, size in rows}

    def skipped(self) -> list[Skipped]:
        with self._lock:
            rows = self._db.execute("SELECT path, reason FROM skipped ORDER BY path").fetchall()
        return [Skipped(path, reason) for path, reason in rows]

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def counts(self) -> tuple[int, int]:
        """How many files and chunks are indexed."""
        with self._lock:
            files = self._db.execute("SELECT count(*) FROM files").fetchone()[0]
            chunks = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return int(files), int(chunks)

    def size_bytes(self) -> int:
        """The index's size on disk (the database and its write-ahead log)."""
        return sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())

    # -- search -------------------------------------------------------------------------

    def chunks(self, ids: Sequence[int]) -> dict[int, Chunk]:
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, path, start, end_line, symbol, text FROM chunks WHERE id IN ({marks})",
                list(ids),
            ).fetchall()
        return {row[0]: Chunk(*row[1:]) for row in rows}

    def keyword(self, query: str, limit: int, under: str = "") -> list[tuple[int, float]]:
        """The chunks BM25 ranks best for ``query``'s words (any of them), best first;
        ``under``: only files under this path.

        A word found in more than :data:`COMMON_SHARE` of the chunks is left out (the
        rarest word stays): BM25 gives it little weight, and ranking every chunk it is in
        made a search at 50,000 chunks four times as slow."""
        words = [w for w in dict.fromkeys(WORD.findall(query.lower())) if w not in QUESTION_WORDS]
        if not words:
            return []
        quoted = ['"' + w.replace('"', '""') + '"' for w in words]
        with self._lock:
            total = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            found = [
                self._db.execute(
                    "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (term,)
                ).fetchone()[0]
                for term in quoted
            ]
        kept = [t for t, n in zip(quoted, found, strict=True) if n <= COMMON_SHARE * total]
        match = " OR ".join(kept or [min(zip(found, quoted, strict=True))[1]])
        sql = "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ?"
        values: list[object] = [match]
        if under:
            sql += " AND (path = ? OR path LIKE ? ESCAPE '\\')"
            values += [under, _like_prefix(under)]
        sql += " ORDER BY bm25(chunks_fts) LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, [*values, limit]).fetchall()
        return [(int(rowid), -float(score)) for rowid, score in rows]

    def matrix(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Every chunk's id, its vector (one row each) and its file, read once per change."""
        if self._matrix is None:
            with self._lock:
                rows = self._db.execute(
                    "SELECT id, vector, path FROM chunks WHERE vector IS NOT NULL ORDER BY id"
                ).fetchall()
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            vectors = (
                np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
                if rows
                else np.zeros((0, 0), dtype=np.float32)
            )
            self._matrix = (ids, vectors, [r[2] for r in rows])
        return self._matrix


def _like_prefix(folder: str) -> str:
    escaped = folder.rstrip("/").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}/%"
