"""A page built the first time it is shown, so that start-up does not import what only
that page needs (pydantic and tomlkit for Settings, keyring for Secrets)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

from elite_panel.ui.accessibility import name_controls


class LazyPage(QWidget):
    """A page built the first time it is shown."""

    def __init__(self, title: str, factory: Callable[[], QWidget]) -> None:
        super().__init__()
        self.title = title
        self._factory = factory
        self.page: QWidget | None = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    def build(self) -> QWidget:
        if self.page is None:
            self.page = self._factory()
            self._layout.addWidget(self.page)
            name_controls(self.page)
        return self.page

    def showEvent(self, event: QShowEvent) -> None:
        self.build()
        super().showEvent(event)
