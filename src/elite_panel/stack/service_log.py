"""The output of one service: a rotating log file plus an in-memory tail clients can follow."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.handlers
from collections import deque
from collections.abc import Iterable
from pathlib import Path

from elite_panel.core.redaction import Redactor

# Until a profile's [logging] says otherwise (its defaults are these; a test keeps them so).
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 3
TAIL_LINES = 2000


def rotate(handler: logging.handlers.RotatingFileHandler, max_mb: int, keep: int) -> None:
    """Make ``handler`` rotate at ``max_mb`` MB, keeping ``keep`` older files."""
    handler.maxBytes = max_mb * 1024 * 1024
    handler.backupCount = keep


class ServiceLog:
    """Collects a service's lines: to ``<logs>/<name>.log`` (rotated: 10 MB x 3 unless the
    profile's ``[logging]`` says otherwise) and to a tail.

    Secret values handed to :meth:`set_secrets` are replaced before a line is stored
    anywhere, so a token echoed by a child never reaches a file or a client.
    """

    def __init__(self, name: str, logs_dir: Path, tail_lines: int = TAIL_LINES) -> None:
        self.name = name
        self.path = logs_dir / f"{name}.log"
        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._followers: set[asyncio.Queue[str]] = set()
        self._redact = Redactor()
        logs_dir.mkdir(parents=True, exist_ok=True)
        self._file = logging.handlers.RotatingFileHandler(
            self.path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
        self._file.setFormatter(logging.Formatter("%(message)s"))

    def rotate(self, max_mb: int, keep: int) -> None:
        rotate(self._file, max_mb, keep)

    def set_secrets(self, secrets: Iterable[str]) -> None:
        self._redact = Redactor(secrets)

    def write(self, line: str) -> None:
        line = self._redact(line)
        self._tail.append(line)
        self._file.emit(logging.makeLogRecord({"msg": line, "args": None}))
        for queue in self._followers:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(line)

    def tail(self, lines: int) -> list[str]:
        if lines <= 0:
            return []
        return list(self._tail)[-lines:]

    def follow(self) -> asyncio.Queue[str]:
        """A queue receiving every new line until :meth:`unfollow`; slow readers lose lines."""
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=10_000)
        self._followers.add(queue)
        return queue

    def unfollow(self, queue: asyncio.Queue[str]) -> None:
        self._followers.discard(queue)

    async def pump(self, stream: asyncio.StreamReader) -> None:
        """Copy a child's output into the log until it closes."""
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line longer than the reader's limit
                raw = await stream.read(1 << 16)
            if not raw:
                return
            self.write(raw.decode("utf-8", "replace").rstrip("\r\n"))

    def close(self) -> None:
        self._file.close()


def read_log_file(path: Path, lines: int) -> list[str]:
    """The last ``lines`` lines of a log file (for when no supervisor is running)."""
    if not path.exists() or lines <= 0:
        return []
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        chunk = min(size, max(64 * 1024, lines * 512))
        fh.seek(size - chunk)
        data = fh.read().decode("utf-8", "replace")
    return data.splitlines()[-lines:]
