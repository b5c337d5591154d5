"""The panel's one theme, light or dark: the desktop's scheme, or the one the profile forces.

One palette drives the widgets and the plots alike (``MetricPlot`` repaints itself from the
palette when it changes), so a light window never shows black graphs.

The window paints first with the scheme it last showed (kept in ``window.ini``), and the
profile's choice is applied once the profile is read: a profile that forces dark on a light
desktop never flashes light.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from elite_panel.core.services import ServiceState

# What a colour means, the same in both schemes (each reads on either background).
ERROR = "#c0392b"  # an error's or a refusal's text
SERIES = ("#2980b9", "#27ae60", "#e67e22", "#8e44ad", ERROR, "#16a085", "#7f8c8d")  # graphs
STATE_COLORS: dict[ServiceState, str] = {
    ServiceState.STOPPED: "#7f8c8d",
    ServiceState.STARTING: "#2980b9",
    ServiceState.READY: "#27ae60",
    ServiceState.UNHEALTHY: "#e67e22",
    ServiceState.CRASHED: ERROR,
    ServiceState.BACKOFF: "#d35400",
    ServiceState.FAILED: ERROR,
    ServiceState.STOPPING: "#8e44ad",
}


def error_style(error: bool = True) -> str:
    """The style sheet of a label that shows an error (``""``: an ordinary one)."""
    return f"color:{ERROR};" if error else ""


DARK = {
    QPalette.ColorRole.Window: "#1f2328",
    QPalette.ColorRole.WindowText: "#e6edf3",
    QPalette.ColorRole.Base: "#161b22",
    QPalette.ColorRole.AlternateBase: "#21262d",
    QPalette.ColorRole.Text: "#e6edf3",
    QPalette.ColorRole.Button: "#2d333b",
    QPalette.ColorRole.ButtonText: "#e6edf3",
    QPalette.ColorRole.Highlight: "#2f81f7",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.ToolTipBase: "#2d333b",
    QPalette.ColorRole.ToolTipText: "#e6edf3",
    QPalette.ColorRole.PlaceholderText: "#8b949e",
    QPalette.ColorRole.Link: "#58a6ff",
}
LIGHT = {
    QPalette.ColorRole.Window: "#f6f8fa",
    QPalette.ColorRole.WindowText: "#1f2328",
    QPalette.ColorRole.Base: "#ffffff",
    QPalette.ColorRole.AlternateBase: "#f0f3f6",
    QPalette.ColorRole.Text: "#1f2328",
    QPalette.ColorRole.Button: "#eef1f4",
    QPalette.ColorRole.ButtonText: "#1f2328",
    QPalette.ColorRole.Highlight: "#0969da",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.ToolTipBase: "#ffffff",
    QPalette.ColorRole.ToolTipText: "#1f2328",
    QPalette.ColorRole.PlaceholderText: "#6e7781",
    QPalette.ColorRole.Link: "#0969da",
}


def resolve(choice: str) -> str:
    """``auto`` → the desktop's scheme (``light`` when it says nothing); else the choice."""
    if choice in ("light", "dark"):
        return choice
    hints = QGuiApplication.styleHints()
    return "dark" if hints.colorScheme() == Qt.ColorScheme.Dark else "light"


def application(argv: list[str]) -> QApplication:
    """Qt's application in the Fusion style, which draws from the palette on every desktop."""
    app = QApplication(argv)
    app.setStyle("Fusion")
    return app


def apply(app: QApplication, choice: str = "auto") -> str:
    """Set the palette of ``choice`` (``auto``, ``light`` or ``dark``); returns the one used."""
    scheme = resolve(choice)
    palette = QPalette()
    for role, color in (DARK if scheme == "dark" else LIGHT).items():
        palette.setColor(role, QColor(color))
    disabled = QColor("#6e7681" if scheme == "dark" else "#8c959f")
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    app.setPalette(palette)
    return scheme
