"""The main window: a sidebar of pages, the pages, and a status bar with the stack's state."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QStackedWidget,
    QWidget,
)

from elite_panel.core.services import ServiceState, ServiceStatus


def stack_summary(statuses: list[ServiceStatus], connected: bool) -> str:
    """One line for the status bar and the tray tooltip."""
    if not connected:
        return "Stack: stopped"
    parts = ", ".join(f"{s.name} {s.state.value}" for s in statuses)
    ready = all(s.state is ServiceState.READY for s in statuses)
    return f"Stack: {'ready' if ready else 'partial'} ({parts})"


class MainWindow(QMainWindow):
    """The main window: a sidebar of pages, the pages, and the stack's status bar.

    Signals:
    firstPainted(): the window has been painted once (start-up is over).
    closeRequested(): the user closed the window (the owner decides: hide or quit).
    """

    firstPainted = Signal()
    closeRequested = Signal()

    def __init__(self, pages: dict[str, QWidget], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Elite Coding Assistant")
        self.resize(1100, 720)
        self.pages = pages
        self.sidebar = QListWidget()
        self.sidebar.setFixedWidth(150)
        self.stack = QStackedWidget()
        for name, page in pages.items():
            self.sidebar.addItem(getattr(page, "title", name.title()))
            self.stack.addWidget(page)
        self.sidebar.currentRowChanged.connect(self.stack.setCurrentIndex)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.stack_state = QLabel("Stack: stopped")
        self.stack_state.setObjectName("stackState")
        self.statusBar().addPermanentWidget(self.stack_state)
        for index in range(min(len(pages), 9)):
            QShortcut(
                QKeySequence(f"Ctrl+{index + 1}"),
                self,
                lambda i=index: self.sidebar.setCurrentRow(i),
            )
        self.sidebar.setCurrentRow(0)
        self._painted = False
        self.installEventFilter(self)

    def show_page(self, name: str) -> None:
        names = list(self.pages)
        if name in names:
            self.sidebar.setCurrentRow(names.index(name))

    def current_page(self) -> str:
        return list(self.pages)[self.stack.currentIndex()]

    def show_stack_state(self, statuses: list[ServiceStatus], connected: bool) -> None:
        self.stack_state.setText(stack_summary(statuses, connected))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not self._painted and event.type() == QEvent.Type.Paint:
            self._painted = True
            self.removeEventFilter(self)
            self.firstPainted.emit()
        return super().eventFilter(watched, event)

    def closeEvent(self, event: QCloseEvent) -> None:
        event.ignore()
        self.closeRequested.emit()

    def bring_to_front(self) -> None:
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()
