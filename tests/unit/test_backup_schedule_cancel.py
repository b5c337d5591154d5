"""The backup schedule's loop ends when cancelled, even when a change arrives with the
cancellation (Python 3.11's ``wait_for`` swallowed it and the supervisor hung on exit)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from elite_panel.backup.schedule import run_schedule
from elite_panel.core.paths import AppPaths


def test_cancelled_with_a_queued_change_it_ends(tmp_path: Path) -> None:
    paths = AppPaths.from_env({"ELITE_HOME": str(tmp_path)})

    async def scenario() -> bool:
        changes: asyncio.Queue[object] = asyncio.Queue()
        task = asyncio.create_task(run_schedule(paths, lambda: None, lambda: False, changes))
        await asyncio.sleep(0.01)  # waiting for a change
        changes.put_nowait([])  # what stopping the services does, at the same moment
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2)
        return task in done and task.cancelled()

    assert asyncio.run(scenario())
