"""The pieces the list pages share: a row (or column) of action buttons, and a read-only
table of records with one row selected at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
)

Action = tuple[str, str, Callable[[], object]]  # label, tooltip, slot


def add_buttons(layout: QBoxLayout, actions: Iterable[Action]) -> dict[str, QPushButton]:
    """A button per action, added to ``layout`` then a stretch; keyed by the label without
    its ellipsis ("Delete…" → "Delete")."""
    buttons = {}
    for label, tip, slot in actions:
        button = QPushButton(label)
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
