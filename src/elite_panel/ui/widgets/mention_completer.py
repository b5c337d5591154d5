"""@-mention completion in a text box: typing ``@`` offers the projects, ``@NAME/`` the
files and folders of that project; Enter or Tab takes the one selected, Escape closes."""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtCore import QStringListModel, Qt
from PySide6.QtWidgets import QCompleter, QPlainTextEdit

TYPED = re.compile(r"(?<![\w@])@([\w./-]*)$")


class MentionCompleter(QCompleter):
    """Completes the ``@`` word before the cursor of ``box`` from ``candidates(typed)``
    (``typed``: what follows the ``@``; the candidates start with ``@``)."""

    def __init__(self, box: QPlainTextEdit, candidates: Callable[[str], list[str]]) -> None:
        super().__init__(box)
        self.box = box
        self.candidates = candidates
        self.setModel(QStringListModel(self))
        self.setWidget(box)
        self.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.setCaseSensitivity(Qt.CaseSensitivity.CaseSensitive)
        self.activated.connect(self.insert)
        box.textChanged.connect(self.update_popup)

    def showing(self) -> bool:
        popup = self.popup()
        return popup is not None and popup.isVisible()

    def typed(self) -> str | None:
        """The ``@`` word being typed before the cursor (without its ``@``), if any."""
        cursor = self.box.textCursor()
        before = self.box.toPlainText()[: cursor.position()]
        match = TYPED.search(before)
        return match.group(1) if match else None

    def update_popup(self) -> None:
        typed = self.typed()
        found = self.candidates(typed) if typed is not None else []
        popup = self.popup()
        assert popup is not None  # (a completer always has one)
        if not found:
            popup.hide()
            return
        model = self.model()
        assert isinstance(model, QStringListModel)
        model.setStringList(found)
        self.setCompletionPrefix("@" + (typed or ""))
        rect = self.box.cursorRect()
        rect.setWidth(max(280, popup.sizeHintForColumn(0) + 24))
        self.complete(rect)

    def insert(self, completion: str) -> None:
        """``completion`` in place of the ``@`` word typed (a space after a whole name)."""
        typed = self.typed()
        if typed is None:
            return
        cursor = self.box.textCursor()
        cursor.movePosition(cursor.MoveOperation.Left, cursor.MoveMode.KeepAnchor, len(typed) + 1)
        cursor.insertText(completion + ("" if completion.endswith("/") else " "))
        self.box.setTextCursor(cursor)
