"""The profile the panel works with, shared by every adapter that reads it."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class ActiveProfile(QObject):
    """The active profile's name, and a signal when another one is chosen.

    Signals:
        changed(str): the new name.
    """

    changed = Signal(str)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def set(self, name: str) -> None:
        if name != self._name:
            self._name = name
            self.changed.emit(name)
