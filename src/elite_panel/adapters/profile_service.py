"""The active profile in the window's process: the one place that loads, validates, watches
and saves it.

Every adapter and page that needs the active profile asks this service instead of reading
the TOML itself: it reads and writes off the window's thread, keeps the last profile that
loaded, and says when it changes, whoever changed it (a save here, the Settings page, an
editor, ``elite-panel config set``: the file is watched).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from elite_panel.adapters.tasks import TaskGroup, off_the_window
from elite_panel.core.errors import ConfigError
from elite_panel.core.paths import AppPaths

if TYPE_CHECKING:
    from elite_panel.core.profile_store import ProfileStore
    from elite_panel.core.profiles import Profile

log = logging.getLogger(__name__)
SETTLE_MS = 200  # an editor's save is often several writes: read once they settle


class ProfileService(QObject):
    """The active profile: its name, the last version that loaded, and its changes.

    Signals:
        switched(str): another profile is the active one (its name).
        changed(object): the active profile (a :class:`Profile`) as now loaded: after a
            switch, a save, or an edit of its file anywhere.
        failed(str): the active profile's file no longer loads, found by a load in the
            background (at start, on a switch, after its file changed; a caller of
            :meth:`load` gets the error itself); :attr:`current` keeps the last version
            that loaded.
    """

    switched = Signal(str)
    changed = Signal(object)
    failed = Signal(str)

    def __init__(
        self,
        paths: AppPaths,
        name: str,
        environ: Mapping[str, str] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.paths = paths
        self._name = name
        self._environ = environ
        self._store: ProfileStore | None = None
        self.current: Profile | None = None
        self._tasks = TaskGroup("profile")
        self._watcher = QFileSystemWatcher(self)
        self._watcher.fileChanged.connect(self._on_file_changed)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self.reload)
        self._closed = False

    @property
    def name(self) -> str:
        return self._name

    async def store(self) -> ProfileStore:
        """The profile store (its module, and pydantic's, imported off the window's thread)."""
        if self._store is None:
            self._store = await off_the_window(self._new_store)
        return self._store

    def _new_store(self) -> ProfileStore:
        from elite_panel.core.profile_store import ProfileStore

        return ProfileStore(self.paths, self._environ)

    async def load(self) -> Profile:
        """The active profile read now (raises ConfigError); ``changed`` when it differs
        from the last one loaded."""
        store = await self.store()
        name = self._name
        self._watch(store)
        profile = await asyncio.to_thread(store.load, name)
        if name == self._name and profile != self.current:
            self.current = profile
            self.changed.emit(profile)
        return profile

    async def set_values(self, values: Mapping[str, str]) -> Profile:
        """Set ``section.key`` values (TOML literals) in the active profile, all or none
        (raises ConfigError), and load it again."""
        store = await self.store()
        await asyncio.to_thread(store.set_values, self._name, values)
        return await self.load()

    def use(self, name: str) -> None:
        """Work with profile ``name`` from now on (``switched``, then ``changed``)."""
        if name == self._name:
            return
        self._name, self.current = name, None
        self.switched.emit(name)
        self.reload()

    def reload(self) -> None:
        """Load the active profile again in the background (its errors go to ``failed``)."""
        self._tasks.start("load", self._reload())

    def close(self) -> None:
        """Stop watching and loading (the panel is closing)."""
        self._closed = True
        self._settle.stop()
        if self._watcher.files():
            self._watcher.removePaths(self._watcher.files())
        self._tasks.cancel_all()

    async def _reload(self) -> None:
        name = self._name
        try:
            await self.load()
        except ConfigError as exc:
            log.warning("%s", exc)
            if name == self._name:
                self.failed.emit(str(exc))

    def _watch(self, store: ProfileStore) -> None:
        if self._closed:
            return
        path = str(store.path(self._name))
        watched = self._watcher.files()
        if watched != [path]:
            if watched:
                self._watcher.removePaths(watched)
            self._watcher.addPath(path)

    def _on_file_changed(self, path: str) -> None:
        # An atomic save replaces the file: the watch ends with the old one, so it is
        # added again by the load that follows.
        self._watcher.removePath(path)
        if not self._closed:
            self._settle.start()
