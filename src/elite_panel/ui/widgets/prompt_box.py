"""The prompt: Enter sends, Shift+Enter starts a new line, dropped files are attached,
``@`` completes a project's name, file or folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from elite_panel.ui.widgets.mention_completer import MentionCompleter

CHOOSING_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab, Qt.Key.Key_Escape)


class PromptBox(QPlainTextEdit):
    """The prompt editor: Enter sends, Shift+Enter starts a new line, files can be dropped.

    Signals:
    submitted(str): Enter with the text typed so far.
    filesDropped(list[Path]): local files dropped on the box.
    """

    submitted = Signal(str)
    filesDropped = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText("Ask the assistant (Enter sends, Shift+Enter: new line)")
        self.setMaximumHeight(120)
        self.setTabChangesFocus(True)  # Tab moves on, as everywhere in the window
        self.mentions: MentionCompleter | None = None

    def complete_mentions(self, candidates: Callable[[str], list[str]]) -> None:
        """Offer ``candidates(typed)`` as the user types ``@typed``."""
        self.mentions = MentionCompleter(self, candidates)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        choosing = self.mentions is not None and self.mentions.showing()
        if choosing and event.key() in CHOOSING_KEYS:
            event.ignore()  # the completer's popup takes it
            return
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            text = self.toPlainText()
            if text.strip():
                self.submitted.emit(text)
            return
        super().keyPressEvent(event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        files = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.filesDropped.emit(files)
        else:
            super().dropEvent(event)
