"""The conversations of the Chat page's list, as a Qt item model."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from elite_panel.chat.grouping import date_group
from elite_panel.client.records import Conversation
from elite_panel.ui.widgets.group_headers import GROUP_ROLE

ID_ROLE = Qt.ItemDataRole.UserRole  # the conversation's id
RECORD_ROLE = Qt.ItemDataRole.UserRole + 1  # the whole record (a Conversation)

Index = QModelIndex | QPersistentModelIndex


class ConversationListModel(QAbstractListModel):
    """One row per conversation, newest first as the server lists them (pinned on top); the
    first row of each date group (Pinned, Today, Yesterday...) carries its name
    (``GROUP_ROLE``) for the header drawn above it. A conversation of another API key (an
    editor's, on a team server) shows that key's name."""

    def __init__(self, now: datetime | None = None) -> None:
        super().__init__()
        self._rows: list[Conversation] = []
        self._groups: list[str | None] = []
        self._now = now

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's default)
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        record = self._rows[index.row()]
        title, owner = record.title, record.owner
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{title} · {owner}" if owner else title
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{title}\nasked with the API key {owner!r}" if owner else title
        if role == ID_ROLE:
            return record.id
        if role == RECORD_ROLE:
            return record
        if role == GROUP_ROLE:
            return self._groups[index.row()]
        return None

    def set_conversations(self, records: Sequence[Conversation]) -> None:
        """The list as the server gave it (its order kept)."""
        self.beginResetModel()
        self._rows = list(records)
        now = self._now or datetime.now().astimezone()
        self._groups, previous = [], None
        for record in self._rows:
            group = date_group(record.updated_at, now, record.pinned)
            self._groups.append(group if group != previous else None)
            previous = group
        self.endResetModel()

    def remove(self, conversation_id: str) -> None:
        """Take a conversation out of the list (deleted, until the server lists again)."""
        kept = [r for r in self._rows if r.id != conversation_id]
        if len(kept) != len(self._rows):
            self.set_conversations(kept)

    def row_of(self, conversation_id: str) -> int:
        """The conversation's row, or -1."""
        return next((row for row, r in enumerate(self._rows) if r.id == conversation_id), -1)

    def record(self, row: int) -> Conversation:
        return self._rows[row]
