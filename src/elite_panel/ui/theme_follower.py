"""The window's theme: the profile's choice, or the desktop's scheme followed as it changes."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from elite_panel.core.paths import AppPaths
from elite_panel.ui import theme, window_state


class ThemeFollower(QObject):
    """Applies ``auto``, ``light`` or ``dark`` (the profile's ``[window] theme``); with
    ``auto``, follows the desktop when its scheme changes. Each scheme applied is kept, so
    the next start paints with it from its first frame."""

    def __init__(self, paths: AppPaths, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.paths = paths
        self.choice = "auto"
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._on_scheme_changed)

    def apply(self, choice: str) -> None:
        self.choice = choice
        app = QApplication.instance()
        if isinstance(app, QApplication):
            window_state.keep_scheme(self.paths, theme.apply(app, choice))

    def _on_scheme_changed(self, _scheme: object) -> None:
        if self.choice == "auto":
            self.apply("auto")
