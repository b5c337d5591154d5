"""Following a project's folder: files saved, added or deleted are indexed again within
a second or two (watchfiles: inotify on Linux, FSEvents on macOS, a poll elsewhere)."""

from __future__ import annotations

import logging
from pathlib import Path

import watchfiles

from elite_panel.core.errors import EliteError
from elite_panel.projects.indexer import Indexer

log = logging.getLogger(__name__)
SETTLE_MS = 300  # an editor's save is often several writes: wait until they settle


async def follow(indexer: Indexer) -> None:
    """Index each batch of changes under the project's root until cancelled; a failed
    batch is logged and the next one tried (the assistant may be down for a while)."""
    root = indexer.files.root
    async for changes in watchfiles.awatch(root, debounce=SETTLE_MS, step=50):
        paths = {Path(path) for _change, path in changes}
        try:
            progress = await indexer.run(only=paths)
        except EliteError as exc:
            log.warning("%s: %d changed files not indexed: %s", root, len(paths), exc)
            continue
        log.info(
            "%s: %d files indexed again, %d removed", root, progress.files_done, progress.removed
        )
