"""The Chat page's left column: search, the conversations, and what to do with them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from elite_panel.client.records import Conversation
from elite_panel.ui.chat.conversation_model import ID_ROLE, RECORD_ROLE, ConversationListModel
from elite_panel.ui.icons import icon
from elite_panel.ui.widgets.actions import tool_button
from elite_panel.ui.widgets.group_headers import GroupHeaderDelegate

SEARCH_DEBOUNCE_MS = 250
UNDO_DELETE_MS = 6000


class ConversationList(QWidget):
    """Search (as you type, on the server), the conversations under date headers, and New,
    Rename, Pin, Delete (with a few seconds to undo it) and Export.

    Signals:
        searchChanged(str): the search text, once typing pauses.
        openRequested(str): a conversation was chosen (its id).
        newRequested(): New was pressed.
        renameRequested(str, str): a conversation's id and its new title.
        pinRequested(str, bool): a conversation's id and whether it is pinned now.
        deletePending(str): a conversation is out of the list, to be deleted unless undone.
        deleteCommitted(str): the undo window passed: delete it.
        undone(): the delete was undone (the list is to be read again).
        exportRequested(str, object): a conversation's id and the file (a Path) to write.
    """

    searchChanged = Signal(str)
    openRequested = Signal(str)
    newRequested = Signal()
    renameRequested = Signal(str, str)
    pinRequested = Signal(str, bool)
    deletePending = Signal(str)
    deleteCommitted = Signal(str)
    undone = Signal()
    exportRequested = Signal(str, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pending_delete: str | None = None
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search conversations (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(lambda: self.searchChanged.emit(self.search.text()))
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.model = ConversationListModel()
        self.conversations = QListView()
        self.conversations.setModel(self.model)
        self.conversations.setAccessibleName("Conversations")
        self.conversations.setItemDelegate(GroupHeaderDelegate(self.conversations))
        self.conversations.setTextElideMode(Qt.TextElideMode.ElideRight)  # the tooltip has it all
        self.conversations.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.conversations.setUniformItemSizes(False)
        self.conversations.activated.connect(self._on_activated)
        self.conversations.clicked.connect(self._on_activated)
        self.new_button = QPushButton(icon("new"), "New")
        self.new_button.setToolTip("New conversation (Ctrl+N)")
        self.rename_button = tool_button("edit", "Rename", "Rename the selected conversation")
        self.pin_button = tool_button("pin", "Pin", "Pin or unpin: pinned ones stay on top")
        self.delete_button = tool_button("delete", "Delete", "Delete (it can be undone)")
        self.export_button = tool_button("export", "Export…", "Export as Markdown or JSON")
        self.new_button.clicked.connect(self.newRequested.emit)
        self.rename_button.clicked.connect(self._on_rename)
        self.pin_button.clicked.connect(self._on_pin)
        self.delete_button.clicked.connect(self.delete_selected)
        self.export_button.clicked.connect(self._on_export)
        self.undo_bar = QWidget()
        self.undo_label = QLabel("Conversation deleted.")
        self.undo_button = QPushButton("Undo")
        self.undo_button.clicked.connect(self.undo_delete)
        undo_row = QHBoxLayout(self.undo_bar)
        undo_row.setContentsMargins(0, 0, 0, 0)
        undo_row.addWidget(self.undo_label)
        undo_row.addWidget(self.undo_button)
        self.undo_bar.hide()
        self._delete_timer = QTimer(self)
        self._delete_timer.setSingleShot(True)
        self._delete_timer.setInterval(UNDO_DELETE_MS)
        self._delete_timer.timeout.connect(self.commit_delete)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.conversations, 1)
        buttons = QHBoxLayout()  # one row of icons: the column stays narrow
        buttons.addWidget(self.new_button, 1)
        for button in (self.rename_button, self.pin_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addWidget(self.export_button)
        layout.addLayout(buttons)
        layout.addWidget(self.undo_bar)

    def set_conversations(
        self, conversations: Sequence[Conversation], current: str | None
    ) -> Conversation | None:
        """Show the server's list (less a conversation being deleted) with ``current``
        selected; returns its record, if listed."""
        shown = [c for c in conversations if c.id != self.pending_delete]
        self.model.set_conversations(shown)
        row = self.model.row_of(current) if current else -1
        if row < 0:
            return None
        self.conversations.selectionModel().select(
            self.model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        return self.model.record(row)

    def count(self) -> int:
        return self.model.rowCount()

    def selected_id(self) -> str | None:
        index = self.conversations.currentIndex()
        return str(index.data(ID_ROLE)) if index.isValid() else None

    def select_row(self, row: int) -> None:
        self.conversations.setCurrentIndex(self.model.index(row))

    def clear_selection(self) -> None:
        self.conversations.clearSelection()

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def delete_selected(self) -> None:
        """Take the selected conversation out of the list; it is deleted once the undo
        window passes (an earlier pending delete goes through now)."""
        conversation_id = self.selected_id()
        if not conversation_id:
            return
        self.commit_delete()
        self.pending_delete = conversation_id
        self.model.remove(conversation_id)
        self.deletePending.emit(conversation_id)
        self.undo_bar.show()
        self._delete_timer.start()

    def commit_delete(self) -> None:
        self._delete_timer.stop()
        if self.pending_delete:
            self.deleteCommitted.emit(self.pending_delete)
        self.pending_delete = None
        self.undo_bar.hide()

    def undo_delete(self) -> None:
        self._delete_timer.stop()
        self.pending_delete = None
        self.undo_bar.hide()
        self.undone.emit()

    def _on_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.openRequested.emit(str(index.data(ID_ROLE)))

    def _selected_record(self) -> Conversation | None:
        index = self.conversations.currentIndex()
        record = index.data(RECORD_ROLE) if index.isValid() else None
        return record if isinstance(record, Conversation) else None

    def _on_rename(self) -> None:
        record = self._selected_record()
        if record is None:
            return
        title, ok = QInputDialog.getText(self, "Rename conversation", "Title:", text=record.title)
        if ok and title.strip():
            self.renameRequested.emit(record.id, title.strip())

    def _on_pin(self) -> None:
        record = self._selected_record()
        if record is not None:
            self.pinRequested.emit(record.id, not record.pinned)

    def _on_export(self) -> None:
        conversation_id = self.selected_id()
        if not conversation_id:
            return
        path, _filter = QFileDialog.getSaveFileName(
            self, "Export conversation", "conversation.md", "Markdown (*.md);;JSON (*.json)"
        )
        if path:
            self.exportRequested.emit(conversation_id, Path(path))
