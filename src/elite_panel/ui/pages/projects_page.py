"""The Projects page: the folders indexed for the chat, each one's files, chunks and size;
add, re-index (with progress, pause and cancel), remove; what was left out and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from elite_panel.adapters.projects_adapter import ProjectsAdapter, ProjectView
from elite_panel.monitor.report import human_bytes
from elite_panel.ui import theme
from elite_panel.ui.widgets import dialogs
from elite_panel.ui.widgets.actions import add_buttons, fill, record_table
from elite_panel.ui.widgets.empty_state import EmptyState

COLUMNS = ("Project", "State", "Files", "Chunks", "Size", "Left out", "Folder")
SKIPPED = ("File", "Why it is left out")


def choose_folder(parent: QWidget) -> Path | None:
    """A folder picked by the user (None: cancelled)."""
    chosen = QFileDialog.getExistingDirectory(parent, "Add a project")
    return Path(chosen) if chosen else None


class ProjectsPage(QWidget):
    """The Projects page."""

    title = "Projects"

    def __init__(self, projects: ProjectsAdapter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.projects = projects
        self.confirm = dialogs.confirm
        self.choose_folder = choose_folder
        self.views: list[ProjectView] = []
        self.table = record_table(COLUMNS, stretch=len(COLUMNS) - 1)
        self.table.setAccessibleName("Projects")
        self.table.itemSelectionChanged.connect(self._on_selected)
        self.empty = EmptyState(
            "No projects yet",
            "Add a folder of code: it is indexed on this machine (its .gitignore honoured, "
            "secrets never read), and @name in the chat brings the parts that answer.",
            ("Add a project…", self.add),
        )
        self.empty.hide()
        row = QHBoxLayout()
        self.buttons = add_buttons(
            row,
            (
                ("Add…", "Index a folder of code (Ctrl+O)", self.add),
                ("Re-index", "Index what changed since the last run", self._reindex),
                ("Pause", "Pause or resume the indexing", self._pause),
                ("Cancel", "Stop the indexing (what is done stays)", self._cancel),
                ("Remove…", "Forget the project and delete its index (asks first)", self._remove),
            ),
        )
        self.progress = QProgressBar()
        self.progress.setObjectName("indexProgress")
        self.progress.hide()
        self.status = QLabel()
        self.status.setObjectName("projectsMessage")
        self.status.setWordWrap(True)
        self.skipped_label = QLabel("Left out of the selected project")
        self.skipped = record_table(SKIPPED, stretch=0)
        self.skipped.horizontalHeader().setSectionResizeMode(
            1, QHeaderView.ResizeMode.ResizeToContents
        )
        self.skipped.setAccessibleName("Files left out of the index")
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 2)
        layout.addWidget(self.empty, 2)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.skipped_label)
        layout.addWidget(self.skipped, 1)
        QShortcut(QKeySequence("Ctrl+O"), self, self.add)
        projects.projectsChanged.connect(self._on_projects)
        projects.progressed.connect(self._on_progress)
        projects.failed.connect(lambda text: self._say(text, error=True))
        self._on_projects(list(projects.views.values()))
        projects.refresh()

    # -- actions ------------------------------------------------------------------------

    def selected(self) -> ProjectView | None:
        row = self.table.currentRow()
        return self.views[row] if 0 <= row < len(self.views) else None

    def add(self) -> None:
        folder = self.choose_folder(self)
        if folder is not None:
            self._say(f"Indexing {folder}…")
            self.projects.add(folder)

    def _reindex(self) -> None:
        if view := self.selected():
            self.projects.reindex(view.name)

    def _pause(self) -> None:
        view = self.selected()
        if view is None:
            return
        if view.state == "paused":
            self.projects.resume(view.name)
        else:
            self.projects.pause(view.name)

    def _cancel(self) -> None:
        if view := self.selected():
            self.projects.cancel(view.name)

    def _remove(self) -> None:
        view = self.selected()
        question = (
            f"Forget {view.name if view else ''} and delete its index? Its files in "
            f"{view.root if view else ''} are not touched."
        )
        if view and self.confirm(self, "Remove project", question):
            self.projects.remove(view.name)

    # -- what the adapter says ------------------------------------------------------------

    def _on_projects(self, views: list[ProjectView]) -> None:
        keep = self.selected()
        self.views = sorted(views, key=lambda v: v.name)
        fill(self.table, [_cells(view) for view in self.views])
        self.table.setVisible(bool(views))
        self.empty.setVisible(not views)
        names = [v.name for v in self.views]
        if names:
            chosen = keep.name if keep and keep.name in names else names[0]
            self.table.selectRow(names.index(chosen))
        self._on_selected()

    def _on_selected(self) -> None:
        view = self.selected()
        busy = view is not None and view.state in ("indexing", "paused")
        for name in ("Re-index", "Remove"):
            self.buttons[name].setEnabled(view is not None)
        self.buttons["Pause"].setEnabled(busy)
        self.buttons["Pause"].setText("Resume" if view and view.state == "paused" else "Pause")
        self.buttons["Cancel"].setEnabled(busy)
        fill(self.skipped, [(s.path, s.reason) for s in (view.skipped if view else [])])
        self.progress.setVisible(busy)
        if view is not None and view.error:
            self._say(f"{view.name}: {view.error}", error=view.state == "failed")

    def _on_progress(self, name: str, progress: Any) -> None:
        self.progress.show()
        self.progress.setRange(0, max(progress.files_total, 1))
        self.progress.setValue(progress.files_done)
        done = progress.files_done >= progress.files_total and not progress.current
        where = f": {progress.current}" if progress.current else ""
        self._say(
            f"{name}: {progress.files_done:,} of {progress.files_total:,} files, "
            f"{progress.chunks:,} chunks{where}"
            + (f" (done in {progress.seconds:.1f} s)" if done else "")
        )
        if done:
            self.progress.hide()

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet(theme.error_style(error))
        self.status.setText(text)


def _cells(view: ProjectView) -> tuple[str, ...]:
    state = view.state + (", watching" if view.watching and view.state == "idle" else "")
    return (
        view.name,
        state,
        f"{view.files:,}",
        f"{view.chunks:,}",
        human_bytes(view.size) if view.size else "-",
        f"{len(view.skipped):,}",
        str(view.root),
    )
