"""The main window: a sidebar of pages, the pages, and a status bar with the stack's state."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, QSize, Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from elite_panel.core.services import ServiceState, ServiceStatus
from elite_panel.ui.icons import SHAPES, icon
from elite_panel.ui.widgets.lazy_page import LazyPage

if TYPE_CHECKING:  # (the palette is imported when first opened: not at start-up)
    from elite_panel.client.server_state import RemoteState
    from elite_panel.ui.widgets.command_palette import Command, CommandPalette

MINIMUM = QSize(1024, 640)  # every page is usable at this size
PAGES = (
    "chat",
    "dashboard",
    "stack",
    "projects",
    "settings",
    "secrets",
    "models",
    "backups",
    "welcome",
)
DESCRIPTIONS = {
    "chat": "Ask the assistant; every answer is kept with its model and figures.",
    "dashboard": "This machine, its GPUs and the stack, live and over the last day.",
    "stack": "The model runner and the assistant server: start, stop, watch their logs.",
    "models": "The runner's models: what is installed, what is in memory, pull or import.",
    "projects": "Your code, indexed on this machine: mention @project in the chat to use it.",
    "settings": "Profiles: every key with its default, its source and what it restarts.",
    "secrets": "API keys and passwords, kept in the OS keyring and given to the services.",
    "backups": "Verified backups of your conversations and profiles, and their schedule.",
    "welcome": "What this machine can run, the runner to use, a coding model, a first answer.",
}
# A remote profile's pages say what they show of the team's server.
REMOTE_DESCRIPTIONS = {
    "dashboard": "The team's cluster: hosts, GPUs, the server and its runners, from Prometheus.",
    "stack": "The team's server: readiness, version, who you are on it, and its runners.",
    "models": "The team server's models: listed for any key, changed with the admin token.",
    "backups": "Verified backups of your profiles and secret names; the server backs up its own.",
}
PREFERRED = QSize(1280, 800)
SCREEN_SHARE = 0.9  # the first window takes at most this much of the available screen


def stack_summary(statuses: list[ServiceStatus], connected: bool) -> str:
    """One line for the status bar and the tray tooltip."""
    if not connected:
        return "Stack: stopped"
    parts = ", ".join(f"{s.name} {s.state.value}" for s in statuses)
    ready = all(s.state is ServiceState.READY for s in statuses)
    return f"Stack: {'ready' if ready else 'partial'} ({parts})"


def remote_state(state: RemoteState) -> tuple[str, ServiceState]:
    """A remote profile's server in a word (unreachable, ready, not ready) and its colour."""
    if state.error:
        return "unreachable", ServiceState.FAILED
    if state.ready:
        return "ready", ServiceState.READY
    return "not ready", ServiceState.UNHEALTHY


def remote_summary(state: RemoteState) -> str:
    """A remote profile's server in one line (status bar, tray)."""
    return f"Team server {state.url}: {remote_state(state)[0]}"


class MainWindow(QMainWindow):
    """The main window: a sidebar of pages, the pages, and the stack's status bar.

    Signals:
    firstPainted(): the window has been painted once (its page may come later: gui.py).
    closeRequested(): the user closed the window (the owner decides: hide or quit).
    """

    firstPainted = Signal()
    closeRequested = Signal()

    def __init__(
        self,
        pages: dict[str, LazyPage],
        parent: QWidget | None = None,
        unlisted: set[str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.unlisted = unlisted or set()  # pages the sidebar lists only while they show
        self.setWindowTitle("Elite Coding Assistant")
        self.fit_to_screen()
        self.pages = pages
        self.sidebar = QListWidget()
        self.sidebar.setFixedWidth(150)
        self.remote = False  # a remote profile's server: its own descriptions and status
        self.stack = QStackedWidget()
        self.sidebar.setIconSize(QSize(18, 18))
        self._layout: QSettings | None = None  # where the splitters' positions are kept
        for name, page in pages.items():
            item = QListWidgetItem(page.title)
            if name in SHAPES:
                item.setIcon(icon(name))
            self.sidebar.addItem(item)
            self.stack.addWidget(page)
            page.built.connect(self._restore_splitters)
        self.sidebar.setAccessibleName("Pages")
        self.sidebar.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.page_title = QLabel()
        self.page_title.setObjectName("pageTitle")
        title_font = self.page_title.font()
        title_font.setPointSizeF(title_font.pointSizeF() * 1.4)
        title_font.setBold(True)
        self.page_title.setFont(title_font)
        self.page_description = QLabel()
        self.page_description.setObjectName("pageDescription")
        self.page_description.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.stack.currentChanged.connect(self._on_page_changed)
        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.setSpacing(2)
        right.addWidget(self.page_title)
        right.addWidget(self.page_description)
        right.addWidget(self.stack, 1)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.addWidget(self.sidebar)
        layout.addLayout(right, 1)
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
        self.extra_commands: list[Command] = []  # the owner's (Quit...)
        self.palette_dialog: CommandPalette | None = None
        QShortcut(QKeySequence("Ctrl+K"), self, self.open_palette)
        self.sidebar.setCurrentRow(0)
        self._on_page_changed(0)
        self.painted = False  # (firstPainted has been emitted)
        self.installEventFilter(self)

    @classmethod
    def shell(cls) -> MainWindow:
        """The window with each of :data:`PAGES` still to build: it can paint before the
        panel behind it exists (which then gives each page its factory)."""
        return cls({name: LazyPage(name.title()) for name in PAGES}, unlisted={"welcome"})

    def _on_page_changed(self, index: int) -> None:
        for row, listed in enumerate(self.pages):
            self.sidebar.item(row).setHidden(listed in self.unlisted and row != index)
        name = list(self.pages)[index]
        page = self.pages[name]
        self.page_title.setText(page.title)
        descriptions = REMOTE_DESCRIPTIONS if self.remote else {}
        self.page_description.setText(descriptions.get(name) or DESCRIPTIONS.get(name, ""))

    def fit_to_screen(self) -> None:
        """Size the window for its screen: the preferred size, but at most 90 % of the
        available area; the minimum is 1024 x 640, or less on a smaller screen."""
        area = self._usable_area()
        self.setMinimumSize(MINIMUM.boundedTo(area))
        self.resize(PREFERRED.boundedTo(area))

    def _usable_area(self) -> QSize:
        return self.screen().availableGeometry().size() * SCREEN_SHARE

    def save_layout(self, settings: QSettings) -> None:
        """Keep the window's geometry and its splitters' positions (for the next start)."""
        settings.setValue("window/geometry", self.saveGeometry())
        for splitter in self.findChildren(QSplitter):
            if splitter.objectName():
                settings.setValue(f"splitters/{splitter.objectName()}", splitter.saveState())
        settings.sync()

    def restore_layout(self, settings: QSettings) -> None:
        """Bring back what :meth:`save_layout` kept, the splitters of a page built later
        when it is built; anything unreadable is ignored."""
        self._layout = settings
        geometry = settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and self.restoreGeometry(geometry):
            # A size kept on a larger screen (another monitor) shrinks to fit this one.
            self.resize(self.size().boundedTo(self._usable_area()).expandedTo(self.minimumSize()))
        self._restore_splitters(self)

    def present(self, settings: QSettings, page: str | None, show: bool = True) -> None:
        """Open on ``page`` (None: the current one) at the kept geometry (restored once)."""
        if self._layout is None:
            self.restore_layout(settings)
        if page:
            self.show_page(page)
        if show:
            self.show()

    def _restore_splitters(self, root: QWidget) -> None:
        if self._layout is None:
            return
        for splitter in root.findChildren(QSplitter):
            state = self._layout.value(f"splitters/{splitter.objectName()}")
            if splitter.objectName() and isinstance(state, QByteArray):
                splitter.restoreState(state)

    def commands(self) -> list[Command]:
        """Every action of the window: going to each page, each built page's buttons,
        and the owner's."""
        from elite_panel.ui.widgets.command_palette import Command, page_commands

        found = []
        for index, (name, page) in enumerate(self.pages.items()):
            title = page.title
            show = functools.partial(self.show_page, name)
            key = f"Ctrl+{index + 1}" if index < 9 else ""
            found.append(Command(f"Go to {title}", key, show))
            if page.page is not None:
                found += page_commands(title, page.page, show)
        return found + self.extra_commands

    def open_palette(self) -> None:
        """The command palette (Ctrl+K)."""
        from elite_panel.ui.widgets.command_palette import CommandPalette

        self.palette_dialog = CommandPalette(self.commands(), self)
        self.palette_dialog.open()
        self.palette_dialog.filter.setFocus()

    def show_page(self, name: str) -> None:
        names = list(self.pages)
        if name in names:
            self.sidebar.setCurrentRow(names.index(name))

    def page(self, name: str) -> QWidget:
        """The page called ``name``, built now if it has not shown yet."""
        return self.pages[name].build()

    def current_page(self) -> str:
        return list(self.pages)[self.stack.currentIndex()]

    def show_stack_state(self, statuses: list[ServiceStatus], connected: bool) -> None:
        self.stack_state.setText(stack_summary(statuses, connected))

    def show_remote_state(self, state: RemoteState | None) -> None:
        """A remote profile's server (None: the local stack again, whose next status fills
        the line)."""
        self.remote = state is not None
        if state is not None:
            self.stack_state.setText(remote_summary(state))
        self._on_page_changed(self.stack.currentIndex())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not self.painted and event.type() == QEvent.Type.Paint:
            self.painted = True
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
