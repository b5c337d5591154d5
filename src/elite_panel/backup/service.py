"""Back up, list, verify, prune and delete: the operations behind the Backups page, the
``backup`` commands and the supervisor's schedule. Blocking: callers run it in a thread.

The archives and their folder (atomic writes, the lock, the index, retention) are the
server distribution's (``embedded_server.backups``), shared with ``elite-assistant-server
backup``; this adds what the panel backs up beside the database: profiles, secret names,
the runner's model list and, on request, the logs.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sqlite3
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from elite_panel import __version__
from elite_panel.core.errors import EliteError
from elite_panel.core.paths import AppPaths
from elite_panel.core.profiles import Profile
from embedded_server.backups import BackupFailed
from embedded_server.backups.archive import Progress, Source
from embedded_server.backups.folder import ArchiveFolder, BackupInfo
from embedded_server.backups.manifest import Manifest
from embedded_server.backups.offsite import Bucket, RemoteBackup
from embedded_server.backups.snapshot import Database, snapshot

__all__ = ["BackupError", "BackupInfo", "BackupService", "as_backup_error"]


class BackupError(EliteError):
    """A backup could not be made, or the operation was refused."""


@contextlib.contextmanager
def as_backup_error() -> Iterator[None]:
    """The shared code's failures as the panel's (its commands and pages show EliteError)."""
    try:
        yield
    except BackupFailed as exc:
        raise BackupError(str(exc)) from exc


def backups_folder(paths: AppPaths, profile: Profile) -> Path:
    """Where ``profile``'s backups go: ``backups.folder``, else ``<data>/backups``."""
    folder = profile.backups.folder
    return Path(folder).expanduser() if folder else paths.data / "backups"


class BackupService:
    """Backups of one installation: create, list, verify, prune."""

    def __init__(
        self, paths: AppPaths, profile: Profile, environ: Mapping[str, str] | None = None
    ) -> None:
        self.paths = paths
        self.profile = profile
        self.environ = os.environ if environ is None else environ
        self.folder = backups_folder(paths, profile)
        self.archives = ArchiveFolder(self.folder)
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
        logs = self.profile.backups.include_logs if include_logs is None else include_logs
        archives = ArchiveFolder(to) if to else self.archives

        def contents(staging: Path, created: datetime) -> tuple[list[Source], Manifest]:
            return self._contents(staging, created, logs, reason)

        with as_backup_error():
            made = archives.create(contents, progress)
        if offsite := self.profile.backups.offsite:  # (then pruned there with the rest)
            self.upload(made, offsite, progress)
        if prune and to is None:
            self.prune()
        return made

    def upload(self, made: BackupInfo, url: str, progress: Progress | None = None) -> str:
        """Copy archive ``made`` to the bucket ``url`` and read it back; the local archive
        stays whatever happens there."""
        try:
            return Bucket(url).upload(made.path, progress)
        except BackupFailed as exc:
            raise BackupError(
                f"{made.name} was made here, but its off-site copy failed: {exc}"
            ) from exc

    def remote_backups(self, url: str) -> list[RemoteBackup]:
        """The archives in the bucket ``url``, newest first."""
        with as_backup_error():
            return Bucket(url).backups()

    def fetch(self, url: str, name: str) -> Path:
        """Archive ``name`` of the bucket ``url``, downloaded into the backups folder."""
        with as_backup_error():
            return Bucket(url).download(name, self.folder)

    def _contents(
        self, staging: Path, created: datetime, include_logs: bool, reason: str
    ) -> tuple[list[Source], Manifest]:
        db_copy = staging / "database"
        remote = self.profile.stack.mode == "remote"  # the team's server keeps its own data
        figures = (
            {"kind": "remote", "server": self.profile.remote.url}
            if remote
            else snapshot(self.database, db_copy)
        )
        models = [] if remote else self._models()
        (staging / "models.json").write_text(json.dumps(models, indent=2) + "\n")
        sources = [Source("models.json", staging / "models.json")]
        if db_copy.exists():
            sources.append(Source(self.database.member, db_copy))
        sources += [Source(f"config/{p.name}", p) for p in self._config_files()]
        sources += [Source(f"config/profiles/{p.name}", p) for p in self._profiles()]
        sources += self._project_indexes(staging)
        if include_logs:
            sources += [Source(f"logs/{p.name}", p) for p in self._logs()]
        manifest = Manifest(
            app_version=__version__,
            schema_version=str(figures.get("schema")) if figures.get("schema") else None,
            host=platform.node(),
            created=created.isoformat(),
            database=figures if remote else {"file": self.database.member, **figures},
            include_logs=include_logs,
            secret_names=self._secret_names(),
            models=len(models),
            reason=reason,
        )
        return sources, manifest

    def _project_indexes(self, staging: Path) -> list[Source]:
        """Each project's index, copied whole through SQLite's backup API (an index being
        written meanwhile is copied as one consistent state)."""
        sources = []
        for index in sorted((self.paths.data / "projects").glob("*/index.sqlite")):
            copy = staging / "projects" / index.parent.name / index.name
            copy.parent.mkdir(parents=True, exist_ok=True)
            with (
                contextlib.closing(sqlite3.connect(index)) as live,
                contextlib.closing(sqlite3.connect(copy)) as target,
            ):
                live.backup(target)
            sources.append(Source(f"projects/{index.parent.name}/{index.name}", copy))
        return sources

    def _profiles(self) -> list[Path]:
        return sorted(self.paths.profiles.glob("*.toml"))

    def _config_files(self) -> list[Path]:
        names = ("active_profile", "secret_names.json", "projects.json")
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

    # -- list, verify, prune, delete ----------------------------------------------------

    def backups(self) -> list[BackupInfo]:
        return self.archives.backups()

    def info(self, path: Path) -> BackupInfo:
        return self.archives.info(path)

    def verify(self, path: Path, progress: Progress | None = None) -> Manifest:
        with as_backup_error():
            return self.archives.verify(path, progress)

    def prune(self, keep_last: int | None = None, keep_daily: int | None = None) -> list[Path]:
        settings = self.profile.backups
        last = settings.keep_last if keep_last is None else keep_last
        daily = settings.keep_daily if keep_daily is None else keep_daily
        with as_backup_error():
            removed = self.archives.prune(last, daily)
            if offsite := self.profile.backups.offsite:
                Bucket(offsite).prune(last, daily)
            return removed

    def delete(self, path: Path) -> None:
        with as_backup_error():
            self.archives.delete(path)
