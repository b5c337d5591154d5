"""When the next scheduled backup is due, and the supervisor's loop that makes it.

The schedule runs only while the stack is up (the supervisor is what runs it). A missed
slot (the stack was down at 03:00) is made up once when the stack is next up. Each result
is written to ``<state>/last_backup.json`` (:mod:`elite_panel.backup.status`), which the
panel watches to show it and to notify.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from elite_panel.backup.status import status_file
from elite_panel.core.errors import EliteError
from elite_panel.core.paths import AppPaths
from elite_panel.core.profiles import BackupSettings, Profile
from embedded_server.backups.files import write_atomic

log = logging.getLogger(__name__)
RECHECK_S = 60.0  # a changed schedule is noticed within a minute


def next_due(settings: BackupSettings, last: datetime | None, now: datetime) -> datetime | None:
    """The time the next backup is due (``now`` or earlier: due now); None when off."""
    if settings.schedule == "off":
        return None
    if settings.schedule == "interval":
        return now if last is None else last + timedelta(hours=settings.every_hours)
    hour, minute = (int(x) for x in settings.daily_at.split(":"))
    slot = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if slot > now:
        slot -= timedelta(days=1)  # the most recent slot
    if last is None or last < slot:
        return slot  # that slot has no backup yet: due
    return slot + timedelta(days=1)


async def run_schedule(
    paths: AppPaths,
    profile: Callable[[], Profile | None],
    active: Callable[[], bool],
    changes: asyncio.Queue[Any],
) -> None:
    """The supervisor's loop: back up when due while the stack is up; ``changes`` (the
    supervisor's state changes) wakes it when the stack starts."""
    while True:
        current = profile()
        if current is not None and active() and current.backups.schedule != "off":
            from elite_panel.backup.service import BackupService  # not at rest: schedule off

            service = BackupService(paths, current)
            backups = await asyncio.to_thread(service.backups)
            last = backups[0].created if backups else None
            now = datetime.now().astimezone()
            due = next_due(current.backups, last, now)
            if due is not None and due <= now:
                await _back_up(paths, service)
                continue
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
        # that arrives with a queued change, and this loop would never end.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(RECHECK_S):
                await changes.get()


async def _back_up(paths: AppPaths, service: Any) -> None:
    result: dict[str, Any] = {
        "time": datetime.now().astimezone().isoformat(),
        "reason": "scheduled",
    }
    try:
        info = await asyncio.to_thread(service.create, reason="scheduled")
        result.update(ok=True, path=str(info.path), size=info.size)
        log.info("scheduled backup written: %s", info.path)
    except (EliteError, OSError) as exc:
        result.update(ok=False, error=str(exc))
        log.error("scheduled backup failed: %s", exc)
        await asyncio.sleep(RECHECK_S * 10)  # do not retry a failing backup every minute
    write_atomic(status_file(paths), json.dumps(result, indent=2) + "\n")
