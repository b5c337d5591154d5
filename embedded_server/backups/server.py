"""The server's own backups (``elite-assistant-server backup``): its database, SQLite by the
online backup API or PostgreSQL by ``pg_dump``, in the archive format the panel uses
(manifest, SHA-256 of every member, verified before anything is restored)."""

from __future__ import annotations

import os
import platform
import tempfile
from datetime import datetime
from pathlib import Path

from embedded_server import __version__
from embedded_server.backups import BackupFailed
from embedded_server.backups.archive import Source
from embedded_server.backups.folder import ArchiveFolder, BackupInfo
from embedded_server.backups.manifest import Manifest
from embedded_server.backups.snapshot import Database, check_sqlite, pg_restore, snapshot


class ServerBackups:
    """Backups of one server's database into one folder."""

    def __init__(self, database_url: str, folder: Path) -> None:
        self.database = Database(database_url)
        self.archives = ArchiveFolder(folder)

    def create(self, reason: str = "manual") -> BackupInfo:
        def contents(staging: Path, created: datetime) -> tuple[list[Source], Manifest]:
            copy = staging / "database"
            figures = snapshot(self.database, copy)
            sources = [Source(self.database.member, copy)] if copy.exists() else []
            schema = figures.get("schema")
            manifest = Manifest(
                app_version=__version__,
                schema_version=str(schema) if schema else None,
                host=platform.node(),
                created=created.isoformat(),
                database={"file": self.database.member, **figures},
                include_logs=False,
                secret_names=[],
                models=0,
                reason=reason,
            )
            return sources, manifest

        return self.archives.create(contents)

    def restore(self, archive: Path) -> BackupInfo:
        """Verify ``archive`` (staging its members in the same read), back up the database
        as it is now, then put the archive's in its place; returns that safety backup. A
        failure leaves the database as it was."""
        with tempfile.TemporaryDirectory(prefix=".restore-", dir=archive.parent) as tmp:
            staged = Path(tmp)
            manifest = self.archives.verify(archive, extract_to=staged)
            member = manifest.database.get("file")
            if member != self.database.member:
                raise BackupFailed(
                    f"{archive.name} holds a {manifest.database.get('kind')} database; this "
                    f"server uses {self.database.kind}: restore it where it was made"
                )
            safety = self.create(reason=f"before restoring {archive.name}")
            if self.database.kind == "postgresql":
                pg_restore(self.database.url, staged / member)  # one transaction
            else:
                self._replace_sqlite(staged / member)
        return safety

    def _replace_sqlite(self, incoming: Path) -> None:
        problem = check_sqlite(incoming)
        if problem:
            raise BackupFailed(problem)
        live = self.database.sqlite_path
        live.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("-wal", "-shm"):  # the old file's journal must not meet the new one
            Path(f"{live}{suffix}").unlink(missing_ok=True)
        os.replace(incoming, live)
