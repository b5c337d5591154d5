"""The pieces the pages share: a row (or column) of action buttons (with the icon their
label calls for), compact icon buttons, and a read-only table of records with one row
selected at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
)

from elite_panel.ui.icons import icon

Action = tuple[str, str, Callable[[], object]]  # label, tooltip, slot
LABEL_ICONS = {  # the first word of an action's label → its icon
    "Set": "edit",
    "Copy": "copy",
    "Delete": "delete",
    "Refresh": "restart",
    "Verify": "check",
    "Restore": "import",
    "Import": "import",
    "Export": "export",
    "Unload": "stop",
    "New": "new",
    "Duplicate": "copy",
    "Rename": "edit",
    "Welcome": "welcome",
}


def tool_button(name: str, text: str, tooltip: str) -> QToolButton:
    """A compact button that shows only its icon; its text still names it (for screen
    readers and the command palette) and its tooltip says what it does."""
    button = QToolButton()
    button.setIcon(icon(name))
    button.setText(text)
    button.setToolTip(tooltip)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    button.setAutoRaise(True)
    return button


def add_buttons(layout: QBoxLayout, actions: Iterable[Action]) -> dict[str, QPushButton]:
    """A button per action, added to ``layout`` then a stretch; keyed by the label without
    its ellipsis ("Delete…" → "Delete")."""
    buttons = {}
    for label, tip, slot in actions:
        button = QPushButton(label)
        first = label.split()[0].rstrip("…")
        if first in LABEL_ICONS:
            button.setIcon(icon(LABEL_ICONS[first]))
        button.setToolTip(tip)
        button.clicked.connect(slot)
        layout.addWidget(button)
        buttons[label.rstrip("…")] = button
    layout.addStretch(1)
    return buttons


def record_table(columns: Sequence[str], stretch: int = 0) -> QTableWidget:
    """Rows of records: whole-row single selection, no editing, ``stretch`` takes the width."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    table.verticalHeader().hide()
    return table


def fill(table: QTableWidget, rows: Sequence[Sequence[str]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(text))
