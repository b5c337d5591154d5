"""The Settings page's side of the profiles: the list, the editor's load and save, and
applying a saved change to the running stack (only the services it affects restart).

Every file operation runs off the UI thread: a profile read for the editor
(``viewLoaded``), the list's actions (``done`` or ``refused``), a change checked before
it is saved (``planned``), and the save, one small atomic write checked against the text
the editor read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from elite_panel.adapters.stack_adapter import StackAdapter
from elite_panel.adapters.tasks import TaskGroup
from elite_panel.core import autostart
from elite_panel.core.autostart import Autostart
from elite_panel.core.errors import ConfigError
from elite_panel.core.profile_store import Change, ProfileStore, diff, services_to_restart
from elite_panel.core.profiles import Profile, validate_text


@dataclass(frozen=True)
class Plan:
    """What saving an edited text would do: the changes, and the services to restart."""

    name: str
    text: str
    profile: Profile
    changes: list[Change]
    restarts: list[str]
    running: bool  # whether the stack runs with this profile (restarts happen)


class SettingsAdapter(QObject):
    """The Settings page's Qt side of the profile store.

    Signals:
    profilesChanged(list[str], str): the profile names and the active one: the one this
        panel works with (``elite-panel --profile NAME`` may differ from the stored one).
    activeChanged(str): another profile was made the active one.
    viewLoaded(dict): a profile read for the editor: ``name``, ``text``, and ``values``
        with their ``sources``, or ``error`` (an invalid file, shown in the TOML view).
    done(str, str): an action (``use``, ``create``, ``rename``, ``delete``, ``import``,
        ``export``, ``save``) succeeded, and the profile it concerns (the list already
        shows the result).
    refused(str, str): an action (or ``plan``) failed, and why.
    planned(object): what saving an edited text would do (a :class:`Plan`).
    """

    profilesChanged = Signal(list, str)
    activeChanged = Signal(str)
    viewLoaded = Signal(dict)
    done = Signal(str, str)
    refused = Signal(str, str)
    planned = Signal(object)

    def __init__(
        self, store: ProfileStore, stack: StackAdapter, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.stack = stack
        self._tasks = TaskGroup("settings")

    def close(self) -> None:
        self._tasks.cancel_all()

    def autostart(self) -> Autostart:
        """Whether the panel starts at login (the autostart entry is one small file)."""
        return autostart.read()

    def set_autostart(self, choice: Autostart) -> str | None:
        """Write or remove the autostart entry; why it failed, or ``None``."""
        try:
            autostart.write(choice)
        except OSError as exc:
            return f"Start at login: {exc}"
        return None

    def load_view(self, name: str) -> None:
        """Read profile ``name`` for the editor, off the UI thread (``viewLoaded``)."""
        self._tasks.start("view", self._load_view(name))

    async def _load_view(self, name: str) -> None:
        def read() -> dict[str, Any]:
            view: dict[str, Any] = {"name": name, "text": ""}
            try:
                view["text"] = self.store.text(name)
                profile = self.store.load(name)
                view.update(
                    values=profile.model_dump(mode="json"), sources=self.store.sources(name)
                )
            except (ConfigError, OSError) as exc:
                view["error"] = str(exc)
            return view

        self.viewLoaded.emit(await asyncio.to_thread(read))

    def refresh(self) -> None:
        """The profile names again (``profilesChanged``), read off the UI thread."""
        self._tasks.start("refresh", self._refresh())

    async def _refresh(self) -> None:
        names = await asyncio.to_thread(self.store.names)
        self.profilesChanged.emit(names, self.stack.profile.name)

    def use(self, name: str) -> None:
        self._act(
            "use", name, lambda: self.store.use(name), then=lambda: self.activeChanged.emit(name)
        )

    def create(self, name: str, source: str | None = None) -> None:
        self._act("create", name, lambda: self.store.create(name, source))

    def rename(self, old: str, new: str) -> None:
        def moved() -> None:
            if self.stack.profile.name == old:
                self.activeChanged.emit(new)

        self._act("rename", new, lambda: self.store.rename(old, new), then=moved)

    def delete(self, name: str) -> None:
        if name == self.stack.profile.name:
            self.refused.emit("delete", f"profile {name!r} is in use: switch to another one first")
            return
        self._act("delete", name, lambda: self.store.delete(name))

    def import_file(self, path: Path) -> None:
        self._act("import", str(path), lambda: self.store.import_file(path))

    def export(self, name: str, path: Path) -> None:
        self._act("export", name, lambda: self.store.export(name, path))

    def plan(self, name: str, text: str) -> None:
        """Validate ``text`` and say what saving it changes (``planned``, or ``refused``
        with ``plan``)."""
        self._tasks.start("plan", self._plan(name, text))

    async def _plan(self, name: str, text: str) -> None:
        def plan() -> Plan:
            new = validate_text(text, self.store.path(name), self.store.environ)
            changes = diff(self.store.load(name), new)
            running = self.stack.connected and self.stack.profile.name == name
            restarts = services_to_restart(changes) if running else []
            return Plan(name, text, new, changes, restarts, running)

        try:
            self.planned.emit(await asyncio.to_thread(plan))
        except (ConfigError, OSError) as exc:
            self.refused.emit("plan", str(exc))

    def save(self, plan: Plan, expected: str) -> None:
        """Write the plan's text (refused when the file changed since ``expected`` was read),
        then restart what it affects, or hand the new values to the running supervisor."""

        def save() -> None:
            self.store.save_text(plan.name, plan.text, expected)

        self._act("save", plan.name, save, then=lambda: self._apply(plan))

    def _apply(self, plan: Plan) -> None:
        if not plan.running or not plan.changes:
            return
        if len(plan.restarts) == 2:
            self.stack.restart_stack()
        elif plan.restarts:
            self.stack.restart_service(plan.restarts[0])
        else:
            self.stack.configure()

    def _act(
        self,
        action: str,
        subject: str,
        work: Callable[[], object],
        then: Callable[[], None] | None = None,
    ) -> None:
        """``work`` off the UI thread, then ``then``, the list again and ``done`` with the
        profile the action leaves selected (what ``work`` returns, else ``subject``); or
        ``refused`` with why."""
        self._tasks.start(f"{action}:{subject}", self._run(action, subject, work, then))

    async def _run(
        self,
        action: str,
        subject: str,
        work: Callable[[], object],
        then: Callable[[], None] | None,
    ) -> None:
        try:
            returned = await asyncio.to_thread(work)
            result = returned if isinstance(returned, str) else subject
        except (ConfigError, OSError) as exc:
            self.refused.emit(action, str(exc))
            return
        if then is not None:
            then()
        await self._refresh()
        self.done.emit(action, result)
