"""The Backups page's side of :mod:`elite_panel.backup`: every operation in a worker
thread (archives are large), progress as signals, and the supervisor's scheduled results
watched through ``<state>/last_backup.json`` (one ``stat`` every few seconds)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from elite_panel.adapters.stack_adapter import StackAdapter
from elite_panel.adapters.tasks import TaskGroup
from elite_panel.backup.status import read_status, status_file
from elite_panel.core.errors import EliteError
from elite_panel.core.paths import AppPaths

if TYPE_CHECKING:
    pass

STATUS_POLL_MS = 5000


class BackupAdapter(QObject):
    """The Backups page's Qt side of the backup service (work off the UI thread).

    Signals:
    listed(list[BackupInfo]): the backups, newest first.
    progress(str, int, int): what is running, bytes done, bytes in all.
    finished(str): an operation ended well (its message).
    failed(str): an operation failed (its message; nothing was changed).
    planned(RestorePlan): a verified, staged restore waiting for confirmation.
    settingsLoaded(dict): the profile's ``[backups]`` values, and ``folder``.
    scheduledResult(dict): the supervisor made (or failed) a scheduled backup.
    """

    listed = Signal(list)
    progress = Signal(str, int, int)
    finished = Signal(str)
    failed = Signal(str)
    planned = Signal(object)
    settingsLoaded = Signal(dict)
    scheduledResult = Signal(dict)

    def __init__(
        self,
        paths: AppPaths,
        stack: StackAdapter,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.paths = paths
        self.stack = stack
        self._tasks = TaskGroup("backups")
        self._status_mtime = self._mtime()
        self._poll = QTimer(self)
        self._poll.setInterval(STATUS_POLL_MS)
        self._poll.timeout.connect(self._check_status)
        self._poll.start()

    async def service(self) -> Any:
        """The backup service of the active profile as it is now."""
        from elite_panel.backup.service import BackupService

        return BackupService(self.paths, await self.stack.profile.load())

    # -- operations (called by the page) -------------------------------------------------

    def load_settings(self) -> None:
        """Read the schedule and retention of the active profile (``settingsLoaded``)."""

        def work(s: Any) -> None:
            self.settingsLoaded.emit(
                {**s.profile.backups.model_dump(mode="json"), "folder": s.folder}
            )

        self._run("settings", work)

    def save_settings(self, values: dict[str, Any]) -> None:
        """Save ``[backups]`` keys to the active profile (validated first: on an error the
        file is unchanged), then hand them to a running supervisor."""
        literals = {f"backups.{key}": json.dumps(value) for key, value in values.items()}

        async def work() -> None:
            try:
                await self.stack.profile.set_values(literals)
            except EliteError as exc:
                self.failed.emit(str(exc))
                return
            if self.stack.connected:
                self.stack.configure()
            self.finished.emit("Schedule and retention saved.")

        self._tasks.start("save-settings", work())

    def refresh(self) -> None:
        self._run("list", lambda s: self.listed.emit(s.backups()))

    def create(self, include_logs: bool) -> None:
        def work(s: Any) -> None:
            info = s.create(include_logs=include_logs, progress=self._reporter("Backing up"))
            copied = (
                f" Copied to {url} and read back." if (url := s.profile.backups.offsite) else ""
            )
            self.finished.emit(
                f"Backed up to {info.name} ({info.size / 1e6:.1f} MB), verified.{copied}"
            )

        self._run("create", work, refresh=True)

    def verify(self, path: Path) -> None:
        def work(s: Any) -> None:
            s.verify(path, progress=self._reporter("Verifying"))
            self.finished.emit(f"{path.name} is intact: every checksum matches.")

        self._run(f"verify:{path.name}", work, refresh=True)

    def plan_restore(self, path: Path) -> None:
        from elite_panel.backup.restore import Restorer

        def work(s: Any) -> None:
            self.planned.emit(Restorer(s).plan(path, progress=self._reporter("Verifying")))

        self._run("restore", work)

    def discard(self, plan: Any) -> None:
        from elite_panel.backup.restore import Restorer

        self._run("discard", lambda s: Restorer(s).discard(plan))

    def apply_restore(self, plan: Any) -> None:
        from elite_panel.backup.restore import Restorer

        loop = asyncio.get_running_loop()

        def on_loop(coro: Coroutine[Any, Any, Any]) -> Any:
            return asyncio.run_coroutine_threadsafe(coro, loop).result()

        client = self.stack.client

        def stop(names: list[str]) -> list[str]:
            return list(on_loop(client.stop_running(names)))

        def start(names: list[str]) -> None:
            if names:
                profile = on_loop(self.stack.profile.load())  # the restored file
                on_loop(client.start_services(names, profile.model_dump(mode="json")))

        def work(s: Any) -> None:
            safety = Restorer(s).apply(plan, stop, start)
            self.finished.emit(f"Restored {plan.archive.name}; the state before: {safety.name}.")

        self._run("restore", work, refresh=True)

    def delete(self, path: Path) -> None:
        self._run("delete", lambda s: s.delete(path), refresh=True)

    def prune(self) -> None:
        def work(s: Any) -> None:
            removed = s.prune()
            self.finished.emit(f"Pruned {len(removed)} backup(s) by the retention policy.")

        self._run("prune", work, refresh=True)

    def close(self) -> None:
        self._poll.stop()
        self._tasks.cancel_all()

    # -- internals ----------------------------------------------------------------------

    def _run(self, key: str, work: Callable[[Any], None], refresh: bool = False) -> None:
        self._tasks.start(key, self._in_thread(work, refresh))

    async def _in_thread(self, work: Callable[[Any], None], refresh: bool) -> None:
        try:
            service = await self.service()
            await asyncio.to_thread(work, service)
        except EliteError as exc:
            self.failed.emit(str(exc))
        if refresh:
            self.refresh()

    def _reporter(self, what: str) -> Callable[[int, int], None]:
        return lambda done, total: self.progress.emit(what, done, total)

    def _mtime(self) -> float | None:
        try:
            return status_file(self.paths).stat().st_mtime
        except OSError:
            return None

    def _check_status(self) -> None:
        mtime = self._mtime()
        if mtime is not None and mtime != self._status_mtime:
            self._status_mtime = mtime
            status = read_status(self.paths)
            if status:
                self.scheduledResult.emit(status)
                self.refresh()
