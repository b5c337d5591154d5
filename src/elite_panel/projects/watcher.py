"""Following a project's folder: files saved, added or deleted are indexed again within
a second or two (watchfiles: inotify on Linux, FSEvents on macOS, a poll elsewhere).

The watch runs in a worker thread of the event loop's executor and hands each batch of
changes to the loop; cancelling :func:`follow` stops the thread within
:data:`STOP_WITHIN_MS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from pathlib import Path

import watchfiles

from elite_panel.core.errors import EliteError
from elite_panel.projects.indexer import Indexer

log = logging.getLogger(__name__)
SETTLE_MS = 300  # an editor's save is often several writes: wait until they settle
STOP_WITHIN_MS = 500


async def follow(indexer: Indexer) -> None:
    """Index each batch of changes under the project's root until cancelled; a failed
    batch is logged and the next one tried (the assistant may be down for a while)."""
    root = indexer.files.root
    loop = asyncio.get_running_loop()
    batches: asyncio.Queue[set[Path]] = asyncio.Queue()
    stop = threading.Event()

    def hand_over(paths: set[Path]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(batches.put_nowait, paths)

    def watch() -> None:
        changes = watchfiles.watch(
            root, debounce=SETTLE_MS, step=50, stop_event=stop, rust_timeout=STOP_WITHIN_MS
        )
        for batch in changes:
            hand_over({Path(path) for _change, path in batch})

    watching = loop.run_in_executor(None, watch)
    try:
        while True:
            paths = await batches.get()
            try:
                progress = await indexer.run(only=paths)
            except EliteError as exc:
                log.warning("%s: %d changed files not indexed: %s", root, len(paths), exc)
                continue
            log.info(
                "%s: %d files indexed again, %d removed",
                root,
                progress.files_done,
                progress.removed,
            )
    finally:
        stop.set()
        watching.cancel()  # (the thread ends on its own within STOP_WITHIN_MS)
