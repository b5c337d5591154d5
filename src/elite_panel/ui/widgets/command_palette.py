"""The command palette (Ctrl+K): every action of the window by name, with its shortcut.

Actions are found, not registered: going to each page, every button of every page built
so far (its text names it, its tooltip's "(Ctrl+N)" gives its shortcut), and the actions a
page carries (the entries of its menus, with their shortcuts). Choosing one shows its page
and presses the button (or triggers the action), as a click would.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

SHORTCUT_IN_TOOLTIP = re.compile(r"\(((?:Ctrl|Shift|Alt)\+[^)]+|Esc|Space)\)")


@dataclass(frozen=True)
class Command:
    """One action the palette offers."""

    name: str
    shortcut: str
    run: Callable[[], None]

    def label(self) -> str:
        return f"{self.name}    {self.shortcut}" if self.shortcut else self.name


def page_commands(title: str, page: QWidget, show: Callable[[], None]) -> list[Command]:
    """A page's buttons as commands (enabled ones only: what a click could do now)."""
    commands = []
    for button in page.findChildren(QAbstractButton):
        text = button.text().replace("&", "").rstrip("…").strip()
        if not text or not button.isEnabled() or not button.isVisibleTo(page):
            continue
        match = SHORTCUT_IN_TOOLTIP.search(button.toolTip())

        def run(button: QAbstractButton = button) -> None:
            show()
            button.click()

        commands.append(Command(f"{title}: {text}", match.group(1) if match else "", run))
    for action in page.actions():
        text = action.text().replace("&", "").rstrip("…").strip()
        if text and action.isEnabled():

            def trigger(action: QAction = action) -> None:
                show()
                action.trigger()

            shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            commands.append(Command(f"{title}: {text}", shortcut, trigger))
    return commands


class CommandPalette(QDialog):
    """A filter box over the commands; Enter runs the first match (or the selected one)."""

    def __init__(self, commands: list[Command], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Commands")
        self.setMinimumWidth(480)
        self.commands = commands
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Type to find an action")
        self.filter.setAccessibleName("Find an action")
        self.filter.textChanged.connect(self._refill)
        self.filter.returnPressed.connect(self.run_selected)
        self.list = QListWidget()
        self.list.setAccessibleName("Actions")
        self.list.itemActivated.connect(lambda _item: self.run_selected())
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.list)
        self._refill("")

    def matches(self, text: str) -> list[Command]:
        words = text.lower().split()
        return [c for c in self.commands if all(w in c.name.lower() for w in words)]

    def run_selected(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        command: Command = item.data(Qt.ItemDataRole.UserRole)
        self.accept()
        command.run()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):  # move in the list from the box
            row = self.list.currentRow() + (1 if event.key() == Qt.Key.Key_Down else -1)
            self.list.setCurrentRow(max(0, min(row, self.list.count() - 1)))
            return
        super().keyPressEvent(event)

    def _refill(self, text: str) -> None:
        self.list.clear()
        for command in self.matches(text):
            item = QListWidgetItem(command.label())
            item.setData(Qt.ItemDataRole.UserRole, command)
            self.list.addItem(item)
        self.list.setCurrentRow(0)
