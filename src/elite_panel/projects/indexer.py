"""Bringing a project's index up to date: what changed since the last run is read,
chunked, embedded (by the assistant the profile uses, in batches) and written, a file at
a time; what is gone is removed.

A file is read again only when its size or time changed, and embedded again only when
its content did (a SHA-256 of it). A run can be paused between batches and cancelled
anywhere: each file is written whole or not at all, and the next run goes on from there.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from elite_panel.projects.chunks import Chunk, chunk
from elite_panel.projects.files import ALWAYS_SKIPPED_DIRS, ProjectFiles, Skipped
from elite_panel.projects.store import FileState, ProjectIndex

log = logging.getLogger(__name__)

Embed = Callable[[list[str]], Awaitable[list[list[float]]]]
BATCH = 32  # chunks an embeddings request carries
EMBED_CHARS = 360  # of a chunk, embedded (its path, name and start); the whole is searched by words


def embedding_text(piece: Chunk) -> str:
    """What of a chunk is embedded: where it is, what it defines, how it starts."""
    return f"{piece.path} {piece.symbol}\n{piece.text}"[:EMBED_CHARS]


@dataclass
class Progress:
    """A run so far: files to read and read, chunks embedded, the file at hand."""

    files_total: int = 0
    files_done: int = 0
    chunks: int = 0
    current: str = ""
    removed: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


@dataclass
class _Pending:
    """A changed file, read and chunked, waiting for its vectors."""

    path: str
    state: FileState
    chunks: list[Chunk]
    vectors: list[list[float]] = field(default_factory=list)


class Indexer:
    """Keeps ``index`` up to date with the project at ``root``, embedding with ``embed``
    (the model named ``model``: an index made with another is embedded again whole)."""

    def __init__(
        self,
        root: Path,
        index: ProjectIndex,
        embed: Embed,
        model: str,
        secret_names: Iterable[str] = (),
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.files = ProjectFiles(root, secret_names)
        self.index = index
        self.embed = embed
        self.model = model
        self.on_progress = on_progress or (lambda _progress: None)
        self.resumed = asyncio.Event()
        self.resumed.set()

    def pause(self) -> None:
        """Stop before the next batch (the one being embedded finishes)."""
        self.resumed.clear()

    def resume(self) -> None:
        self.resumed.set()

    async def run(self, only: Iterable[Path] | None = None) -> Progress:
        """Index what changed: every file (``only`` None), or only those paths (a
        watcher's changes: each may be new, edited or deleted)."""
        progress = Progress()
        if self.index.meta("model") != self.model:  # vectors of another model: start over
            await asyncio.to_thread(self.index.remove_files, list(self.index.files()))
            await asyncio.to_thread(self.index.set_meta, "model", self.model)
            only = None
        known, changed, gone, skipped = await asyncio.to_thread(self._changes, only)
        progress.files_total, progress.skipped = len(changed), skipped
        await asyncio.to_thread(self.index.set_skipped, skipped, only is None)
        if gone:
            await asyncio.to_thread(self.index.remove_files, gone)
            progress.removed = len(gone)
        self.on_progress(progress)
        batch: list[_Pending] = []
        for path in changed:
            progress.current = self.files.relative(path)
            pending = await asyncio.to_thread(self._read, path, known, progress)
            if pending is None:
                progress.files_done += 1
                continue
            batch.append(pending)
            if sum(len(p.chunks) for p in batch) >= BATCH:
                await self._flush(batch, progress)
                batch = []
        await self._flush(batch, progress)
        progress.current = ""
        self.on_progress(progress)
        return progress

    def _changes(
        self, only: Iterable[Path] | None
    ) -> tuple[dict[str, FileState], list[Path], list[str], list[Skipped]]:
        """What the index holds, the files to read again, the indexed paths that are gone,
        what is skipped."""
        known = self.index.files()
        read_skips = self.index.read_skips()
        changed, skipped, present = [], [], set()
        if only is None:
            candidates = list(self.files.walk())
        else:
            candidates = []
            for path in only:
                inside = path.resolve()
                if inside.is_file() and not inside.is_symlink() and not self._ignored(inside):
                    candidates.append((inside, self.files.check(inside)))
        for path, why in candidates:
            if why is not None:
                skipped.append(why)
                continue
            relative = self.files.relative(path)
            present.add(relative)
            stat = path.stat()
            now = (stat.st_mtime_ns, stat.st_size)
            if read_skips.get(relative) == now:
                continue  # found binary or generated, and unchanged since
            state = known.get(relative)
            if state is None or (state.mtime_ns, state.size) != now:
                changed.append(path)
        tracked = [*known, *read_skips]
        if only is None:
            gone = [p for p in tracked if p not in present]
        else:
            asked = {self._relative_or_none(p) for p in only} - {None}
            gone = [p for p in tracked if p in asked and p not in present]
        return known, changed, [str(p) for p in gone], skipped

    def _ignored(self, path: Path) -> bool:
        """Whether a path a watcher saw is outside what is indexed (.gitignore, .git...)."""
        try:
            parts = path.relative_to(self.files.root).parts
        except ValueError:  # outside the project
            return True
        return any(part in ALWAYS_SKIPPED_DIRS for part in parts) or self.files.ignored(path)

    def _relative_or_none(self, path: Path) -> str | None:
        try:
            return self.files.relative(path.resolve())
        except ValueError:
            return None

    def _read(self, path: Path, known: dict[str, FileState], progress: Progress) -> _Pending | None:
        """A changed file read and chunked (None: unchanged after all, or not text);
        ``known``: what the index held when the run began."""
        relative = self.files.relative(path)
        stat = path.stat()
        text, why = self.files.read(path)
        if why is not None or text is None:
            why = why or Skipped(relative, "unreadable")
            progress.skipped.append(why)
            self.index.skip_read(why, stat.st_mtime_ns, stat.st_size)
            return None
        state = FileState(stat.st_mtime_ns, stat.st_size, hashlib.sha256(text.encode()).hexdigest())
        before = known.get(relative)
        if before is not None and before.digest == state.digest:
            self.index.touch_file(relative, state)
            return None
        return _Pending(relative, state, chunk(relative, text))

    async def _flush(self, batch: list[_Pending], progress: Progress) -> None:
        """Embed the batch's chunks, then write each of its files."""
        if not batch:
            return
        await self.resumed.wait()
        pieces = [piece for pending in batch for piece in pending.chunks]
        vectors: list[list[float]] = []
        for start in range(0, len(pieces), BATCH):
            texts = [embedding_text(piece) for piece in pieces[start : start + BATCH]]
            vectors += await self.embed(texts)
        at = 0
        for pending in batch:
            count = len(pending.chunks)
            matrix = np.asarray(vectors[at : at + count], dtype=np.float32)  # (none: empty)
            at += count
            await asyncio.to_thread(
                self.index.replace_file, pending.path, pending.state, pending.chunks, matrix
            )
            progress.files_done += 1
            progress.chunks += count
        self.on_progress(progress)
