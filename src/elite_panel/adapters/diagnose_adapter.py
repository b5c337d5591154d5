"""The Diagnose dialog's side of :mod:`elite_panel.diagnose`: the doctor's checks and the
support bundle, run in a worker thread (the checks read files, open sockets and NVML, and
import pydantic: none of it on the window's thread)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from elite_panel.adapters.profile_service import ProfileService
from elite_panel.adapters.tasks import TaskGroup
from elite_panel.core.paths import AppPaths


class DiagnoseAdapter(QObject):
    """Runs the checks of the active profile and writes support bundles.

    Signals:
    diagnosed(list[Check]): every check, in order.
    saved(str): the bundle's path.
    failed(str): the bundle could not be written (why).
    """

    diagnosed = Signal(list)
    saved = Signal(str)
    failed = Signal(str)

    def __init__(self, paths: AppPaths, profile: ProfileService, parent: QObject | None = None):
        super().__init__(parent)
        self.paths = paths
        self.profile = profile
        self.checks: list[Any] = []  # the last run's Check records
        self._tasks = TaskGroup("diagnose")

    def run(self) -> None:
        async def work() -> None:
            self.checks = await asyncio.to_thread(self._diagnose)
            self.diagnosed.emit(self.checks)

        self._tasks.start("run", work())

    def _diagnose(self) -> list[Any]:
        """The checks, on an event loop of this worker thread's own."""
        from elite_panel.diagnose.checks import diagnose

        return list(asyncio.run(diagnose(self.paths, self.profile.name)))

    def save_bundle(self, target: Path) -> None:
        """The support bundle at ``target``, with the checks last run (run first if none)."""

        async def work() -> None:
            from elite_panel.diagnose.bundle import write_bundle

            checks = self.checks or await asyncio.to_thread(self._diagnose)
            try:
                written = await asyncio.to_thread(
                    write_bundle, target, self.paths, self.profile.name, checks
                )
            except OSError as exc:
                self.failed.emit(f"the support bundle was not written: {exc}")
                return
            self.saved.emit(str(written))

        self._tasks.start("bundle", work())
