"""A page built the first time it is shown, so that start-up does not import what only
that page needs (pydantic and tomlkit for Settings, keyring for Secrets)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget


class LazyPage(QWidget):
    """A page built the first time it is shown, by the factory it is given.

    The window can paint before the panel behind it exists: a page without its factory yet
    is an empty frame, built as soon as :meth:`set_factory` gives one if it is showing.

    Signals:
    built(QWidget): the page has just been built.
    """

    built = Signal(QWidget)

    def __init__(self, title: str, factory: Callable[[], QWidget] | None = None) -> None:
        super().__init__()
        self.title = title
        self._factory = factory
        self.page: QWidget | None = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    def set_factory(self, factory: Callable[[], QWidget]) -> None:
        """Give the page its factory; a page showing now is built at once."""
        self._factory = factory
        if self.isVisible():
            self.build()

    def build(self) -> QWidget:
        """The page, built now if it is not yet (and its controls named for screen readers)."""
        if self.page is None:
            from elite_panel.ui.accessibility import name_controls  # (not before first paint)

            if self._factory is None:
                raise RuntimeError(f"the {self.title} page has no factory yet")
            self.page = self._factory()
            self._layout.addWidget(self.page)
            self.page.show()  # now, not at Qt's next turn (the page may be showing already)
            name_controls(self.page)
            self.built.emit(self.page)
        return self.page

    def showEvent(self, event: QShowEvent) -> None:
        if self._factory is not None:
            self.build()
        super().showEvent(event)
