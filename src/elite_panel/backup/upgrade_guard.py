"""The version that last started this home's stack: a verified backup before the first start
of a newer version (whose server may migrate the database forward), and no start by an
older version (which would not know the newer data).

The version is kept in ``<state>/version``, written once the stack's start goes ahead. A
home without that file (new, or last started before versions were kept) starts as it is.
"""

from __future__ import annotations

import asyncio
import logging
import re

from elite_panel import __version__
from elite_panel.core.errors import StackError
from elite_panel.core.paths import AppPaths
from elite_panel.core.profiles import Profile
from embedded_server.backups.files import write_atomic

log = logging.getLogger(__name__)


def version_key(version: str) -> tuple[int, ...]:
    """``"0.10.2"`` → ``(0, 10, 2)``: numeric parts compare as numbers."""
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def last_version(paths: AppPaths) -> str | None:
    try:
        return (paths.state / "version").read_text(encoding="utf-8").strip() or None
    except (FileNotFoundError, UnicodeDecodeError):
        return None


async def before_start(paths: AppPaths, profile: Profile, version: str = __version__) -> None:
    """Back up before the first start of a newer version; refuse an older one.

    Raises:
        StackError: this version is older than the home's, or the backup failed (the stack
            is then not started, so nothing migrates without a backup).
    """
    last = last_version(paths)
    if last is not None and last != version:
        if version_key(last) > version_key(version):
            raise StackError(
                f"this home was last used by version {last}, newer than this one ({version}): "
                f"its data may be in a newer format. Install {last} again, or restore a "
                f"backup made by {version} or earlier (`elite-panel backup list`)"
            )
        from elite_panel.backup.service import BackupService

        reason = f"before upgrading from {last} to {version}"
        try:
            info = await asyncio.to_thread(
                BackupService(paths, profile).create, reason=reason, prune=False
            )
        except Exception as exc:
            raise StackError(
                f"the backup {reason} failed, so the stack was not started (nothing was "
                f"migrated): {exc}"
            ) from exc
        log.info("backed up %s: %s", reason, info.path)
    if last != version:
        write_atomic(paths.state / "version", version + "\n")
