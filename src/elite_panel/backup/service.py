"""Back up, list, verify, prune and delete: the operations behind the Backups page, the
``backup`` commands and the supervisor's schedule. Blocking: callers run it in a thread.

One archive per backup, ``elite-backup-YYYYmmdd-HHMMSS.tar.zst``, written to a hidden
temporary name in the backups folder, fsynced, then renamed: a crash or a full disk never
leaves something that looks like a backup. A lock file stops a second backup meanwhile.
``index.json`` beside the archives remembers what each holds and when it was last verified,
so that the list does not have to read every archive.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import platform
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from elite_panel import __version__
from elite_panel.backup import retention
from elite_panel.backup.archive import Progress, Source, read_archive, write_archive
from elite_panel.backup.manifest import ArchiveInvalid, Manifest
from elite_panel.backup.snapshot import Database, snapshot
from elite_panel.core.atomic import fsync_dir, write_atomic
from elite_panel.core.errors import EliteError
from elite_panel.core.paths import AppPaths
from elite_panel.core.profiles import Profile

PREFIX, SUFFIX = "elite-backup-", ".tar.zst"
STAMP = "%Y%m%d-%H%M%S"


class BackupError(EliteError):
    """A backup could not be made, or the operation was refused."""


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


class BackupService:
    """Backups of one installation: create, list, verify, prune."""

    def __init__(
        self, paths: AppPaths, profile: Profile, environ: Mapping[str, str] | None = None
    ) -> None:
        self.paths = paths
        self.profile = profile
        self.environ = os.environ if environ is None else environ
        folder = profile.backups.folder
        self.folder = Path(folder).expanduser() if folder else paths.data / "backups"
        self.database = Database(paths.database_url(self.environ))

    # -- create -------------------------------------------------------------------------

    def create(
        self,
        include_logs: bool | None = None,
        to: Path | None = None,
        progress: Progress | None = None,
        reason: str = "manual",
        prune: bool = True,
    ) -> BackupInfo:
        folder = to or self.folder
        logs = self.profile.backups.include_logs if include_logs is None else include_logs
        folder.mkdir(parents=True, exist_ok=True)
        with self._lock(folder):
            created, target = self._new_name(folder)
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
            partial = folder / f".{target.name}.partial"
            try:
                manifest = self._write(staging, partial, created, logs, reason, progress)
                os.replace(partial, target)
                fsync_dir(folder)
            except (OSError, sqlite3.Error) as exc:
                full = getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT)
                if full or "disk is full" in str(exc):  # SQLite's words for ENOSPC
                    raise BackupError(
                        f"no space left in {folder}: the backup was not written "
                        "(older backups are intact)"
                    ) from exc
                raise BackupError(f"the backup failed: {exc}") from exc
            finally:
                partial.unlink(missing_ok=True)
                shutil.rmtree(staging, ignore_errors=True)
            self._remember(folder, target.name, _summary(manifest, verified=created))
        if prune and to is None:
            self.prune()
        return self.info(target)

    def _new_name(self, folder: Path) -> tuple[datetime, Path]:
        """The archive's name from the time, to the second: a second backup within the
        same second waits for the next one (under the lock) rather than change the name."""
        while True:
            created = datetime.now(UTC)
            target = folder / f"{PREFIX}{created.astimezone().strftime(STAMP)}{SUFFIX}"
            if not target.exists():
                return created, target
            time.sleep(1.0 - created.microsecond / 1e6)

    def _write(
        self,
        staging: Path,
        partial: Path,
        created: datetime,
        include_logs: bool,
        reason: str,
        progress: Progress | None,
    ) -> Manifest:
        db_copy = staging / "database"
        figures = snapshot(self.database, db_copy)
        models = self._models()
        (staging / "models.json").write_text(json.dumps(models, indent=2) + "\n")
        sources = [Source("models.json", staging / "models.json")]
        if db_copy.exists():
            sources.append(Source(self.database.member, db_copy))
        sources += [Source(f"config/{p.name}", p) for p in self._config_files()]
        sources += [Source(f"config/profiles/{p.name}", p) for p in self._profiles()]
        if include_logs:
            sources += [Source(f"logs/{p.name}", p) for p in self._logs()]
        manifest = Manifest(
            app_version=__version__,
            schema_version=str(figures.get("schema")) if figures.get("schema") else None,
            host=platform.node(),
            created=created.isoformat(),
            database={"file": self.database.member, **figures},
            include_logs=include_logs,
            secret_names=self._secret_names(),
            models=len(models),
            reason=reason,
        )
        with partial.open("wb") as out:
            write_archive(out, sources, manifest, progress)
            out.flush()
            os.fsync(out.fileno())
        return manifest

    def _profiles(self) -> list[Path]:
        return sorted(self.paths.profiles.glob("*.toml"))

    def _config_files(self) -> list[Path]:
        names = ("active_profile", "secret_names.json")
        return [self.paths.config / n for n in names if (self.paths.config / n).is_file()]

    def _logs(self) -> list[Path]:
        return sorted(p for p in self.paths.logs.glob("*.log*") if p.is_file())

    def _secret_names(self) -> list[str]:
        """Names of the secrets set now (never a value), so a restore can list what to
        re-enter; a keyring that fails leaves the custom names we know of."""
        from elite_panel.core.secret_store import SecretStore

        store = SecretStore(self.paths, self.environ)
        try:
            return store.names_set()
        except EliteError:
            return store.custom_names()

    def _models(self) -> list[dict[str, Any]]:
        """Names, digests and sizes of the runner's models (never the weights)."""
        from elite_panel.core.builtin_runner import bundled_model_path

        models: list[dict[str, Any]] = []
        port = self.profile.runner.port_for(self.profile.runner.kind)
        url = self.profile.runner.url or f"http://127.0.0.1:{port}"
        with contextlib.suppress(httpx.HTTPError, ValueError):
            tags = httpx.get(f"{url}/api/tags", timeout=2, trust_env=False).json()
            for m in tags.get("models", []):
                models.append(
                    {"name": m.get("name"), "digest": m.get("digest"), "size": m.get("size")}
                )
        for gguf in [bundled_model_path(), *sorted((self.paths.data / "models").glob("*.gguf"))]:
            if gguf is not None and gguf.is_file():
                models.append({"name": gguf.stem, "file": gguf.name, "size": gguf.stat().st_size})
        return models

    @contextlib.contextmanager
    def _lock(self, folder: Path) -> Iterator[None]:
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / ".elite-backup.lock").open("w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BackupError("a backup is already running: wait for it to finish") from None
            yield

    # -- list, verify, prune, delete ----------------------------------------------------

    def backups(self) -> list[BackupInfo]:
        if not self.folder.is_dir():
            return []
        paths = sorted(self.folder.glob(f"{PREFIX}*{SUFFIX}"), reverse=True)
        index = self._index(self.folder)  # read once for the whole list
        return [_info(p, index) for p in paths]

    def info(self, path: Path) -> BackupInfo:
        return _info(path, self._index(path.parent))

    def verify(self, path: Path, progress: Progress | None = None) -> Manifest:
        try:
            manifest = read_archive(path, progress=progress)
        except ArchiveInvalid as exc:
            self._remember(path.parent, path.name, {"verified": None, "error": str(exc)})
            raise
        self._remember(path.parent, path.name, _summary(manifest, datetime.now(UTC)))
        return manifest

    def prune(self, keep_last: int | None = None, keep_daily: int | None = None) -> list[Path]:
        settings = self.profile.backups
        last = settings.keep_last if keep_last is None else keep_last
        daily = settings.keep_daily if keep_daily is None else keep_daily
        backups = self.backups()
        doomed = retention.to_forget([b.created for b in backups], last, daily)
        removed = [backups[i].path for i in sorted(doomed)]
        for path in removed:
            self.delete(path)
        return removed

    def delete(self, path: Path) -> None:
        if not (path.name.startswith(PREFIX) and path.name.endswith(SUFFIX)):
            raise BackupError(f"{path} is not a backup archive")
        path.unlink()
        index = self._index(path.parent)
        if index.pop(path.name, None) is not None:
            write_atomic(path.parent / "index.json", json.dumps(index, indent=2) + "\n")

    def _index(self, folder: Path) -> dict[str, Any]:
        try:
            data = json.loads((folder / "index.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _remember(self, folder: Path, name: str, summary: dict[str, Any]) -> None:
        index = self._index(folder)
        index[name] = {**index.get(name, {}), **summary}
        with contextlib.suppress(OSError):  # the index is a cache: never fail for it
            write_atomic(folder / "index.json", json.dumps(index, indent=2) + "\n")


def _info(path: Path, index: dict[str, Any]) -> BackupInfo:
    return BackupInfo(path, _created(path), path.stat().st_size, index.get(path.name, {}))


def _summary(manifest: Manifest, verified: datetime) -> dict[str, Any]:
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


def _created(path: Path) -> datetime:
    stamp = path.name.removeprefix(PREFIX).removesuffix(SUFFIX)
    try:
        return datetime.strptime(stamp, STAMP).astimezone()
    except ValueError:
        return datetime.fromtimestamp(path.stat().st_mtime).astimezone()
