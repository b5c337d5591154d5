"""A folder of backup archives: each written whole or not at all, listed, verified, pruned.

One archive per backup, ``elite-backup-YYYYmmdd-HHMMSS.tar.zst``, written to a hidden
temporary name in the folder, fsynced, then renamed: a crash or a full disk never leaves
something that looks like a backup. A lock file stops a second backup meanwhile.
``index.json`` beside the archives remembers what each holds and when it was last verified,
so that the list does not have to read every archive. Blocking: callers run it in a thread.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from embedded_server.backups import BackupFailed, retention
from embedded_server.backups.archive import Progress, Source, read_archive, write_archive
from embedded_server.backups.files import fsync_dir, write_atomic
from embedded_server.backups.manifest import ArchiveInvalid, Manifest

PREFIX, SUFFIX = "elite-backup-", ".tar.zst"
STAMP = "%Y%m%d-%H%M%S"
# What goes into an archive: given a staging folder and the backup's time, its files and
# its manifest (whose members the writing fills in).
Contents = Callable[[Path, datetime], tuple[list[Source], Manifest]]


@dataclass(frozen=True)
class BackupInfo:
    """One archive in the backup folder, with what its index says of it."""

    path: Path
    created: datetime
    size: int
    summary: dict[str, Any]  # from the index: contents, verified (time or None), error

    @property
    def name(self) -> str:
        return self.path.name

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "created": self.created.isoformat(),
            "size": self.size,
            **self.summary,
        }


class ArchiveFolder:
    """The archives of one backups folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def create(self, contents: Contents, progress: Progress | None = None) -> BackupInfo:
        """Write a new archive of ``contents``; raises BackupFailed (a full disk said so)."""
        folder = self.folder
        with self._lock():
            created, target = self._new_name()
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
            partial = folder / f".{target.name}.partial"
            try:
                sources, manifest = contents(staging, created)
                # 0600 whatever the umask: an archive holds every conversation
                descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.fchmod(descriptor, 0o600)
                with os.fdopen(descriptor, "wb") as out:
                    write_archive(out, sources, manifest, progress)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(partial, target)
                fsync_dir(folder)
            except (OSError, sqlite3.Error) as exc:
                full = getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT)
                if full or "disk is full" in str(exc):  # SQLite's words for ENOSPC
                    raise BackupFailed(
                        f"no space left in {folder}: the backup was not written "
                        "(older backups are intact)"
                    ) from exc
                raise BackupFailed(f"the backup failed: {exc}") from exc
            finally:
                partial.unlink(missing_ok=True)
                shutil.rmtree(staging, ignore_errors=True)
            self._remember(target.name, summary(manifest, verified=created))
        return self.info(target)

    def _new_name(self) -> tuple[datetime, Path]:
        """The archive's name from the time, to the second: a second backup within the
        same second waits for the next one (under the lock) rather than change the name."""
        while True:
            created = datetime.now(UTC)
            name = f"{PREFIX}{created.astimezone().strftime(STAMP)}{SUFFIX}"
            if not (self.folder / name).exists():
                return created, self.folder / name
            time.sleep(1.0 - created.microsecond / 1e6)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / ".elite-backup.lock").open("w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BackupFailed("a backup is already running: wait for it to finish") from None
            yield

    def backups(self) -> list[BackupInfo]:
        """The archives, newest first."""
        if not self.folder.is_dir():
            return []
        paths = sorted(self.folder.glob(f"{PREFIX}*{SUFFIX}"), reverse=True)
        index = self._index()  # read once for the whole list
        return [_info(p, index) for p in paths]

    def info(self, path: Path) -> BackupInfo:
        return _info(path, ArchiveFolder(path.parent)._index())

    def verify(
        self, path: Path, progress: Progress | None = None, extract_to: Path | None = None
    ) -> Manifest:
        """Read every member of ``path`` against its manifest (writing them under
        ``extract_to`` when given, in the same read); raises ArchiveInvalid."""
        at = ArchiveFolder(path.parent)
        try:
            manifest = read_archive(path, extract_to=extract_to, progress=progress)
        except ArchiveInvalid as exc:
            at._remember(path.name, {"verified": None, "error": str(exc)})
            raise
        at._remember(path.name, summary(manifest, datetime.now(UTC)))
        return manifest

    def prune(self, keep_last: int, keep_daily: int) -> list[Path]:
        """Delete what the retention policy does not keep; returns what went."""
        backups = self.backups()
        doomed = retention.to_forget([b.created for b in backups], keep_last, keep_daily)
        removed = [backups[i].path for i in sorted(doomed)]
        for path in removed:
            self.delete(path)
        return removed

    def delete(self, path: Path) -> None:
        if not is_archive_name(path.name):
            raise BackupFailed(f"{path} is not a backup archive")
        path.unlink()
        at = ArchiveFolder(path.parent)
        index = at._index()
        if index.pop(path.name, None) is not None:
            write_atomic(path.parent / "index.json", json.dumps(index, indent=2) + "\n")

    def _index(self) -> dict[str, Any]:
        try:
            data = json.loads((self.folder / "index.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _remember(self, name: str, facts: dict[str, Any]) -> None:
        index = self._index()
        index[name] = {**index.get(name, {}), **facts}
        with contextlib.suppress(OSError):  # the index is a cache: never fail for it
            write_atomic(self.folder / "index.json", json.dumps(index, indent=2) + "\n")


def _info(path: Path, index: dict[str, Any]) -> BackupInfo:
    return BackupInfo(path, _created(path), path.stat().st_size, index.get(path.name, {}))


def summary(manifest: Manifest, verified: datetime) -> dict[str, Any]:
    """What the index keeps of an archive."""
    return {
        "verified": verified.isoformat(),
        "error": None,
        "conversations": manifest.database.get("conversations"),
        "messages": manifest.database.get("messages"),
        "profiles": sorted(n for n in manifest.members if n.startswith("config/profiles/")),
        "include_logs": manifest.include_logs,
        "secret_names": manifest.secret_names,
        "reason": manifest.reason,
    }


def is_archive_name(name: str) -> bool:
    """Whether ``name`` is one we give archives (a name alone, no folder in it)."""
    return "/" not in name and name.startswith(PREFIX) and name.endswith(SUFFIX)


def created_from_name(name: str) -> datetime | None:
    """When an archive was made, from its name (None: not a name we gave)."""
    stamp = name.removeprefix(PREFIX).removesuffix(SUFFIX)
    try:
        return datetime.strptime(stamp, STAMP).astimezone()
    except ValueError:
        return None


def _created(path: Path) -> datetime:
    return created_from_name(path.name) or datetime.fromtimestamp(path.stat().st_mtime).astimezone()
