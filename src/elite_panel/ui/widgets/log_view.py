"""A live log: follows the end unless turned off, searchable, filterable (only the lines
holding a text: a request id, say), copyable, bounded in size."""

from __future__ import annotations

from collections import deque

from PySide6.QtGui import (
    QFontDatabase,
    QGuiApplication,
    QKeySequence,
    QShortcut,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

MAX_LINES = 5000


class LogView(QWidget):
    """Appends lines cheaply (a bounded QPlainTextEdit), so a chatty service cannot stall it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QPlainTextEdit()
        self.text.setAccessibleName("Log")
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(MAX_LINES)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        # A font, not a style sheet: the view follows the theme's palette.
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.lines: deque[str] = deque(maxlen=MAX_LINES)  # all of them, shown or filtered out
        self.only = QCheckBox("Only these")
        self.only.setToolTip("Show only the lines holding the search text (a request id)")
        self.only.toggled.connect(self._refilter)
        self.follow = QCheckBox("Follow")
        self.follow.setChecked(True)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search (Enter: next, Shift+Enter: previous)")
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(lambda: self.find_text(backward=False))
        self.search.textChanged.connect(self._on_search_changed)
        QShortcut(QKeySequence("Shift+Return"), self.search, lambda: self.find_text(backward=True))
        self.not_found = QLabel()
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the selection, or the whole log when nothing is selected")
        self.copy_button.clicked.connect(self.copy)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.reset)
        bar = QHBoxLayout()
        bar.addWidget(self.search, 1)
        bar.addWidget(self.not_found)
        bar.addWidget(self.only)
        bar.addWidget(self.follow)
        bar.addWidget(self.copy_button)
        bar.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.text)

    def append_line(self, line: str) -> None:
        self.lines.append(line)
        if self._hidden(line):
            return
        bar = self.text.verticalScrollBar()
        keep = bar.value()
        self.text.appendPlainText(line)
        if self.follow.isChecked():
            bar.setValue(bar.maximum())
        else:
            bar.setValue(keep)

    def reset(self) -> None:
        self.lines.clear()
        self.text.clear()

    def _hidden(self, line: str) -> bool:
        needle = self.search.text()
        return self.only.isChecked() and bool(needle) and needle not in line

    def _on_search_changed(self, _text: str) -> None:
        if self.only.isChecked():
            self._refilter()

    def _refilter(self) -> None:
        """Show again every kept line that the filter lets through."""
        self.text.setPlainText("\n".join(line for line in self.lines if not self._hidden(line)))
        if self.follow.isChecked():
            self.text.verticalScrollBar().setValue(self.text.verticalScrollBar().maximum())

    def find_text(self, backward: bool = False) -> bool:
        needle = self.search.text()
        if not needle:
            return False
        flags = QTextDocument.FindFlag.FindBackward if backward else QTextDocument.FindFlag(0)
        found = self.text.find(needle, flags)
        if not found:  # wrap around
            cursor = self.text.textCursor()
            cursor.movePosition(
                QTextCursor.MoveOperation.End if backward else QTextCursor.MoveOperation.Start
            )
            self.text.setTextCursor(cursor)
            found = self.text.find(needle, flags)
        if found:
            self.follow.setChecked(False)
        self.not_found.setText("" if found else "not found")
        return found

    def copy(self) -> None:
        cursor = self.text.textCursor()
        text = cursor.selectedText().replace("\u2029", "\n") if cursor.hasSelection() else ""
        QGuiApplication.clipboard().setText(text or self.text.toPlainText())
