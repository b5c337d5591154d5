"""Restore: never leaves the user with less than they had.

1. Verify every checksum while extracting into a staging folder (nothing live is touched;
   absolute paths, ``..``, links, devices and members not in the manifest are refused).
2. Say what will change (the dry run stops here).
3. Take a safety backup of the current state.
4. Stop the services the restore affects (the assistant server holds the database).
5. Swap each restored item in with a rename, keeping the current one aside.
6. Check that the database opens and passes ``PRAGMA integrity_check``.
7. Start the stopped services again.

If a step from 5 on fails, every item is put back as it was and the message says which
step failed; the safety backup stays in the backups folder either way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from elite_panel.backup.service import BackupError, BackupInfo, BackupService, as_backup_error
from elite_panel.core.profile_store import ProfileStore, diff, services_to_restart
from elite_panel.core.profiles import load_profile
from embedded_server.backups.archive import Progress, read_archive
from embedded_server.backups.manifest import Manifest
from embedded_server.backups.snapshot import check_sqlite, counts, pg_restore

StopServices = Callable[[list[str]], list[str]]  # stops them; returns those that ran
StartServices = Callable[[list[str]], None]


@dataclass
class RestorePlan:
    """What a restore would change, said before anything changes."""

    archive: Path
    manifest: Manifest
    database: str
    profiles: dict[str, str]  # name → added, changed, removed, unchanged
    secrets_to_enter: list[str]
    services: list[str]
    staging: Path = field(repr=False)

    def summary(self) -> str:
        lines = [
            f"Restore {self.archive.name} (made {self.manifest.created} on {self.manifest.host}):",
            f"  database: {self.database}",
        ]
        for name, change in sorted(self.profiles.items()):
            lines.append(f"  profile {name}: {change}")
        if self.secrets_to_enter:
            lines.append(
                "  secrets to enter again if they are not in this keyring: "
                + ", ".join(self.secrets_to_enter)
            )
        lines.append(
            f"  services stopped and started again (when running): {', '.join(self.services)}"
            if self.services
            else "  no service needs a restart"
        )
        lines.append("  a safety backup of the current state is taken first")
        return "\n".join(lines)


class Restorer:
    """Restores an archive: verify, stage, safety backup, swap, check, or put back."""

    def __init__(self, service: BackupService) -> None:
        self.service = service
        self.paths = service.paths

    def plan(self, archive: Path, progress: Progress | None = None) -> RestorePlan:
        """Verify and stage ``archive``; raises BackupError with nothing changed."""
        staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=self.paths.data))
        try:
            with as_backup_error():
                manifest = read_archive(archive, extract_to=staging, progress=progress)
            return RestorePlan(
                archive,
                manifest,
                self._database_change(manifest, staging),
                self._profile_changes(staging),
                self._secrets_missing(manifest),
                self._affected(staging),
                staging,
            )
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def discard(self, plan: RestorePlan) -> None:
        shutil.rmtree(plan.staging, ignore_errors=True)

    def apply(self, plan: RestorePlan, stop: StopServices, start: StartServices) -> BackupInfo:
        """Steps 3 to 7; returns the safety backup."""
        try:
            safety = self.service.create(
                reason=f"before restoring {plan.archive.name}", prune=False
            )
            stopped = stop(plan.services)
            try:
                self._swap(plan)
            finally:
                start(stopped)
            return safety
        finally:
            self.discard(plan)

    # -- the swap -----------------------------------------------------------------------

    def _items(self, plan: RestorePlan) -> list[tuple[Path, Path]]:
        """(live path, staged path) of every file-like item a restore replaces."""
        config = self.paths.config
        items = [
            (self.paths.profiles, plan.staging / "config" / "profiles"),
            (config / "active_profile", plan.staging / "config" / "active_profile"),
            (config / "secret_names.json", plan.staging / "config" / "secret_names.json"),
        ]
        if (plan.staging / "config" / "projects.json").exists():  # (older archives: none)
            items += [
                (config / "projects.json", plan.staging / "config" / "projects.json"),
                (self.paths.data / "projects", plan.staging / "projects"),
            ]
        database = self.service.database
        if database.kind == "sqlite" and _has_database(plan.manifest):
            live = database.sqlite_path
            items.append((live, plan.staging / database.member))
            for suffix in ("-wal", "-shm"):  # they belong to the database being replaced
                items.append((live.with_name(live.name + suffix), plan.staging / "none"))
        return items

    def _swap(self, plan: RestorePlan) -> None:
        done: list[tuple[Path, Path | None]] = []  # (live, where the old one went)
        step = "swapping the files in"
        try:
            for live, staged in self._items(plan):
                live.parent.mkdir(parents=True, exist_ok=True)
                incoming = None
                if staged.exists():  # beside the target first: the swap is then a rename
                    incoming = live.with_name(f".{live.name}.restoring")
                    _remove(incoming)
                    shutil.move(staged, incoming)
                aside = None
                if live.exists():
                    aside = live.with_name(f".{live.name}.before-restore")
                    _remove(aside)
                    os.replace(live, aside)
                done.append((live, aside))
                if incoming is not None:
                    os.replace(incoming, live)
            database = self.service.database
            restored = _has_database(plan.manifest)  # (a remote profile's archive has none)
            if restored and database.kind == "sqlite":
                step = "checking the restored database"
                problem = database.sqlite_path.exists() and check_sqlite(database.sqlite_path)
                if problem:
                    raise BackupError(problem)
            elif restored:
                step = "loading the database dump"
                pg_restore(database.url, plan.staging / database.member)
        except BaseException as exc:
            for live, aside in reversed(done):
                _remove(live)
                if aside is not None:
                    os.replace(aside, live)
            raise BackupError(
                f"the restore failed while {step} ({exc}); everything was put back as it was"
            ) from exc
        for _live, aside in done:
            if aside is not None:
                _remove(aside)

    # -- the dry run --------------------------------------------------------------------

    def _database_change(self, manifest: Manifest, staging: Path) -> str:
        new = manifest.database
        if not _has_database(manifest):
            return (
                f"kept as it is (made with the team server {new.get('server')}, whose "
                "conversations are backed up where it runs)"
            )
        theirs = f"{new.get('conversations', 0)} conversations, {new.get('messages', 0)} messages"
        database = self.service.database
        if database.kind != "sqlite":
            return f"{database.kind}: replaced by the archive's ({theirs})"
        ours = "no database"
        if database.sqlite_path.exists():
            import sqlite3

            with contextlib.closing(
                sqlite3.connect(f"file:{database.sqlite_path}?mode=ro", uri=True)
            ) as connection:
                now = counts(connection)
            ours = f"{now['conversations']} conversations, {now['messages']} messages"
        return f"{ours} now → {theirs} from the archive"

    def _profile_changes(self, staging: Path) -> dict[str, str]:
        ours = {p.stem: p.read_text("utf-8") for p in self.paths.profiles.glob("*.toml")}
        folder = staging / "config" / "profiles"
        theirs = {p.stem: p.read_text("utf-8") for p in folder.glob("*.toml")}
        out = {}
        for name in ours.keys() | theirs.keys():
            if name not in ours:
                out[name] = "added"
            elif name not in theirs:
                out[name] = "removed"
            else:
                out[name] = "unchanged" if ours[name] == theirs[name] else "changed"
        return out

    def _secrets_missing(self, manifest: Manifest) -> list[str]:
        from elite_panel.core.secret_store import SecretStore

        store = SecretStore(self.paths, self.service.environ)
        try:
            present = set(store.names_set())
        except Exception:  # a failing keyring must never fail a restore: ask for them all
            return list(manifest.secret_names)
        return [n for n in manifest.secret_names if n not in present]

    def _affected(self, staging: Path) -> list[str]:
        """The assistant server (it holds the database), and the runner too when the
        active profile's changes need it."""
        active = ProfileStore(self.paths, self.service.environ).active()
        restored = staging / "config" / "profiles" / f"{active}.toml"
        services = {"assistant"}
        with contextlib.suppress(Exception):
            now = load_profile(self.paths, active, self.service.environ)
            if restored.exists():
                from elite_panel.core.profiles import validate_text

                new = validate_text(restored.read_text("utf-8"), restored, self.service.environ)
                services |= set(services_to_restart(diff(now, new)))
        return [s for s in ("runner", "assistant") if s in services]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _has_database(manifest: Manifest) -> bool:
    """Whether the archive holds a database (not one made with a remote profile)."""
    return manifest.database.get("kind") != "remote"
